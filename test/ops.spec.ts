/**
 * Everyday behaviour of the programs, through the real CLI: JSON logs that keep the ready lines on stdout, debug
 * output bridged into the log without ever printing a secret key, `narthex status` on a running shim after a real
 * substitution from an upstream cache (and its recent errors), and the progress bar on a real terminal (a pty
 * from `script`).
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { basename, join } from 'node:path'
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
import { type Program, startProgram } from './util/network.js'

interface ShimStatusView {
  program: string
  nars: { stored: number; bytes: number }
  peers: { connected: number; ids: string[] }
  recentFetches: {
    storePath: string
    narSize: number
    ok: boolean
    durationMs: number
    bytesFrom: Record<string, number>
  }[]
  recentErrors: { what: string; name: string; message: string }[]
}

describe('logs, progress and narthex status (real programs)', function () {
  this.timeout(180_000)
  let dir: { path: string; cleanup: () => Promise<void> }
  const programs: Program[] = []
  let cache: CacheServer | undefined
  let env: NodeJS.ProcessEnv
  let out: string
  let orch: Program
  let orchUrl: string
  const keys: Record<string, { sec: string; pub: string }> = {}

  before(async () => {
    dir = await tempDir('narthex-ops-')
    env = nixEnv(join(dir.path, 'xdg'))
    for (const name of ['ops-orch-1', 'ops-b1', 'ops-b2']) {
      const sec = join(dir.path, `${name}.sec`)
      const r = await narthex(['keygen', name, '--out', sec])
      keys[name] = { sec, pub: r.stdout.toString().trim() }
    }
    ;[out] = (await nixBuild(
      dir.path,
      `derivation { name = "ops-${Date.now()}"; builder = "/bin/sh"; args = [ "-c" "seq 1 100000 > $out" ]; PATH = "/usr/bin:/bin"; system = builtins.currentSystem; }`,
      env
    )) as [string]
    // The orchestrator with debug logging as JSON: the secret key must appear nowhere in what it prints.
    const o = await startProgram(
      [
        'orchestrator',
        '--log-level',
        'debug',
        '--log-format',
        'json',
        '--data',
        join(dir.path, 'orch'),
        '--listen',
        '127.0.0.1:0',
        '--no-p2p',
        '--key',
        keys['ops-orch-1']!.sec,
        '--trust',
        keys['ops-b1']!.pub,
        '--trust',
        keys['ops-b2']!.pub
      ],
      /listening on (\S+)\n/
    )
    orch = o.program
    programs.push(orch)
    orchUrl = o.match[1]!
  })

  after(async () => {
    await Promise.all(programs.map((p) => p.stop()))
    await cache?.close()
    await dir?.cleanup()
  })

  it('a program started with a secret key file and debug logging never prints the key', async () => {
    for (const b of ['ops-b1', 'ops-b2']) {
      const r = await narthex(
        ['--log-level', 'debug', 'attest', '--orchestrator', orchUrl, '--key', keys[b]!.sec, out],
        {
          env: { ...env, DEBUG: '' }
        }
      )
      assert.equal(r.code, 0, r.stderr)
      assert.match(r.stdout.toString(), /accepted/)
      const secret = (await readFile(keys[b]!.sec, 'utf8')).trim()
      const b64 = secret.slice(secret.indexOf(':') + 1)
      assert.ok(
        !r.stderr.includes(b64) && !r.stdout.toString().includes(b64),
        'attest printed the builder key'
      )
    }
    await waitFor(
      'the narinfo to be agreed',
      async () => (await fetch(`${orchUrl}/${basename(out).slice(0, 32)}.narinfo`)).ok
    )
    const secret = (await readFile(keys['ops-orch-1']!.sec, 'utf8')).trim()
    const b64 = secret.slice(secret.indexOf(':') + 1)
    assert.ok(
      !orch.stderr().includes(b64) && !orch.stdout().includes(b64),
      'the orchestrator printed its key'
    )
    // The debug output is there (bridged from the debug package, as JSON records), so the check above means something.
    const records = orch
      .stderr()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    assert.ok(
      records.some((r) => r.level === 'debug' && String(r.component).startsWith('narthex:orchestrator'))
    )
    assert.ok(records.every((r) => r.program === 'orchestrator' && typeof r.time === 'string'))
    // The ready line stays on stdout, unchanged, for scripts.
    assert.match(orch.stdout(), /^narthex orchestrator: listening on http:\/\/127\.0\.0\.1:\d+$/m)
  })

  it('narthex status shows a shim: the fetch with the bytes from the upstream, the stored NAR, and errors', async () => {
    const up = join(dir.path, 'upstream')
    await runOk('nix', ['copy', '--to', `file://${up}?compression=none`, out], { env })
    cache = await startCacheServer({ dir: up })
    const data = join(dir.path, 'shim')
    const shim = await startProgram(
      [
        'shim',
        '--log-format',
        'json',
        '--data',
        data,
        '--listen',
        '127.0.0.1:0',
        '--orchestrator',
        orchUrl,
        '--upstream',
        cache.url
      ],
      /listening on (http:\/\/\S+)\n/
    )
    programs.push(shim.program)
    const store = join(dir.path, 'chroot')
    const r = await run('nix-store', substituteArgs(store, out, shim.match[1]!, keys['ops-orch-1']!.pub), {
      env: nixEnv(join(dir.path, 'xdg-client'))
    })
    assert.equal(r.code, 0, r.stderr)
    const narSize = (await runOk('nix-store', ['--dump', out])).stdout.length

    const json = await narthex(['status', '--data', data, '--json'])
    assert.equal(json.code, 0, json.stderr)
    const st = (JSON.parse(json.stdout.toString()) as { shim: ShimStatusView; seeder: null }).shim
    assert.equal(st.program, 'shim')
    const f = await waitFor('the fetch to be recorded', async () => {
      const s = JSON.parse((await narthex(['status', '--data', data, '--json'])).stdout.toString())
        .shim as ShimStatusView
      return s.recentFetches.find((x) => x.storePath === out)
    })
    assert.equal(f.ok, true)
    assert.equal(f.narSize, narSize)
    assert.deepEqual(f.bytesFrom, { [`upstream ${cache.url}`]: narSize })
    assert.ok(f.durationMs >= 0)
    await waitFor('the NAR to be stored', async () => {
      const s = JSON.parse((await narthex(['status', '--data', data, '--json'])).stdout.toString())
        .shim as ShimStatusView
      return s.nars.stored === 1 && s.nars.bytes === narSize
    })

    const text = await narthex(['status', '--data', data])
    assert.equal(text.code, 0, text.stderr)
    const t = text.stdout.toString()
    assert.match(t, /^shim$/m)
    assert.match(t, /^peers +0 connected$/m)
    assert.match(t, /^NARs +1 stored \(/m)
    assert.ok(t.includes(`ok     ${out}`), t)
    assert.ok(t.includes(`upstream ${cache.url}`), t)
    assert.match(t, /^errors +none$/m)
    // The control socket is the owner's alone.
    const { stat } = await import('node:fs/promises')
    assert.equal((await stat(join(data, 'shim.sock'))).mode & 0o777, 0o600)
    // Its log is JSON, its ready line plain.
    for (const line of shim.program.stderr().trim().split('\n'))
      assert.equal(JSON.parse(line).program, 'shim')
  })

  it('narthex status lists the recent errors of a shim (an orchestrator that does not answer)', async () => {
    const probe = createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const closed = (probe.address() as { port: number }).port
    await new Promise((resolve) => probe.close(resolve))
    const data = join(dir.path, 'shim-err')
    const shim = await startProgram(
      ['shim', '--data', data, '--listen', '127.0.0.1:0', '--orchestrator', `http://127.0.0.1:${closed}`],
      /listening on (http:\/\/\S+)\n/
    )
    programs.push(shim.program)
    const hash = basename(out).slice(0, 32)
    assert.equal((await fetch(`${shim.match[1]}/${hash}.narinfo`)).status, 404)
    const st = JSON.parse((await narthex(['status', '--data', data, '--json'])).stdout.toString())
      .shim as ShimStatusView
    assert.equal(st.recentErrors[0]?.what, `narinfo lookup ${hash}`)
    const text = (await narthex(['status', '--data', data])).stdout.toString()
    assert.ok(text.includes(`narinfo lookup ${hash}: `), text)
    await shim.program.stop()
    // Stopped: the socket is gone and status says nothing runs there.
    assert.equal((await narthex(['status', '--data', data])).code, 1)
  })

  it('draws a progress bar on a terminal, and none with --quiet or without a terminal', async () => {
    const data = join(dir.path, 'store-tty')
    const cmd = (extra: string) =>
      `${process.execPath} ${NARTHEX_BIN} ${extra} store import --data ${data}-${extra.length} ${out}`
    const tty = await runOk('script', ['-qec', cmd(''), '/dev/null'], { env: { ...env, COLUMNS: '100' } })
    const shown = tty.stdout.toString()
    const CLEAR = '\r\x1b[K'
    assert.match(shown, /import {2}\[[#-]{20}\] +\d+%/)
    assert.ok(shown.includes(`${CLEAR}import  [`), 'drawn in place')
    assert.match(shown, /imported \/nix\/store\//)
    const quiet = await runOk('script', ['-qec', cmd('--quiet'), '/dev/null'], { env })
    assert.doesNotMatch(quiet.stdout.toString(), /import {2}\[/)
    assert.match(quiet.stdout.toString(), /imported \/nix\/store\//)
    const piped = await narthex(['store', 'import', '--data', `${data}-pipe`, out], { env })
    assert.equal(piped.code, 0, piped.stderr)
    assert.ok(!piped.stderr.includes('\x1b'), 'no escapes without a terminal')
  })
})
