/**
 * The shim with the real Nix client (Nix 2.8): the upstream-fallback path end to end. Real derivations are built,
 * signed with a test key (standing in for the orchestrator's) and copied by `nix copy --to file://...` into a
 * binary cache served by a tiny static HTTP server; that server plays the orchestrator's narinfo route and the
 * upstream cache. The shim runs as the real `narthex shim` process. Nix substitutes through it into a fresh chroot
 * store with a fresh XDG_CACHE_HOME and signatures required.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type CacheServer, startCacheServer } from './util/cache-server.js'
import {
  NARTHEX_BIN,
  narthex,
  nixBuild,
  nixEnv,
  run,
  runOk,
  substituteArgs,
  tempDir,
  waitFor
} from './util/index.js'

describe('shim with the real nix', function () {
  this.timeout(120_000)
  let dir: { path: string; cleanup: () => Promise<void> }
  let cache: CacheServer
  let shimProc: ChildProcess
  let shimUrl: string
  let publicKey: string
  let dep: string
  let app: string
  let lonely: string

  before(async () => {
    dir = await tempDir('narthex-shim-nix-')
    const env = nixEnv(join(dir.path, 'xdg-build'))
    const nonce = randomBytes(8).toString('hex')
    const drv = (name: string, script: string) =>
      `derivation { name = "${name}"; builder = "/bin/sh"; args = ["-c" ${JSON.stringify(script)}];` +
      ` PATH = "/usr/bin:/bin"; system = builtins.currentSystem; }`
    ;[dep] = await nixBuild(dir.path, drv('shim-dep', `echo dep ${nonce} > $out`), env)
    ;[app] = await nixBuild(
      dir.path,
      `let dep = ${drv('shim-dep', `echo dep ${nonce} > $out`)}; in ` +
        `derivation { name = "shim-app"; builder = "/bin/sh"; args = ["-c" "mkdir $out; echo \${dep} > $out/dep; head -c 3000000 /dev/urandom > $out/blob"]; PATH = "/usr/bin:/bin"; system = builtins.currentSystem; }`,
      env
    )
    ;[lonely] = await nixBuild(dir.path, drv('shim-lonely', `echo lonely ${nonce} > $out`), env)
    await runOk(
      'nix-store',
      ['--generate-binary-cache-key', 'narthex-test-1', join(dir.path, 'sec'), join(dir.path, 'pub')],
      { env }
    )
    publicKey = (await readFile(join(dir.path, 'pub'), 'utf8')).trim()
    await runOk('nix', ['store', 'sign', '--key-file', join(dir.path, 'sec'), dep!, app!], { env })
    await runOk('nix', ['copy', '--to', `file://${join(dir.path, 'up')}?compression=none`, app!], { env })
    cache = await startCacheServer({ dir: join(dir.path, 'up') })
    shimProc = spawn(
      process.execPath,
      [
        NARTHEX_BIN,
        'shim',
        '--data',
        join(dir.path, 'shim'),
        '--listen',
        '127.0.0.1:0',
        '--orchestrator',
        cache.url,
        '--upstream',
        cache.url
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] }
    )
    let out = ''
    shimProc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d
    })
    shimUrl = await waitFor('the shim to listen', () => /listening on (http:\/\/\S+)/.exec(out)?.[1])
  })

  after(async () => {
    if (shimProc !== undefined && shimProc.exitCode === null) {
      const exited = new Promise((resolve) => shimProc.once('exit', resolve))
      shimProc.kill('SIGTERM')
      await exited
    }
    await cache?.close()
    await dir?.cleanup()
  })

  function substitute(dst: string, path: string, key: string) {
    return run('nix-store', substituteArgs(join(dir.path, dst), path, shimUrl, key), {
      env: nixEnv(join(dir.path, `xdg-${dst}`))
    })
  }

  function valid(dst: string, path: string) {
    return run('nix-store', ['--store', join(dir.path, dst), '--check-validity', path], {
      env: nixEnv(join(dir.path, `xdg-${dst}-check`))
    })
  }

  it('substitutes a signed closure through the shim into a fresh store', async () => {
    const r = await substitute('dst', app!, publicKey)
    assert.equal(r.code, 0, r.stderr)
    assert.equal((await valid('dst', app!)).code, 0)
    assert.equal((await valid('dst', dep!)).code, 0)
    const blob = await readFile(join(dir.path, 'dst', app!, 'blob'))
    assert.ok(blob.equals(await readFile(join(app!, 'blob'))))
    // Each NAR crossed the network once (Nix's request and the closure prefetch share one fetch).
    assert.equal(cache.count('/nar/'), 2)
    for (const [path, n] of cache.hits) if (path.startsWith('/nar/')) assert.equal(n, 1, path)
  })

  it('is refused by Nix when the narinfo is not signed by a trusted key', async () => {
    const wrong = 'wrong-1:' + Buffer.alloc(32, 7).toString('base64')
    const r = await substitute('dst-wrong', app!, wrong)
    assert.notEqual(r.code, 0)
    assert.notEqual((await valid('dst-wrong', app!)).code, 0)
  })

  it('answers 404 for a path nobody has, and Nix fails as it would without the shim', async () => {
    const hashPart = lonely!.slice('/nix/store/'.length, '/nix/store/'.length + 32)
    const res = await fetch(`${shimUrl}/${hashPart}.narinfo`)
    assert.equal(res.status, 404)
    const withShim = await substitute('dst-lonely', lonely!, publicKey)
    const without = await run('nix-store', ['--store', join(dir.path, 'dst-plain'), '-r', lonely!], {
      env: nixEnv(join(dir.path, 'xdg-plain'))
    })
    assert.notEqual(withShim.code, 0)
    assert.equal(withShim.code, without.code)
    assert.match(withShim.stderr, /don't know how to build these paths/)
    assert.match(without.stderr, /don't know how to build these paths/)
    assert.notEqual((await valid('dst-lonely', lonely!)).code, 0)
  })

  it('still substitutes while slow and oversized requests hold connections', async () => {
    const { connect } = await import('node:net')
    const url = new URL(shimUrl)
    const sockets = Array.from({ length: 50 }, (_, i) => {
      const sock = connect(Number(url.port), url.hostname)
      sock.on('error', () => {})
      sock.write(
        i % 2 === 0
          ? 'GET /nix-cache-info HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: '
          : `GET /nix-cache-info HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(20_000)}`
      )
      return sock
    })
    try {
      const r = await substitute('dst-busy', app!, publicKey)
      assert.equal(r.code, 0, r.stderr)
      assert.equal((await valid('dst-busy', app!)).code, 0)
    } finally {
      for (const s of sockets) s.destroy()
    }
  })
})

describe('narthex shim command line', () => {
  it('prints its flags, and refuses unknown config keys and non-loopback addresses (exit 2)', async () => {
    const help = await narthex(['shim', '--help'])
    assert.equal(help.code, 0)
    assert.match(help.stdout.toString(), /--upstream URL/)
    const dir = await tempDir('narthex-shim-cli-')
    try {
      const { writeFile } = await import('node:fs/promises')
      await writeFile(join(dir.path, 'bad.json'), JSON.stringify({ data: dir.path, upstreams: ['http://x'] }))
      const bad = await narthex(['shim', '--config', join(dir.path, 'bad.json')])
      assert.equal(bad.code, 2)
      assert.match(bad.stderr, /unknown key "upstreams"/)
      const open = await narthex(['shim', '--data', dir.path, '--listen', '0.0.0.0:0'])
      assert.equal(open.code, 2)
      assert.match(open.stderr, /not loopback/)
      const noData = await narthex(['shim'])
      assert.equal(noData.code, 2)
    } finally {
      await dir.cleanup()
    }
  })
})
