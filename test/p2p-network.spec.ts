/**
 * End to end on loopback: a DHT network of 12 nodes (a bootstrap node and 6 plain DHT nodes in this process, 3
 * seeder processes holding a real NAR made by `nix-store --dump`, the `narthex fetch` CLI process, and a fresh
 * in-process downloader). The NAR is found through the DHT and downloaded bit-exact, and still completes when a
 * seeder process is killed mid-transfer.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { narCidFromNarHash } from '@narthex/content'
import { chunkSinkFromStore, createNode, NarDownload, type NarthexNode } from '@narthex/p2p'
import { createStore } from '@narthex/store'
import { narthex, REPO_ROOT, runOk, tempDir, waitFor } from './util/index.js'

interface SeederInfo {
  peerId: string
  multiaddrs: string[]
  nars: Array<{ narHash: string; root: string }>
  announced: number
  failed: number
}

function xorshiftFile(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size)
  let x = seed
  for (let i = 0; i + 4 <= size; i += 4) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out.writeUInt32BE(x >>> 0, i)
  }
  return out
}

function startSeeder(
  dir: string,
  bootstrap: string,
  nar: string
): Promise<{ child: ChildProcess; info: SeederInfo }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--conditions', 'source', 'test/fixtures/seeder-process.ts', dir, bootstrap, nar],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] }
    )
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const nl = out.indexOf('\n')
      if (nl >= 0) resolve({ child, info: JSON.parse(out.slice(0, nl)) as SeederInfo })
    })
    child.on('exit', (code, signal) =>
      reject(new Error(`seeder exited ${code ?? signal} before it was ready`))
    )
  })
}

describe('p2p network on loopback (12 nodes, real processes)', function () {
  this.timeout(120_000)
  let dir: { path: string; cleanup: () => Promise<void> }
  const nodes: NarthexNode[] = []
  const seeders: Array<{ child: ChildProcess; info: SeederInfo }> = []
  let boot: NarthexNode
  let narFile: string
  let narBytes: Buffer

  before(async () => {
    dir = await tempDir('narthex-p2p-e2e-')
    // A real NAR: nix-store --dump of a directory with a 24 MiB file and a small one.
    const tree = join(dir.path, 'tree')
    await mkdir(tree)
    await writeFile(join(tree, 'big'), xorshiftFile(24 * 1024 * 1024, 12345))
    await writeFile(join(tree, 'small'), 'hello\n')
    narBytes = (await runOk('nix-store', ['--dump', tree])).stdout
    narFile = join(dir.path, 'x.nar')
    await writeFile(narFile, narBytes)

    const local = { listen: ['/ip4/127.0.0.1/tcp/0'], allowPrivateAddresses: true, allow: ['/ip4/127.0.0.1'] }
    boot = await createNode({ ...local, dhtServer: true })
    nodes.push(boot)
    const bootAddr = boot.getMultiaddrs()[0]!.toString()
    for (let i = 0; i < 6; i++)
      nodes.push(await createNode({ ...local, dhtServer: true, bootstrap: [bootAddr] }))
    seeders.push(
      ...(await Promise.all(
        [0, 1, 2].map((i) => startSeeder(join(dir.path, `seeder-${i}`), bootAddr, narFile))
      ))
    )
    for (const s of seeders) {
      assert.equal(s.info.failed, 0)
      assert.equal(s.info.announced, 1)
    }
  })

  after(async () => {
    for (const s of seeders) s.child.kill('SIGKILL')
    await Promise.all(nodes.map((n) => n.stop()))
    await dir?.cleanup()
  })

  it('narthex fetch finds the NAR through the DHT and writes it bit-exact', async () => {
    const { narHash, root } = seeders[0]!.info.nars[0]!
    const r = await narthex(
      [
        'fetch',
        '--bootstrap',
        boot.getMultiaddrs()[0]!.toString(),
        '--allow-private',
        '--manifest-root',
        root,
        '--timeout',
        '60',
        narHash
      ],
      { timeoutMs: 90_000 }
    )
    assert.equal(r.code, 0, r.stderr)
    assert.ok(r.stdout.equals(narBytes), 'bit-exact')
    assert.match(r.stderr, /done, 24\.0 of 24\.0 MiB/)
  })

  it('completes from the other seeders when one is killed mid-transfer, and resumes into the store', async () => {
    const { narHash, root } = seeders[0]!.info.nars[0]!
    const client = await createNode({
      allowPrivateAddresses: true,
      allow: ['/ip4/127.0.0.1'],
      bootstrap: [boot.getMultiaddrs()[0]!.toString()]
    })
    nodes.push(client)
    await waitFor('connected to the bootstrap node', () => client.getConnections().length > 0)
    const store = createStore({ dir: join(dir.path, 'client-store'), fsync: false })
    await store.start()
    try {
      const victim = seeders[1]!
      let killed = false
      const download = new NarDownload({ node: client, sink: chunkSinkFromStore(store) }, narHash, {
        manifestRoot: root,
        // Small batches and a short window keep every seeder busy until the end, so the kill lands mid-transfer.
        requestBatchBytes: 256 * 1024,
        peerWindowBytes: 1024 * 1024,
        stallTimeoutMs: 3000,
        onProgress: (p) => {
          if (!killed && p.bytes > p.narSize / 4) {
            killed = true
            victim.child.kill('SIGKILL')
          }
        }
      })
      const parts: Uint8Array[] = []
      for await (const b of download.bytes()) parts.push(b)
      assert.ok(killed, 'a seeder was killed during the download')
      assert.ok(Buffer.concat(parts).equals(narBytes), 'bit-exact')
      assert.equal(download.stats.peersUsed, 3, 'all three seeders were found')
      assert.ok(download.stats.resets + download.stats.stalls >= 1, 'the killed seeder was dropped')
      assert.deepEqual(download.stats.banned, [], 'no honest seeder was banned')
      assert.ok(await store.hasNar(narCidFromNarHash(narHash)), 'committed to the store')
      // Everything is local now: a second download fetches nothing.
      const again = new NarDownload({ node: client, sink: chunkSinkFromStore(store) }, narHash, {
        manifestRoot: root
      })
      let n = 0
      for await (const b of again.bytes()) n += b.byteLength
      assert.equal(n, narBytes.byteLength)
      assert.equal(again.stats.chunksFetched, 0)
    } finally {
      await store.stop()
    }
  })

  it('the seeder processes kept their identity on disk', async () => {
    const key = await readFile(join(dir.path, 'seeder-0', 'node', 'peer.key'))
    assert.ok(key.byteLength > 32)
  })
})
