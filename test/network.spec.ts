/**
 * The whole network on loopback with the real nix (issue 6): an orchestrator (quorum 2, two trusted builder keys),
 * two builders (`narthex build`, then `narthex attest` by the second key on the same outputs), three seeders
 * (`narthex seeder --orchestrator URL`, fed by `narthex seed add`) and shims (`narthex shim`), all real processes.
 * Nix substitutes real, input-addressed derivation outputs through a shim into fresh chroot stores with fresh
 * XDG_CACHE_HOMEs, signatures required and only the orchestrator's key trusted. The network starts once in
 * before(); the cases run against it in order (the later ones kill seeders).
 *
 * Two shims: the main one has no upstream (what it serves came from peers; the seeders' upload counters show it),
 * the other has `--upstream` a file:// cache made by `nix copy` served over HTTP. Bit rot: bytes flipped in one
 * seeder's chunk files on disk; that seeder re-hashes every chunk before serving, so it refuses them (reported,
 * its served-chunk counter unchanged) and the shim takes them from the other seeder. The shim's own check of each
 * chunk against the agreed manifest root is the second line and is not what this case exercises.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { open, readdir, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { ingestNar } from '@narthex/content'
import { createNode, NAR_PROTOCOL, PeerSession } from '@narthex/p2p'
import { requestStatus } from '@narthex/seeder'
import { type CacheServer, startCacheServer } from './util/cache-server.js'
import { narthex, nixEnv, run, runOk, substituteArgs, tempDir, waitFor } from './util/index.js'
import { type Program, startProgram } from './util/network.js'

interface SeederStatusView {
  nars: { stored: number; published: number }
  announcements: { announced: number }
  upload: { bytesServed: number; chunksServed: number }
  corrupt: { chunks: number }
}

const DEPS = 15

describe('the network on loopback with the real nix', function () {
  this.timeout(240_000)
  let dir: { path: string; cleanup: () => Promise<void> }
  const programs: Program[] = []
  let cache: CacheServer | undefined
  let orchUrl = ''
  let bootstrap = ''
  const keys: Record<string, { sec: string; pub: string }> = {}
  const seeders: { data: string; program: Program; addr: string }[] = []
  let shimUrl = ''
  let fallbackShimUrl = ''
  /** Output paths by name. */
  const out: Record<string, string> = {}
  let n = 0
  const fresh = (what: string) => join(dir.path, `${what}-${n++}`)
  const env = () => nixEnv(fresh('xdg'))
  const status = async (i: number) => (await requestStatus(seeders[i]!.data)) as unknown as SeederStatusView

  async function key(name: string): Promise<{ sec: string; pub: string }> {
    const sec = join(dir.path, `${name}.sec`)
    const r = await narthex(['keygen', name, '--out', sec])
    assert.equal(r.code, 0, r.stderr)
    return { sec, pub: r.stdout.toString().trim() }
  }

  async function seedAdd(i: number, paths: string[], closure = false): Promise<void> {
    const r = await narthex([
      'seed',
      'add',
      '--data',
      seeders[i]!.data,
      ...(closure ? ['--closure'] : []),
      ...paths
    ])
    assert.equal(r.code, 0, r.stderr)
  }

  /** `nix-store -r` through `substituter` into a fresh chroot store; then `--check-validity`. */
  async function substitute(path: string, substituter: string, trusted = keys['net-orchestrator-1']!.pub) {
    const store = join(fresh('chroot'), 'dst')
    const e = env()
    const r = await run(
      'nix-store',
      [...substituteArgs(store, path, substituter, trusted), '--option', 'require-sigs', 'true'],
      { env: e, timeoutMs: 90_000 }
    )
    const valid =
      (await run('nix-store', ['--store', store, '--check-validity', path], { env: e })).code === 0
    return { code: r.code, valid, stderr: r.stderr, store }
  }

  const narOf = async (path: string) => (await runOk('nix-store', ['--dump', path])).stdout
  const narHashOf = (nar: Buffer) => `sha256:${createHash('sha256').update(nar).digest('hex')}`

  before(async () => {
    dir = await tempDir('narthex-network-')
    for (const name of ['net-orchestrator-1', 'net-builder-1', 'net-builder-2', 'net-other-1'])
      keys[name] = await key(name)

    const orch = await startProgram(
      [
        'orchestrator',
        '--data',
        join(dir.path, 'orch'),
        '--listen',
        '127.0.0.1:0',
        '--key',
        keys['net-orchestrator-1']!.sec,
        '--quorum',
        '2',
        '--trust',
        keys['net-builder-1']!.pub,
        '--trust',
        keys['net-builder-2']!.pub,
        '--p2p-listen',
        '/ip4/127.0.0.1/tcp/0'
      ],
      /listening on (\S+)\n[\s\S]*bootstrap (\S+)\n|bootstrap (\S+)\n[\s\S]*listening on (\S+)\n/
    )
    programs.push(orch.program)
    orchUrl = orch.match[1] ?? orch.match[4]!
    bootstrap = orch.match[2] ?? orch.match[3]!

    // Real derivations, input-addressed, offline. `top` depends on DEPS small ones (a closure of DEPS + 1 paths);
    // `single` is ~1.2 MB (several chunks); `rot` ~8 MB for the bit-rot case, sharing no chunk with `single` (the
    // shim would reuse those it holds); `fallback` lives only on one seeder and the upstream; `orphan` is agreed
    // but stored nowhere.
    const salt = `${Date.now()}-${Math.random()}`
    const drv = (name: string, script: string, extra = '') =>
      `derivation { name = "${name}"; builder = "/bin/sh"; args = [ "-c" ${JSON.stringify(script)} ];` +
      ` PATH = "/usr/bin:/bin"; system = builtins.currentSystem; salt = "${salt}"; ${extra} }`
    const deps = Array.from({ length: DEPS }, (_, i) => `(${drv(`net-dep-${i}`, `echo dep ${i} > $out`)})`)
    const file = join(dir.path, 'net.nix')
    await writeFile(
      file,
      `let deps = [ ${deps.join(' ')} ]; in [
        (${drv('net-single', 'mkdir $out; seq 1 200000 > $out/seq; echo single > $out/name')})
        (${drv('net-top', 'mkdir $out; for d in $deps; do echo $d >> $out/deps; done', 'inherit deps;')})
        (${drv('net-rot', 'seq 1000001 2000000 > $out')})
        (${drv('net-fallback', 'seq 1 30000 > $out')})
        (${drv('net-orphan', 'echo orphan > $out')})
      ] ++ deps`
    )
    const built = await narthex(
      ['build', '--orchestrator', orchUrl, '--key', keys['net-builder-1']!.sec, file],
      {
        env: env(),
        timeoutMs: 120_000
      }
    )
    assert.equal(built.code, 0, built.stderr)
    const paths = (await runOk('nix-build', ['--no-out-link', file], { env: env() })).stdout
      .toString()
      .trim()
      .split('\n')
    assert.equal(paths.length, 5 + DEPS)
    for (const p of paths) out[basename(p).slice(33)] = p
    const attested = await narthex(
      ['attest', '--orchestrator', orchUrl, '--key', keys['net-builder-2']!.sec, ...paths],
      { env: env(), timeoutMs: 120_000 }
    )
    assert.equal(attested.code, 0, attested.stderr)
    for (const p of paths) {
      const r = await fetch(`${orchUrl}/${basename(p).slice(0, 32)}.narinfo`)
      assert.equal(r.status, 200, `${p} is agreed`)
    }

    for (let i = 0; i < 3; i++) {
      const data = join(dir.path, `seeder-${i}`)
      const s = await startProgram(
        [
          'seeder',
          '--data',
          data,
          '--listen',
          '/ip4/127.0.0.1/tcp/0',
          '--bootstrap',
          bootstrap,
          '--allow-private',
          '--orchestrator',
          orchUrl
        ],
        /^narthex seeder listening (\S+)\n/m
      )
      programs.push(s.program)
      seeders.push({ data, program: s.program, addr: s.match[1]! })
    }
    // Seeders 0 and 1 hold the main paths and the rot path; seeder 2 the main paths and the fallback path.
    await seedAdd(0, [out['net-single']!, out['net-top']!, out['net-rot']!], true)
    await seedAdd(1, [out['net-single']!, out['net-top']!, out['net-rot']!], true)
    await seedAdd(2, [out['net-single']!, out['net-top']!, out['net-fallback']!], true)
    const expected = [DEPS + 3, DEPS + 3, DEPS + 3]
    await waitFor(
      'every seeder to publish and announce its NARs',
      async () => {
        for (let i = 0; i < 3; i++) {
          const s = await status(i)
          if (s.nars.published < expected[i]! || s.announcements.announced < expected[i]!) return false
        }
        return true
      },
      60_000
    )

    // The upstream: a file cache of the fallback path only, made by nix copy.
    const up = join(dir.path, 'upstream')
    await runOk('nix', ['copy', '--to', `file://${up}?compression=none`, out['net-fallback']!], {
      env: env()
    })
    cache = await startCacheServer({ dir: up })

    const shimArgs = (name: string) => [
      'shim',
      '--data',
      join(dir.path, name),
      '--listen',
      '127.0.0.1:0',
      '--orchestrator',
      orchUrl,
      '--bootstrap',
      bootstrap,
      '--allow-private',
      '--no-seed'
    ]
    // The main shim has no upstream at all: whatever it serves came from peers.
    const shim = await startProgram(shimArgs('shim'), /listening on (http:\/\/\S+)\n/)
    programs.push(shim.program)
    shimUrl = shim.match[1]!
    const shim2 = await startProgram(
      [...shimArgs('shim-up'), '--upstream', cache.url],
      /listening on (http:\/\/\S+)\n/
    )
    programs.push(shim2.program)
    fallbackShimUrl = shim2.match[1]!
  })

  after(async () => {
    await Promise.all(programs.map((p) => p.stop()))
    await cache?.close()
    await dir?.cleanup()
  })

  const served = async () => {
    let bytes = 0
    for (let i = 0; i < seeders.length; i++) {
      if (seeders[i]!.program.child.exitCode !== null || seeders[i]!.program.child.signalCode !== null)
        continue
      bytes += (await status(i)).upload.bytesServed
    }
    return bytes
  }

  it('substitutes an agreed output from the seeders through the shim, signatures required', async () => {
    const before = await served()
    const path = out['net-single']!
    const r = await substitute(path, shimUrl)
    assert.equal(r.code, 0, r.stderr)
    assert.ok(r.valid, 'nix-store --check-validity')
    // The same bytes as the builder's store, and they came from peers: this shim has no upstream, and the
    // seeders' upload counters grew by at least the NAR's size.
    const nar = await narOf(path)
    const got = await runOk('nix-store', ['--store', r.store, '--dump', path])
    assert.ok(got.stdout.equals(nar), 'bit-exact')
    assert.ok((await served()) - before >= nar.length, 'served by the seeders')
  })

  it(`substitutes a closure of ${DEPS + 1} paths completely`, async () => {
    const path = out['net-top']!
    const r = await substitute(path, shimUrl)
    assert.equal(r.code, 0, r.stderr)
    const closure = (await runOk('nix-store', ['-qR', path])).stdout.toString().trim().split('\n')
    assert.equal(closure.length, DEPS + 1)
    const check = await run('nix-store', ['--store', r.store, '--check-validity', ...closure], { env: env() })
    assert.equal(check.code, 0, check.stderr)
    const got = (await runOk('nix-store', ['--store', r.store, '-qR', path], { env: env() })).stdout
      .toString()
      .trim()
      .split('\n')
    assert.deepEqual(got.sort(), closure.sort())
  })

  it('refuses the output when another key is trusted', async () => {
    const r = await substitute(out['net-single']!, shimUrl, keys['net-other-1']!.pub)
    assert.notEqual(r.code, 0)
    assert.ok(!r.valid)
  })

  it('answers 404 for an agreed path no one stores and for an unknown path; nix fails as without the shim', async () => {
    const orphan = out['net-orphan']!
    const hp = basename(orphan).slice(0, 32)
    assert.equal((await fetch(`${orchUrl}/${hp}.narinfo`)).status, 200, 'agreed')
    assert.equal((await fetch(`${shimUrl}/${hp}.narinfo`)).status, 404)
    const r = await substitute(orphan, shimUrl)
    assert.notEqual(r.code, 0)
    assert.ok(!r.valid)
    // As without the shim: the same outcome as with a cache that has nothing.
    const empty = await startCacheServer()
    try {
      const without = await substitute(orphan, empty.url)
      assert.equal(r.code, without.code)
      assert.ok(empty.count('/') >= 1, 'nix asked the empty cache')
    } finally {
      await empty.close()
    }
    const unknown = `/nix/store/${'0'.repeat(31)}1-net-unknown`
    assert.equal((await fetch(`${shimUrl}/${'0'.repeat(31)}1.narinfo`)).status, 404)
    const u = await substitute(unknown, fallbackShimUrl)
    assert.notEqual(u.code, 0)
    assert.ok(!u.valid)
  })

  it('bypasses a seeder whose chunks rotted on disk: it re-hashes and refuses them; nix gets the right bytes', async () => {
    // Flip one byte in every chunk file of the rot NAR in seeder 0; seeder 1 holds it intact. The seeder
    // re-hashes each chunk before serving it, so seeder 0 refuses (and reports) what it would otherwise send.
    const path = out['net-rot']!
    const nar = await narOf(path)
    const { manifest } = await ingestNar(
      (async function* () {
        yield nar
      })()
    )
    const wanted = new Set(manifest.chunks.map((c) => c.cid.toString()))
    const chunksDir = join(seeders[0]!.data, 'chunks')
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
    const before0 = await status(0)
    const before1 = await status(1)
    const r = await substitute(path, shimUrl)
    assert.equal(r.code, 0, r.stderr)
    assert.ok(r.valid)
    const got = await runOk('nix-store', ['--store', r.store, '--dump', path])
    assert.equal(narHashOf(got.stdout), narHashOf(nar))
    assert.ok(got.stdout.equals(nar), 'bit-exact')
    // No rotten chunk left seeder 0 (its chunk counter did not move); every byte came from seeder 1.
    assert.equal(
      (await status(0)).upload.chunksServed,
      before0.upload.chunksServed,
      'no rotten chunk left seeder 0'
    )
    assert.ok((await status(1)).upload.bytesServed - before1.upload.bytesServed >= nar.length)
    // The shim asks whichever holders answer first, so it may never have asked seeder 0. If it did not, ask seeder
    // 0 for every chunk ourselves: it must re-hash, find the rot and answer NOT_FOUND for each.
    if ((await status(0)).corrupt.chunks === before0.corrupt.chunks) {
      const client = await createNode({ allowPrivateAddresses: true })
      try {
        const conn = await client.dial(multiaddr(seeders[0]!.addr))
        const session = PeerSession.fromStream(conn.remotePeer, await conn.newStream(NAR_PROTOCOL))
        const replies: (number | undefined)[] = []
        await session.getChunks(
          manifest.chunks.map((c) => c.cid),
          (_, bytes) => {
            replies.push(bytes?.byteLength)
          }
        )
        await session.close()
        assert.deepEqual(
          replies,
          manifest.chunks.map(() => undefined),
          'seeder 0 refused every rotten chunk'
        )
      } finally {
        await client.stop()
      }
    }
    const rotten = await status(0)
    assert.ok(rotten.corrupt.chunks > before0.corrupt.chunks, 'seeder 0 detected the rot')
    assert.equal(
      rotten.upload.chunksServed,
      before0.upload.chunksServed,
      'still no rotten chunk left seeder 0'
    )
  })

  it('falls back to the upstream when the only seeder holding a path is gone', async () => {
    const path = out['net-fallback']!
    assert.equal(cache!.count('/nar/'), 0, 'the upstream served nothing so far')
    await seeders[2]!.program.kill()
    const r = await substitute(path, fallbackShimUrl)
    assert.equal(r.code, 0, r.stderr)
    assert.ok(r.valid)
    assert.ok(cache!.count('/nar/') >= 1, 'the upstream served the NAR')
    const got = await runOk('nix-store', ['--store', r.store, '--dump', path])
    assert.ok(got.stdout.equals(await narOf(path)), 'bit-exact')
    // Without an upstream, the same path is nowhere: 404 and nix fails.
    const none = await substitute(path, shimUrl)
    assert.notEqual(none.code, 0)
    assert.ok(!none.valid)
  })
})
