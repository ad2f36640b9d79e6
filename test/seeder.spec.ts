/**
 * The seeder end to end, as people run it: `narthex seeder` processes on loopback with a bootstrap node, imports
 * handed over with `narthex seed add` (a real Nix store path and a file:// binary cache made by `nix copy`),
 * downloads by `narthex fetch` compared bit-exact with `nix-store --dump`, bit rot in one seeder's chunk files
 * (refused, quarantined, withdrawn, repaired; the download completes from the other seeder), and a restart that
 * keeps the peer id, the store and the announcements.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { open, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { ingestNar } from '@narthex/content'
import { formatSha256 } from '@narthex/nix'
import { createNode, NAR_PROTOCOL, type NarthexNode } from '@narthex/p2p'
import { requestStatus } from '@narthex/seeder'
import { NARTHEX_BIN, narthex, nixBuild, nixEnv, runOk, tempDir, waitFor } from './util/index.js'

interface SeederProcess {
  readonly child: ChildProcess
  readonly addrs: string[]
  readonly peerId: string
  stderr(): string
  exited: Promise<number | null>
}

const LOOPBACK = { allowPrivateAddresses: true, allow: ['/ip4/127.0.0.1'] }

/** Start `narthex seeder` and wait for its "listening" lines. */
function startSeeder(args: readonly string[]): Promise<SeederProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [NARTHEX_BIN, 'seeder', ...args], {
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let out = ''
    let err = ''
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d
    })
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d
      const addrs = [...out.matchAll(/^narthex seeder listening (\S+)$/gm)].map((m) => m[1]!)
      if (addrs.length > 0 && out.endsWith('\n')) {
        const peerId = addrs[0]!.slice(addrs[0]!.lastIndexOf('/p2p/') + 5)
        resolve({ child, addrs, peerId, stderr: () => err, exited })
      }
    })
    child.on('exit', (code) => reject(new Error(`seeder exited ${code} before it was ready: ${err}`)))
  })
}

async function status(dir: string): Promise<StatusView> {
  return (await requestStatus(dir)) as StatusView
}

interface StatusView {
  peerId: string
  nars: { stored: number; published: number }
  announcements: { announced: number; withdrawn: number }
  corrupt: { chunks: number }
  repairs: { repaired: number }
}

