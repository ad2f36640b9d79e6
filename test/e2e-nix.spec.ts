/**
 * End to end with the real nix: two builders attest the output of a real derivation (built by nix-build from a
 * small .nix file using /bin/sh), the orchestrator agrees at k = 2, and nix accepts its narinfo with only the
 * orchestrator's key trusted: `nix copy --to file://` writes the NAR, the narinfo is replaced by the
 * orchestrator's, and `nix-store -r` substitutes the path into a fresh chroot store with signatures required
 * (and refuses it when another key is trusted). A non-deterministic derivation (it writes the time), built by one
 * builder and rebuilt by the other with `narthex build --check`, is disputed and gets no narinfo.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { NARTHEX_BIN, narthex, nixEnv, run, runOk, substituteArgs, tempDir, waitFor } from './util/index.js'

describe('end to end with the real nix: build, attest, agree, substitute', function () {
  this.timeout(180_000)
  let dir: { path: string; cleanup: () => Promise<void> }
  let orchestrator: ChildProcess | null = null
  let url = ''
  const keys: Record<string, { sec: string; pub: string }> = {}
  let n = 0
  const fresh = (what: string) => join(dir.path, `${what}-${n++}`)
  const env = () => nixEnv(fresh('xdg'))

  async function key(name: string): Promise<{ sec: string; pub: string }> {
    const sec = join(dir.path, `${name}.sec`)
    const r = await narthex(['keygen', name, '--out', sec])
    assert.equal(r.code, 0, r.stderr)
    return { sec, pub: r.stdout.toString().trim() }
  }

  before(async () => {
    dir = await tempDir('narthex-e2e-')
    for (const name of ['e2e-orchestrator-1', 'e2e-builder-1', 'e2e-builder-2', 'e2e-other-1'])
      keys[name] = await key(name)
    orchestrator = spawn(
      process.execPath,
      [
        NARTHEX_BIN,
        'orchestrator',
        '--data',
        join(dir.path, 'orch'),
        '--listen',
        '127.0.0.1:0',
        '--key',
        keys['e2e-orchestrator-1']!.sec,
        '--quorum',
        '2',
        '--no-p2p',
        '--trust',
        keys['e2e-builder-1']!.pub,
        '--trust',
        keys['e2e-builder-2']!.pub
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] }
    )
    let out = ''
    orchestrator.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d
    })
    url = await waitFor('the orchestrator', () => /listening on (\S+)/.exec(out)?.[1], 20_000)
  })
  after(async () => {
    if (orchestrator !== null) {
      const o = orchestrator
      await new Promise<void>((resolve) => {
        o.once('exit', () => resolve())
        o.kill('SIGTERM')
      })
    }
    await dir.cleanup()
  })

  const build = (builder: string, target: string, check = false) =>
    narthex(
      ['build', '--orchestrator', url, '--key', keys[builder]!.sec, ...(check ? ['--check'] : []), target],
      {
        env: env()
      }
    )

  /** A .nix file evaluating to [dep, main]: main refers to dep; narthex build builds and attests both. */
  async function nixFile(name: string, script: string): Promise<string> {
    const file = join(dir.path, `${name}.nix`)
    const salt = `${Date.now()}-${Math.random()}`
    await writeFile(
      file,
      `let dep = derivation { name = "${name}-dep"; builder = "/bin/sh"; args = [ "-c" "echo dep > $out" ];
           PATH = "/usr/bin:/bin"; system = builtins.currentSystem; salt = "${salt}"; };
       in [ dep (derivation { name = "${name}"; builder = "/bin/sh"; args = [ "-c" ${JSON.stringify(script)} ];
           PATH = "/usr/bin:/bin"; system = builtins.currentSystem; salt = "${salt}"; inherit dep; }) ]`
    )
    return file
  }

  it('agrees at k = 2 on a deterministic build, and nix substitutes it with only the orchestrator key trusted', async () => {
    const file = await nixFile(
      'e2e-hello',
      'mkdir $out; echo hello > $out/greeting; echo $dep > $out/dep; ln -s greeting $out/link'
    )
    const first = await build('e2e-builder-1', file)
    assert.equal(first.code, 0, first.stderr)
    const [outPath, narHash, , , status1] = first.stdout
      .toString()
      .trim()
      .split('\n')
      .find((l) => l.includes('-e2e-hello '))!
      .split(' ')
    assert.equal(status1, 'pending')
    const hp = basename(outPath!).slice(0, 32)
    assert.equal((await fetch(`${url}/${hp}.narinfo`)).status, 404)

    // The second builder rebuilds it (--check) and gets the same NAR: agreed.
    const second = await build('e2e-builder-2', file, true)
    assert.equal(second.code, 0, second.stderr)
    assert.match(second.stdout.toString(), new RegExp(`${outPath} ${narHash} accepted -> agreed`))

    const res = await fetch(`${url}/${hp}.narinfo`)
    assert.equal(res.status, 200)
    const narinfo = await res.text()
    // What Nix registered is what was agreed.
    const info = JSON.parse(
      (await runOk('nix', ['path-info', '--json', outPath!], { env: env() })).stdout.toString()
    )[0]
    assert.match(narinfo, new RegExp(`^NarSize: ${info.narSize}$`, 'm'))
    assert.match(narinfo, /^References: .*-e2e-hello-dep/m)

    // A file:// cache with the NARs nix writes, the orchestrator's narinfo in place of nix's.
    const closure = (await runOk('nix-store', ['-qR', outPath!], { env: env() })).stdout
      .toString()
      .trim()
      .split('\n')
    const cache = fresh('cache')
    await runOk('nix', ['copy', '--to', `file://${cache}?compression=none`, ...closure], { env: env() })
    await writeFile(join(cache, `${hp}.narinfo`), narinfo)
    // The dependency was built and attested by both builders too: its narinfo is the orchestrator's as well.
    for (const p of closure) {
      const dhp = basename(p).slice(0, 32)
      const r = await fetch(`${url}/${dhp}.narinfo`)
      assert.equal(r.status, 200, `${p} is agreed`)
      await writeFile(join(cache, `${dhp}.narinfo`), await r.text())
    }

    const substitute = async (trusted: string) => {
      const store = join(fresh('chroot'), 'dst')
      const r = await run(
        'nix-store',
        [...substituteArgs(store, outPath!, `file://${cache}`, trusted), '--option', 'require-sigs', 'true'],
        { env: env() }
      )
      const valid =
        (await run('nix-store', ['--store', store, '--check-validity', outPath!], { env: env() })).code === 0
      return { code: r.code, valid, stderr: r.stderr }
    }
    const good = await substitute(keys['e2e-orchestrator-1']!.pub)
    assert.equal(good.code, 0, good.stderr)
    assert.ok(good.valid)
    // Only the orchestrator's key makes it valid: with another key trusted, nix refuses it.
    const bad = await substitute(keys['e2e-other-1']!.pub)
    assert.notEqual(bad.code, 0)
    assert.ok(!bad.valid)
  })

  it('shows a non-deterministic build as disputed and serves no narinfo for it', async () => {
    const file = await nixFile('e2e-clock', 'date +%s%N > $out')
    const first = await build('e2e-builder-1', file)
    assert.equal(first.code, 0, first.stderr)
    const second = await build('e2e-builder-2', file, true)
    assert.equal(second.code, 0, second.stderr)
    assert.match(second.stderr, /differs from the registered output/)
    const line = second.stdout
      .toString()
      .split('\n')
      .find((l) => l.includes('-e2e-clock '))!
    assert.match(line, /\(rebuild differs\) accepted -> disputed$/)
    const outPath = line.split(' ')[0]!
    const hp = basename(outPath).slice(0, 32)
    assert.equal((await fetch(`${url}/${hp}.narinfo`)).status, 404)
    const o = (await (await fetch(`${url}/api/v1/outputs/${hp}`)).json()) as {
      status: string
      claimList: { narHash: string; statedBy: string[] }[]
    }
    assert.equal(o.status, 'disputed')
    assert.deepEqual(o.claimList.map((c) => c.statedBy).sort(), [['e2e-builder-1'], ['e2e-builder-2']])
    // The dependency, deterministic, is agreed all the same.
    const summary = (await (await fetch(`${url}/api/v1/summary`)).json()) as { outputs: { disputed: number } }
    assert.equal(summary.outputs.disputed, 1)
  })
})
