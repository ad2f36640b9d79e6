/**
 * `narthex demo` as a real process (the built CLI): the whole network on loopback with real nix, the
 * substitution through the shim into a chroot store, the dispute, a clean stop with no stray processes, and a
 * second start on the same data (reused keys and builds) stopped with SIGINT.
 */
import { strict as assert } from 'node:assert'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { NARTHEX_BIN, narthex, nixEnv, run, tempDir, waitFor } from './util/index.js'

const STORE_PATH = /\/nix\/store\/[a-z0-9]{32}-narthex-demo-[a-z]+/

/** Every pid the demo recorded for its programs must be gone once it has exited. */
async function assertNoStrays(data: string): Promise<void> {
  const pids = JSON.parse(await readFile(join(data, 'run', 'pids.json'), 'utf8')) as Record<string, number>
  assert.deepEqual(Object.keys(pids).sort(), ['orchestrator', 'seeder-1', 'seeder-2', 'seeder-3', 'shim'])
  for (const [name, pid] of Object.entries(pids)) {
    assert.ok(Number.isSafeInteger(pid) && pid > 0, name)
    assert.throws(
      () => process.kill(pid, 0),
      (e: NodeJS.ErrnoException) => e.code === 'ESRCH',
      `${name} (pid ${pid}) is still running`
    )
  }
}

describe('narthex demo', function () {
  this.timeout(240_000)
  let dir: Awaited<ReturnType<typeof tempDir>>
  before(async () => {
    dir = await tempDir('narthex-demo-')
  })
  after(async () => {
    await dir?.cleanup()
  })

  it('refuses a bad port or an unexpected argument as a usage error (exit 2), starting nothing', async () => {
    const data = join(dir.path, 'unused')
    for (const args of [['--port', 'x'], ['--shim-port', '70000'], ['extra']]) {
      const r = await narthex(['demo', '--data', data, ...args])
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
    }
    assert.equal(existsSync(data), false)
  })

  it('--once builds, disputes the noisy output, substitutes through the shim and stops cleanly', async () => {
    const data = join(dir.path, 'data')
    const r = await narthex(['demo', '--once', '--data', data, '--port', '0', '--shim-port', '0'], {
      env: nixEnv(join(dir.path, 'xdg')),
      timeoutMs: 200_000
    })
    const out = r.stdout.toString('utf8')
    assert.equal(r.code, 0, `${out}\n${r.stderr}`)

    const dashboard = out.match(/^Dashboard: +(http:\/\/127\.0\.0\.1:\d+)\/$/m)
    assert.ok(dashboard, out)
    const command = out.match(
      /^ {2}XDG_CACHE_HOME=\S+ nix-store --store (\S+) -r (\S+) --option substituters (http:\/\/127\.0\.0\.1:\d+) --option trusted-public-keys (narthex-demo-1:\S+)$/m
    )
    assert.ok(command, out)
    const [, client, top, , key] = command
    assert.match(top!, STORE_PATH)
    assert.equal(client, join(data, 'client'))
    assert.equal(`${key}\n`, await readFile(join(data, 'keys', 'orchestrator.pub'), 'utf8'))

    assert.match(out, /nix-store -r succeeded: \/nix\/store\//)
    assert.match(
      out,
      /copying path '\/nix\/store\/[a-z0-9]{32}-narthex-demo-app' from 'http:\/\/127\.0\.0\.1:\d+'/
    )
    assert.match(out, /orchestrator: 4 agreed, 0 pending, 1 disputed/)
    assert.match(out, /disputed: \/nix\/store\/[a-z0-9]{32}-narthex-demo-noisy$/m)
    assert.match(out, /narthex demo: ready/)

    // The closure really is in the client's chroot store (data kept after the stop).
    const valid = await run('nix-store', ['--store', client!, '--check-validity', top!], {
      env: nixEnv(join(dir.path, 'xdg'))
    })
    assert.equal(valid.code, 0, valid.stderr)
    await assertNoStrays(data)
  })

  it('a second start reuses the data, serves the dispute on its API, and stops on SIGINT', async () => {
    const data = join(dir.path, 'data')
    const child = spawn(
      process.execPath,
      [NARTHEX_BIN, 'demo', '--data', data, '--port', '0', '--shim-port', '0'],
      {
        env: nixEnv(join(dir.path, 'xdg2')),
        stdio: ['ignore', 'pipe', 'pipe']
      }
    )
    let out = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d
    })
    child.stderr.resume()
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    try {
      await waitFor('demo ready', () => out.includes('narthex demo: ready'), 150_000)
      assert.match(out, /reusing 5 outputs built and attested on an earlier start/)
      const url = out.match(/^Dashboard: +(http:\/\/127\.0\.0\.1:\d+)\/$/m)?.[1]
      assert.ok(url, out)
      const res = await fetch(`${url}/api/v1/outputs?status=disputed`)
      assert.equal(res.status, 200)
      const body = (await res.json()) as { total: number; outputs: { outPath: string }[] }
      assert.equal(body.total, 1)
      assert.match(body.outputs[0]!.outPath, /-narthex-demo-noisy$/)
      const page = await fetch(`${url}/`)
      assert.equal(page.status, 200)

      child.kill('SIGINT')
      assert.equal(await exited, 0, out)
      assert.match(out, /stopped cleanly/)
      await assertNoStrays(data)
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  })
})