describe('narthex seeder (real processes on loopback)', function () {
  this.timeout(180_000)
  let dir: { path: string; cleanup: () => Promise<void> }
  let boot: NarthexNode
  let bootAddr: string
  const procs: SeederProcess[] = []
  const nodes: NarthexNode[] = []
  let env: NodeJS.ProcessEnv
  let pathA: string
  let narA: Buffer
  let pathB: string
  let narB: Buffer
  let pathBig: string

  const narHashOf = (nar: Buffer) => formatSha256(createHash('sha256').update(nar).digest())
  const seederArgs = (data: string) => [
    '--data',
    data,
    '--listen',
    '/ip4/127.0.0.1/tcp/0',
    '--bootstrap',
    bootAddr,
    '--allow-private',
    '--serve-unverified'
  ]

  before(async () => {
    dir = await tempDir('narthex-seeder-e2e-')
    env = nixEnv(join(dir.path, 'xdg'))
    // Two real outputs: ~1 MiB of noise (about 16 chunks) and a small text file.
    const [a, b, big] = await nixBuild(
      dir.path,
      `let mk = name: cmd: derivation { inherit name; builder = "/bin/sh"; args = ["-c" cmd];
         PATH = "/usr/bin:/bin"; system = builtins.currentSystem; stamp = "${Date.now()}"; };
       in [ (mk "seeder-noise" "head -c 1100000 /dev/urandom > $out") (mk "seeder-text" "echo hello seeder > $out")
            (mk "seeder-big" "head -c 40000000 /dev/urandom > $out") ]`,
      env
    )
    pathBig = big!
    pathA = a!
    pathB = b!
    narA = (await runOk('nix-store', ['--dump', pathA])).stdout
    narB = (await runOk('nix-store', ['--dump', pathB])).stdout
    await runOk('nix', ['copy', '--to', `file://${join(dir.path, 'cache')}`, pathB], { env })
    boot = await createNode({ ...LOOPBACK, listen: ['/ip4/127.0.0.1/tcp/0'], dhtServer: true })
    nodes.push(boot)
    bootAddr = boot.getMultiaddrs()[0]!.toString()
  })

  after(async () => {
    for (const p of procs) p.child.kill('SIGKILL')
    await Promise.all(nodes.map((n) => n.stop()))
    await dir?.cleanup()
  })

  const fetchNar = (narHash: string) =>
    narthex(['fetch', '--bootstrap', bootAddr, '--allow-private', '--timeout', '60', narHash], {
      timeoutMs: 90_000
    })

  it('serves a Nix store path and a file:// cache handed over by seed add; narthex fetch gets them bit-exact', async () => {
    const a = await startSeeder(seederArgs(join(dir.path, 'a')))
    procs.push(a)
    assert.match(a.addrs[0]!, /^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3KooW/)
    const add = await narthex(['seed', 'add', '--data', join(dir.path, 'a'), pathA], { env })
    assert.equal(add.code, 0, add.stderr)
    assert.match(add.stderr, /imported \/nix\/store\/\S+-seeder-noise/)
    const addCache = await narthex([
      'seed',
      'add',
      '--data',
      join(dir.path, 'a'),
      `file://${join(dir.path, 'cache')}`
    ])
    assert.equal(addCache.code, 0, addCache.stderr)
    await waitFor(
      'both NARs announced',
      async () => (await status(join(dir.path, 'a'))).announcements.announced >= 2,
      30_000
    )
    const st = await status(join(dir.path, 'a'))
    assert.equal(st.nars.stored, 2)
    assert.equal(st.nars.published, 2)
    const text = await narthex(['seeder', 'status', '--data', join(dir.path, 'a')])
    assert.equal(text.code, 0, text.stderr)
    assert.match(text.stdout.toString('utf8'), /^NARs\s+2 stored, 2 published$/m)
    assert.match(text.stdout.toString('utf8'), new RegExp(`^peer id\\s+${a.peerId}$`, 'm'))
    for (const nar of [narA, narB]) {
      const r = await fetchNar(narHashOf(nar))
      assert.equal(r.code, 0, r.stderr)
      assert.ok(r.stdout.equals(nar), 'bit-exact')
    }
    // A bad source is a usage error with nothing imported; no seeder on a directory is a clear failure.
    const bad = await narthex(['seed', 'add', '--data', join(dir.path, 'a'), 'ftp://x'])
    assert.equal(bad.code, 2)
    const none = await narthex(['seed', 'add', '--data', join(dir.path, 'nobody'), pathA])
    assert.equal(none.code, 1)
    assert.match(none.stderr, /no seeder is running/)
  })

  it('bit rot: refuses the corrupt chunks, quarantines, withdraws and repairs; the download completes from another seeder', async () => {
    const b = await startSeeder(seederArgs(join(dir.path, 'b')))
    procs.push(b)
    const add = await narthex(['seed', 'add', '--data', join(dir.path, 'b'), pathA], { env })
    assert.equal(add.code, 0, add.stderr)
    await waitFor(
      'B announced',
      async () => (await status(join(dir.path, 'b'))).announcements.announced >= 1,
      30_000
    )

    // Flip one byte in every chunk file of this NAR in seeder A.
    const { manifest } = await ingestNar(
      (async function* () {
        yield narA
      })()
    )
    const wanted = new Set(manifest.chunks.map((c) => c.cid.toString()))
    const chunksDir = join(dir.path, 'a', 'chunks')
    let flipped = 0
    for (const shard of await readdir(chunksDir)) {
      for (const name of await readdir(join(chunksDir, shard))) {
        if (!wanted.has(name)) continue
        const fh = await open(join(chunksDir, shard, name), 'r+')
        const buf = Buffer.alloc(1)
        await fh.read(buf, 0, 1, 100)
        buf[0] = buf[0]! ^ 0x01
        await fh.write(buf, 0, 1, 100)
        await fh.close()
        flipped++
      }
    }
    assert.equal(flipped, wanted.size)
    assert.ok(flipped >= 10, `flipped ${flipped}`)

    // Asked for every chunk, A answers NOT_FOUND for each: not one corrupt byte leaves it.
    const client = await createNode(LOOPBACK)
    nodes.push(client)
    const a = procs[0]!
    const stream = await client.dialProtocol(multiaddr(a.addrs[0]!), NAR_PROTOCOL)
    const cids = manifest.chunks.map((c) => c.cid)
    const body = Buffer.concat([
      Buffer.from([0x03, cids.length >> 8, cids.length & 0xff]),
      ...cids.map((c) => c.bytes)
    ])
    const header = Buffer.alloc(4)
    header.writeUInt32BE(body.length)
    stream.send(Buffer.concat([header, body]))
    const replies: number[] = []
    for await (const chunk of stream) {
      replies.push(...(chunk instanceof Uint8Array ? chunk : chunk.subarray()))
      if (replies.length >= cids.length * 5) break
    }
    await stream.close()
    assert.deepEqual(Buffer.from(replies), Buffer.concat(cids.map(() => Buffer.from([0, 0, 0, 1, 0x84]))))

    const st = await status(join(dir.path, 'a'))
    assert.ok(st.corrupt.chunks >= 1, 'reported')
    assert.ok(st.announcements.withdrawn >= 1, 'withdrawn')
    assert.match(a.stderr(), /CORRUPT chunk \S+ \(corrupt\) quarantined/)
    assert.ok((await readdir(join(dir.path, 'a', 'quarantine'))).length >= 1)

    // A fresh node still downloads it, bit-exact (from B).
    const r = await fetchNar(narHashOf(narA))
    assert.equal(r.code, 0, r.stderr)
    assert.ok(r.stdout.equals(narA), 'bit-exact')

    // A re-fetches what it lost from B and publishes the NAR again.
    await waitFor(
      'A repaired',
      async () => {
        const s = await status(join(dir.path, 'a'))
        return s.repairs.repaired >= 1 && s.nars.published === 2
      },
      60_000
    )
  })

  it('restarts with its identity, store and announcements; stops cleanly on SIGTERM', async () => {
    const a = procs[0]!
    a.child.kill('SIGTERM')
    assert.equal(await a.exited, 0)
    assert.match(a.stderr(), /SIGTERM: stopping/)
    assert.match(a.stderr(), /stopped/)
    assert.equal(existsSync(join(dir.path, 'a', 'seeder.sock')), false)
    procs.shift()
    // B goes away too: whatever is fetched now comes from the restarted A.
    const b = procs[0]!
    b.child.kill('SIGINT')
    assert.equal(await b.exited, 0)
    procs.shift()

    const again = await startSeeder(seederArgs(join(dir.path, 'a')))
    procs.push(again)
    assert.equal(again.peerId, a.peerId)
    await waitFor(
      're-announced',
      async () => (await status(join(dir.path, 'a'))).announcements.announced >= 2,
      30_000
    )
    const st = await status(join(dir.path, 'a'))
    assert.equal(st.nars.published, 2)
    const r = await fetchNar(narHashOf(narB))
    assert.equal(r.code, 0, r.stderr)
    assert.ok(r.stdout.equals(narB))
  })

  it('kill -9 mid-import: the restart replaces the stale socket and publishes only complete NARs', async () => {
    const data = join(dir.path, 'k')
    const k = await startSeeder(seederArgs(data))
    procs.push(k)
    const adding = narthex(['seed', 'add', '--data', data, pathBig], { env })
    await waitFor(
      'import under way',
      async () => {
        const shards = await readdir(join(data, 'chunks')).catch(() => [] as string[])
        let n = 0
        for (const s of shards) n += (await readdir(join(data, 'chunks', s))).length
        return n >= 20
      },
      30_000
    )
    k.child.kill('SIGKILL')
    await k.exited
    procs.splice(procs.indexOf(k), 1)
    assert.notEqual((await adding).code, 0, 'the import was cut')
    assert.equal(existsSync(join(data, 'seeder.sock')), true, 'a stale socket is left behind')

    const again = await startSeeder(seederArgs(data))
    procs.push(again)
    assert.equal(again.peerId, k.peerId)
    const st = await status(data)
    assert.equal(st.nars.stored, 0, 'nothing half-imported is indexed')
    const add = await narthex(['seed', 'add', '--data', data, pathBig], { env })
    assert.equal(add.code, 0, add.stderr)
    const after = await status(data)
    assert.equal(after.nars.stored, 1)
    assert.equal(after.nars.published, 1)
  })

  it('rejects a config file with an unknown key, and starts without a policy only when told to', async () => {
    const cfg = join(dir.path, 'bad.json')
    await writeFile(cfg, JSON.stringify({ data: join(dir.path, 'c'), uploadRat: '1M' }))
    const r = await narthex(['seeder', '--config', cfg])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /unknown key "uploadRat"/)
    const nopolicy = await narthex([
      'seeder',
      '--data',
      join(dir.path, 'c'),
      '--listen',
      '/ip4/127.0.0.1/tcp/0'
    ])
    assert.equal(nopolicy.code, 2)
    assert.match(nopolicy.stderr, /--serve-unverified/)
  })
})
