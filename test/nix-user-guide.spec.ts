/**
 * What docs/guides/nix-user.md tells a Nix user, checked with the real Nix (2.8) against a real shim: the shim's
 * Priority puts it ahead of a priority-40 cache whatever the listed order, `?priority=` in the substituter URL
 * overrides that, a shim that is not running only delays Nix, which carries on with its other substituters, and
 * Nix's negative narinfo cache hides a path that became available until `narinfo-cache-negative-ttl 0`.
 * Real derivations are built, signed with a test key standing in for the orchestrator's and copied into a binary
 * cache (a static HTTP server plays the orchestrator's narinfo route and the upstream); every Nix run gets a fresh
 * chroot store so it really substitutes.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { cp, readdir, readFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { createShim, type Shim } from '../apps/shim/src/index.js'
import { type CacheServer, startCacheServer } from './util/cache-server.js'
import { nixBuild, nixEnv, run, runOk, substituteArgs, tempDir, waitFor } from './util/index.js'

describe('the Nix user guide, with the real nix', function () {
  this.timeout(120_000)
  let dir: { path: string; cleanup: () => Promise<void> }
  let cache: CacheServer
  let other: CacheServer
  let shim: Shim
  let publicKey: string
  let path: string
  let later: string

  const hashPart = (p: string) => p.slice('/nix/store/'.length, '/nix/store/'.length + 32)

  before(async () => {
    dir = await tempDir('narthex-nix-user-')
    const env = nixEnv(join(dir.path, 'xdg-build'))
    const nonce = randomBytes(8).toString('hex')
    const drv = (name: string) =>
      `derivation { name = "${name}"; builder = "/bin/sh"; args = ["-c" "echo ${name} ${nonce} > $out"];` +
      ` PATH = "/usr/bin:/bin"; system = builtins.currentSystem; }`
    ;[path] = await nixBuild(dir.path, drv('guide-path'), env)
    ;[later] = await nixBuild(dir.path, drv('guide-later'), env)
    const [sec, pub] = [join(dir.path, 'sec'), join(dir.path, 'pub')]
    await runOk('nix-store', ['--generate-binary-cache-key', 'narthex-guide-1', sec, pub], { env })
    publicKey = (await readFile(pub, 'utf8')).trim()
    await runOk('nix', ['store', 'sign', '--key-file', sec, path!, later!], { env })
    await runOk('nix', ['copy', '--to', `file://${join(dir.path, 'up')}?compression=none`, path!], { env })
    await runOk('nix', ['copy', '--to', `file://${join(dir.path, 'held')}?compression=none`, later!], { env })
    cache = await startCacheServer({ dir: join(dir.path, 'up') })
    other = await startCacheServer()
    other.files.set('/nix-cache-info', 'StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 40\n')
    shim = createShim({
      data: join(dir.path, 'shim'),
      listen: { host: '127.0.0.1', port: 0 },
      orchestrator: cache.url,
      upstream: [cache.url],
      prefetch: false,
      fsync: false,
      timing: { negativeTtlMs: 100 }
    })
    await shim.start()
  })

  after(async () => {
    await shim?.stop()
    await cache?.close()
    await other?.close()
    await dir?.cleanup()
  })

  let runs = 0
  /** `nix-store -r` into a fresh chroot store; `xdg` names Nix's cache directory (fresh unless reused). */
  function substitute(p: string, substituters: string, opts: { xdg?: string; extra?: string[] } = {}) {
    const n = ++runs
    return run(
      'nix-store',
      [...substituteArgs(join(dir.path, `client-${n}`), p, substituters, publicKey), ...(opts.extra ?? [])],
      { env: nixEnv(join(dir.path, opts.xdg ?? `xdg-${n}`)) }
    )
  }

  it('asks the shim (Priority 30) before a priority-40 cache listed ahead of it', async () => {
    const r = await substitute(path, `${other.url} ${shim.url}`)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, new RegExp(`copying path '${path}' from '${shim.url}'`))
    assert.equal(other.count(`/${hashPart(path)}.narinfo`), 0)
  })

  it('asks the other cache first when the shim URL says ?priority=50', async () => {
    const r = await substitute(path, `${shim.url}?priority=50 ${other.url}`)
    assert.equal(r.code, 0, r.stderr)
    assert.ok(other.count(`/${hashPart(path)}.narinfo`) >= 1)
  })

  it('carries on with the next substituter when the shim is not running', async () => {
    const closed = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number }
        s.close(() => resolve(port))
      })
    })
    const r = await substitute(path, `http://127.0.0.1:${closed} ${cache.url}`)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /unable to download 'http:\/\/127\.0\.0\.1:\d+\/nix-cache-info'/)
    assert.match(r.stderr, new RegExp(`copying path '${path}' from '${cache.url}'`))
  })

  it('keeps a 404 in ~/.cache/nix: a path that became available needs narinfo-cache-negative-ttl 0', async () => {
    const first = await substitute(later, shim.url, { xdg: 'xdg-negative' })
    assert.notEqual(first.code, 0)
    const cacheFiles = await readdir(join(dir.path, 'xdg-negative', 'nix'))
    assert.ok(cacheFiles.includes('binary-cache-v6.sqlite'), cacheFiles.join(' '))
    // The path becomes agreed (and available): the shim serves it shortly after.
    await cp(join(dir.path, 'held'), join(dir.path, 'up'), { recursive: true })
    await waitFor('the shim to serve the new path', async () => {
      const res = await fetch(`${shim.url}/${hashPart(later)}.narinfo`)
      return res.status === 200 || undefined
    })
    const again = await substitute(later, shim.url, { xdg: 'xdg-negative' })
    assert.notEqual(again.code, 0, 'Nix asked again despite its negative cache')
    const fresh = await substitute(later, shim.url, {
      xdg: 'xdg-negative',
      extra: ['--option', 'narinfo-cache-negative-ttl', '0']
    })
    assert.equal(fresh.code, 0, fresh.stderr)
  })
})
