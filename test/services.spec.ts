/**
 * Running as services: the systemd units in contrib/systemd and the NixOS module in nix/module.nix.
 *
 * - `systemd-analyze verify` (the real one; it runs without a running systemd) accepts each unit with no warning
 *   about it, and reports a misspelt directive (so the check can fail);
 * - each unit has the sandboxing docs/services.md describes, file descriptors for the seeder's caps, and no
 *   MemoryDenyWriteExecute (V8's JIT);
 * - the units' system call sandbox applied for real without systemd (test/fixtures/seccomp-exec.pl: a seccomp
 *   filter built from SystemCallFilter=, SystemCallArchitectures= and RestrictAddressFamilies=, killing on any
 *   other call): node runs in it, and needs the @pkey and AF_NETLINK the units allow; a seeder in it imports a
 *   local Nix store path (nix runs in the filter too);
 * - each program, in that filter, started with exactly the flags of its unit's ExecStart (paths moved to a temp
 *   directory) and a JSON config file, exits 0 on a SIGTERM sent the moment it is ready, well within the unit's
 *   TimeoutStopSec (the regression test for handlers installed only after the "listening" line);
 * - the NixOS module parses, and evaluated by the real `nix-instantiate` against a stand-in for nixpkgs' lib
 *   (test/fixtures/nixos-eval.nix; there is no nixpkgs offline) defines nothing when disabled, a seeder and a shim
 *   whose sandboxing equals the units' (parsed here, so the two cannot drift) and whose --config file in the Nix
 *   store holds the settings, the firewall port, and the shim as Nix substituter.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { MAX_CONNECTIONS, MAX_INBOUND_FETCH_STREAMS_PER_CONNECTION } from '@narthex/p2p'
import { DEFAULT_MAX_PEERS } from '@narthex/seeder'
import { NARTHEX_BIN, narthex, nixBuild, nixEnv, REPO_ROOT, run, runOk, tempDir } from './util/index.js'

const PROGRAMS = ['seeder', 'shim', 'orchestrator'] as const
type Program = (typeof PROGRAMS)[number]
const unitPath = (p: Program) => join(REPO_ROOT, 'contrib/systemd', `narthex-${p}.service`)

/** A unit file's sections: directive → values in order (a directive may repeat). Comments and blanks skipped. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>()
  let current: Map<string, string[]> | undefined
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue
    const section = /^\[(.+)\]$/.exec(line)
    if (section !== null) {
      current = new Map()
      sections.set(section[1]!, current)
      continue
    }
    const eq = line.indexOf('=')
    assert.ok(current !== undefined && eq > 0, `not a unit file line: ${line}`)
    const key = line.slice(0, eq)
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1)])
  }
  return sections
}

async function section(p: Program, name: 'Unit' | 'Service'): Promise<Map<string, string[]>> {
  const s = parseUnit(await readFile(unitPath(p), 'utf8')).get(name)
  assert.ok(s !== undefined, `${p}: no [${name}] section`)
  return s
}

const service = (p: Program) => section(p, 'Service')

/** The [Unit] lines the NixOS module sets as unitConfig (the rest it sets with its own options). */
async function unitLimits(p: Program): Promise<Record<string, string>> {
  const u = await section(p, 'Unit')
  return {
    StartLimitIntervalSec: one(u, 'StartLimitIntervalSec'),
    StartLimitBurst: one(u, 'StartLimitBurst')
  }
}

/** The one value of a directive that must appear once. */
function one(s: Map<string, string[]>, key: string): string {
  const v = s.get(key)
  assert.ok(v !== undefined && v.length === 1, `${key} must appear exactly once (got ${JSON.stringify(v)})`)
  return v[0]!
}

/** `Environment=` lines as NAME → value (a line may be quoted as a whole). */
function environment(s: Map<string, string[]>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of s.get('Environment') ?? []) {
    const unq = line.startsWith('"') && line.endsWith('"') ? line.slice(1, -1) : line
    const eq = unq.indexOf('=')
    out[unq.slice(0, eq)] = unq.slice(eq + 1)
  }
  return out
}

/** Run `systemd-analyze verify` on a copy of `unit` named `name`; return the problems it reports about it. */
async function verify(
  dir: string,
  unit: string,
  name: string
): Promise<{ code: number | null; problems: string[] }> {
  const path = join(dir, name)
  await writeFile(path, unit)
  const r = await run('systemd-analyze', ['verify', '--man=no', path], { timeoutMs: 60_000 })
  const problems = `${r.stdout.toString('utf8')}\n${r.stderr}`
    .split('\n')
    .filter((l) => l.includes(name.replace(/\.service$/, '')))
  return { code: r.code, problems }
}

/**
 * Start `cmd` (a narthex program) and, in the very callback that sees `ready` on its stdout (no polling delay:
 * what a supervisor does the moment a program says it is ready), send SIGTERM, or first run `whileReady` with the
 * ready output. Resolves with how it ended and how long the stop took; SIGKILL after `killAfterMs` (as systemd
 * does at TimeoutStopSec) or if it is not ready within 30 s.
 */
function sigtermWhenReady(
  cmd: readonly string[],
  ready: RegExp,
  killAfterMs: number,
  whileReady?: (stdout: string) => Promise<void>
): Promise<{
  code: number | null
  signal: NodeJS.Signals | null
  stopMs: number
  stderr: string
  error?: unknown
}> {
  return new Promise((resolve) => {
    const child = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let stderr = ''
    let error: unknown
    let sentAt: number | undefined
    let isReady = false
    let killer: NodeJS.Timeout | undefined
    const notReady = setTimeout(() => child.kill('SIGKILL'), 30_000)
    const stop = () => {
      sentAt = Date.now()
      child.kill('SIGTERM')
      killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs)
    }
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d
      if (isReady || !ready.test(out)) return
      isReady = true
      clearTimeout(notReady)
      if (whileReady === undefined) stop()
      else
        whileReady(out).then(stop, (err: unknown) => {
          error = err
          stop()
        })
    })
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d
    })
    child.on('exit', (code, signal) => {
      clearTimeout(notReady)
      clearTimeout(killer)
      const stopMs = sentAt === undefined ? Number.NaN : Date.now() - sentAt
      resolve({ code, signal, stopMs, stderr, ...(error !== undefined ? { error } : {}) })
    })
  })
}

/** AUDIT_ARCH_* of the architectures test/fixtures/syscalls.txt has tables for (SystemCallArchitectures=native). */
const AUDIT_ARCH: Record<string, number> = { x64: 0xc000003e, arm64: 0xc00000b7 }
const ADDRESS_FAMILY: Record<string, number> = { AF_UNIX: 1, AF_INET: 2, AF_INET6: 10, AF_NETLINK: 16 }

/** This machine's system call numbers by name, from test/fixtures/syscalls.txt. */
async function syscallTable(): Promise<Map<string, number>> {
  const text = await readFile(join(REPO_ROOT, 'test/fixtures/syscalls.txt'), 'utf8')
  const table = new Map<string, number>()
  let arch: string | undefined
  for (const line of text.split('\n')) {
    const section = /^\[(\w+)\]$/.exec(line)
    if (section !== null) arch = section[1]
    else if (arch === process.arch && /^\w+ \d+$/.test(line)) {
      const [name, nr] = line.split(' ')
      table.set(name!, Number(nr))
    }
  }
  assert.ok(
    table.size > 0 && AUDIT_ARCH[process.arch] !== undefined,
    `no system call table for ${process.arch}`
  )
  return table
}

/** The system call names a SystemCallFilter= list allows, groups expanded by `systemd-analyze syscall-filter`. */
async function expandFilter(tokens: readonly string[], seen = new Set<string>()): Promise<Set<string>> {
  const names = new Set<string>()
  for (const token of tokens) {
    if (!token.startsWith('@')) {
      names.add(token)
      continue
    }
    if (seen.has(token)) continue
    seen.add(token)
    const r = await runOk('systemd-analyze', ['syscall-filter', '--no-pager', token])
    const lines = r.stdout
      .toString('utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#') && l !== token)
    for (const n of await expandFilter(lines, seen)) names.add(n)
  }
  return names
}

/**
 * `cmd` wrapped in test/fixtures/seccomp-exec.pl with the system call filter and address families of
 * `program`'s unit, in kill mode: a call outside the unit's set kills the process with SIGSYS instead of failing
 * with the unit's EPERM, so the tests notice every one. `without` removes filter groups or address families, to
 * show what they are there for.
 */
async function sandboxed(
  program: Program,
  dir: string,
  cmd: readonly string[],
  without: readonly string[] = []
): Promise<string[]> {
  const s = await service(program)
  const table = await syscallTable()
  const allowed = await expandFilter(
    one(s, 'SystemCallFilter')
      .split(/\s+/)
      .filter((t) => !without.includes(t))
  )
  const numbers = [...allowed].flatMap((n) => (table.has(n) ? [table.get(n)!] : []))
  const file = join(dir, `syscalls-${program}-${without.join('-') || 'unit'}.txt`)
  await writeFile(file, `${numbers.join('\n')}\n`)
  const families = one(s, 'RestrictAddressFamilies')
    .split(/\s+/)
    .filter((f) => !without.includes(f))
    .map((f) => ADDRESS_FAMILY[f] ?? assert.fail(`unknown address family ${f}`))
  return [
    'perl',
    join(REPO_ROOT, 'test/fixtures/seccomp-exec.pl'),
    String(AUDIT_ARCH[process.arch]),
    String(table.get('socket')),
    String(table.get('prctl')),
    'kill',
    families.join(','),
    file,
    ...cmd
  ]
}

describe('systemd units (contrib/systemd)', function () {
  this.timeout(120_000)
  let tmp: Awaited<ReturnType<typeof tempDir>>
  beforeEach(async () => {
    tmp = await tempDir('narthex-services-')
  })
  afterEach(() => tmp.cleanup())

  for (const p of PROGRAMS) {
    it(`systemd-analyze verify accepts narthex-${p}.service without a warning`, async () => {
      const unit = await readFile(unitPath(p), 'utf8')
      const r = await verify(tmp.path, unit, `narthex-${p}.service`)
      assert.deepEqual(r.problems, [])
      assert.equal(r.code, 0)
    })
  }

  it('systemd-analyze verify reports a misspelt sandboxing directive (the check above can fail)', async () => {
    const unit = (await readFile(unitPath('seeder'), 'utf8')).replace('ProtectSystem=', 'ProtectSytem=')
    const r = await verify(tmp.path, unit, 'narthex-seeder.service')
    assert.ok(
      r.problems.some((l) => l.includes('ProtectSytem')),
      `expected a warning about ProtectSytem, got ${JSON.stringify(r.problems)}`
    )
  })

  for (const p of PROGRAMS) {
    it(`narthex-${p}.service runs narthex ${p} with /etc/narthex/${p}.json in a sandbox`, async () => {
      const s = await service(p)
      const exec = one(s, 'ExecStart')
      assert.match(exec, new RegExp(`^/usr/bin/env narthex ${p} --config /etc/narthex/${p}\\.json `))
      assert.ok(exec.includes(`--data /var/lib/narthex-${p}`), 'the data directory is the StateDirectory')
      const expected: Record<string, string> = {
        Type: 'exec',
        DynamicUser: 'yes',
        StateDirectory: `narthex-${p}`,
        Restart: 'on-failure',
        RestartPreventExitStatus: '2',
        ProtectSystem: 'strict',
        ProtectHome: 'yes',
        PrivateTmp: 'yes',
        PrivateDevices: 'yes',
        NoNewPrivileges: 'yes',
        CapabilityBoundingSet: '',
        AmbientCapabilities: '',
        ProtectKernelTunables: 'yes',
        ProtectKernelModules: 'yes',
        ProtectKernelLogs: 'yes',
        ProtectControlGroups: 'yes',
        LockPersonality: 'yes',
        RestrictNamespaces: 'yes',
        RestrictSUIDSGID: 'yes',
        SystemCallFilter: '@system-service @pkey',
        UMask: '0077'
      }
      for (const [key, value] of Object.entries(expected)) assert.equal(one(s, key), value, key)
      assert.deepEqual(one(s, 'RestrictAddressFamilies').split(/\s+/).sort(), [
        'AF_INET',
        'AF_INET6',
        'AF_NETLINK',
        'AF_UNIX'
      ])
      assert.equal(s.has('MemoryDenyWriteExecute'), false, 'V8 needs writable+executable memory for its JIT')
      assert.match(one(s, 'TimeoutStopSec'), /^\d+s$/)
      if (p !== 'seeder') assert.equal(one(s, 'InaccessiblePaths'), '-/nix/var')
      assert.ok(Number((await unitLimits(p)).StartLimitBurst) > 0, 'a failing start is given up')
    })
  }

  it('the seeder unit allows the file descriptors its peer and connection caps need', async () => {
    const s = await service('seeder')
    // Sockets at the connection cap, a chunk file per fetch stream of every peer served, level's table files
    // (classic-level opens up to 1000), and twice that for headroom.
    const need = MAX_CONNECTIONS + DEFAULT_MAX_PEERS * MAX_INBOUND_FETCH_STREAMS_PER_CONNECTION + 1000
    assert.ok(Number(one(s, 'LimitNOFILE')) >= 2 * need, `LimitNOFILE below ${2 * need}`)
  })

  it('the orchestrator unit hands the service its signing key as a credential', async () => {
    const s = await service('orchestrator')
    assert.equal(one(s, 'LoadCredential'), 'orchestrator.sec:/etc/narthex/orchestrator.sec')
    assert.ok(one(s, 'ExecStart').endsWith('--key %d/orchestrator.sec'))
  })

  /**
   * The unit's ExecStart with the install paths moved into `dir`: /usr/bin/env narthex → the built CLI, the
   * config file, the state directory and the credentials directory under `dir`.
   */
  async function execArgs(p: Program, dir: string): Promise<string[]> {
    const exec = one(await service(p), 'ExecStart')
    const words = exec.split(/\s+/)
    assert.deepEqual(words.slice(0, 3), ['/usr/bin/env', 'narthex', p])
    return words.slice(2).map((w) =>
      w
        .replace(`/etc/narthex/${p}.json`, join(dir, `${p}.json`))
        .replace(`/var/lib/narthex-${p}`, join(dir, 'state'))
        .replace('%d/', `${join(dir, 'credentials')}/`)
    )
  }

  const READY: Record<Program, RegExp> = {
    seeder: /narthex seeder listening/,
    shim: /narthex shim listening on/,
    orchestrator: /narthex orchestrator: listening on/
  }

  for (const p of PROGRAMS) {
    it(`narthex ${p} in its unit's system call sandbox, with its unit's flags, exits 0 on a SIGTERM sent the moment it is ready`, async () => {
      const timeoutStopMs = Number(one(await service(p), 'TimeoutStopSec').replace(/s$/, '')) * 1000
      const config: Record<Program, object> = {
        seeder: { listen: ['/ip4/127.0.0.1/tcp/0'], serveUnverified: true },
        shim: { listen: '127.0.0.1:0' },
        orchestrator: { listen: '127.0.0.1:0', quorum: 1, p2pListen: ['/ip4/127.0.0.1/tcp/0'] }
      }
      const file: Record<string, unknown> = { ...config[p] }
      if (p === 'orchestrator') {
        await mkdir(join(tmp.path, 'credentials'))
        const key = await narthex([
          'keygen',
          'orchestrator-1',
          '--out',
          join(tmp.path, 'credentials/orchestrator.sec')
        ])
        assert.equal(key.code, 0, key.stderr)
        const builder = await narthex(['keygen', 'builder-1', '--out', join(tmp.path, 'builder.sec')])
        file.trust = [builder.stdout.toString('utf8').trim()]
      }
      await writeFile(join(tmp.path, `${p}.json`), JSON.stringify(file))
      const cmd = await sandboxed(p, tmp.path, [
        process.execPath,
        NARTHEX_BIN,
        ...(await execArgs(p, tmp.path))
      ])
      const r = await sigtermWhenReady(cmd, READY[p], timeoutStopMs)
      const { code, stopMs } = r
      assert.equal(code, 0, `exit ${code} (signal ${r.signal}): ${r.stderr.slice(-1000)}`)
      // systemd would SIGKILL at TimeoutStopSec; the programs take about a second.
      assert.ok(stopMs < timeoutStopMs / 3, `stopped in ${stopMs} ms`)
    })
  }

  it("node runs in the units' system call sandbox; without @pkey it dies of SIGSYS, without AF_NETLINK it cannot list interfaces", async () => {
    const probe = [
      process.execPath,
      '-e',
      'console.log(Object.keys(require("os").networkInterfaces()).length)'
    ]
    const inUnit = await sandboxed('seeder', tmp.path, probe)
    const ok = await run(inUnit[0]!, inUnit.slice(1))
    assert.equal(ok.code, 0, ok.stderr)
    assert.ok(Number(ok.stdout.toString('utf8')) >= 1, 'os.networkInterfaces() lists the interfaces')
    // Why the units allow @pkey: V8 calls pkey_alloc at start (with the units' EPERM it would run unprotected).
    const noPkey = await sandboxed('seeder', tmp.path, probe, ['@pkey'])
    const killed = await run(noPkey[0]!, noPkey.slice(1))
    assert.equal(killed.signal, 'SIGSYS')
    // Why they allow AF_NETLINK: libp2p expands a 0.0.0.0 listen address with os.networkInterfaces().
    const noNetlink = await sandboxed('seeder', tmp.path, probe, ['AF_NETLINK'])
    const failed = await run(noNetlink[0]!, noNetlink.slice(1))
    assert.notEqual(failed.code, 0)
    assert.match(failed.stderr, /uv_interface_addresses/)
  })

  it('a seeder in its unit sandbox imports a local Nix store path handed over by seed add (nix runs inside too)', async () => {
    const [path] = await nixBuild(
      tmp.path,
      `derivation { name = "services-seed"; system = builtins.currentSystem; builder = "/bin/sh";
        PATH = "/usr/bin:/bin"; args = [ "-c" "mkdir $out; echo sandboxed > $out/file" ]; }`,
      nixEnv(tmp.path)
    )
    await writeFile(
      join(tmp.path, 'seeder.json'),
      JSON.stringify({ listen: ['/ip4/127.0.0.1/tcp/0'], serveUnverified: true })
    )
    const cmd = await sandboxed('seeder', tmp.path, [
      process.execPath,
      NARTHEX_BIN,
      ...(await execArgs('seeder', tmp.path))
    ])
    const r = await sigtermWhenReady(cmd, READY.seeder, 30_000, async () => {
      const add = await narthex(['seed', 'add', '--data', join(tmp.path, 'state'), path!], {
        env: nixEnv(tmp.path)
      })
      assert.equal(add.code, 0, add.stderr)
      const status = await narthex(['seeder', 'status', '--data', join(tmp.path, 'state'), '--json'])
      assert.equal(status.code, 0, status.stderr)
      assert.equal(JSON.parse(status.stdout.toString('utf8')).nars.stored, 1)
    })
    assert.equal(r.error, undefined)
    assert.equal(r.code, 0, `exit ${r.code} (signal ${r.signal}): ${r.stderr.slice(-1000)}`)
  })
})

/** What test/fixtures/nixos-eval.nix returns. */
interface Evaluation {
  readonly services: Record<
    string,
    {
      readonly serviceConfig: Record<string, string>
      readonly unitConfig: Record<string, string>
      readonly environment?: Record<string, string>
      readonly wantedBy: string[]
      readonly path?: string[]
    }
  >
  readonly allowedTCPPorts: number[]
  readonly nixSettings: Record<string, string[]>
  readonly failedAssertions: string[]
  readonly undeclared: string[]
  readonly configFiles: Record<string, unknown>
  readonly package: string
}

/** Evaluate nix/module.nix with `config` (as JSON) through test/fixtures/nixos-eval.nix. */
async function evalModule(
  config: object,
  env: NodeJS.ProcessEnv
): Promise<{ code: number | null; value: Evaluation | undefined; stderr: string }> {
  const r = await run(
    'nix-instantiate',
    [
      '--eval',
      '--strict',
      '--json',
      // toFile writes each --config file to the store, and the evaluation reads it back.
      '--read-write-mode',
      join(REPO_ROOT, 'test/fixtures/nixos-eval.nix'),
      '--argstr',
      'configJson',
      JSON.stringify(config)
    ],
    { env, timeoutMs: 60_000 }
  )
  return {
    code: r.code,
    value: r.code === 0 ? JSON.parse(r.stdout.toString('utf8')) : undefined,
    stderr: r.stderr
  }
}

async function evalOk(config: object, env: NodeJS.ProcessEnv): Promise<Evaluation> {
  const r = await evalModule(config, env)
  assert.ok(r.code === 0 && r.value !== undefined, r.stderr)
  assert.deepEqual(r.value.undeclared, [], 'the module defines only declared options')
  return r.value
}

describe('NixOS module (nix/module.nix, evaluated offline against a stand-in lib)', function () {
  this.timeout(120_000)
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let env: NodeJS.ProcessEnv
  beforeEach(async () => {
    tmp = await tempDir('narthex-nixos-')
    env = nixEnv(tmp.path)
  })
  afterEach(() => tmp.cleanup())

  it('parses with nix-instantiate --parse', async () => {
    await runOk('nix-instantiate', ['--parse', join(REPO_ROOT, 'nix/module.nix')], { env })
  })

  it('defines nothing while disabled', async () => {
    const v = await evalOk({ services: { narthex: { seeder: { settings: { quota: '1G' } } } } }, env)
    assert.deepEqual(v.services, {})
    assert.deepEqual(v.allowedTCPPorts, [])
    assert.deepEqual(v.nixSettings, {})
    assert.deepEqual(v.failedAssertions, [])
  })

  it('runs the seeder with its settings as a JSON file in the store and the units sandboxing', async () => {
    const settings = {
      orchestrator: 'https://orchestrator.example',
      bootstrap: ['/dns4/orchestrator.example/tcp/4001/p2p/12D3KooWExample'],
      quota: '50G',
      maxPeers: 32,
      mirror: true
    }
    const v = await evalOk(
      { services: { narthex: { seeder: { enable: true, settings, extraFlags: ['--upload-rate', '4M'] } } } },
      env
    )
    assert.deepEqual(Object.keys(v.services), ['narthex-seeder'])
    const svc = v.services['narthex-seeder']
    const exec: string = svc.serviceConfig.ExecStart
    const m =
      /^(\S+)\/bin\/narthex seeder --config (\/nix\/store\/[a-z0-9]{32}-narthex-seeder\.json) --data \/var\/lib\/narthex-seeder --upload-rate 4M$/.exec(
        exec
      )
    assert.ok(m !== null, exec)
    assert.equal(m[1], v.package)
    assert.deepEqual(v.configFiles['narthex-seeder'], settings)
    assert.deepEqual(svc.wantedBy, ['multi-user.target'])
    assert.ok(svc.path?.length === 1 && /-nix-/.test(svc.path[0]!), 'nix on PATH for seed add of store paths')

    // The same directives as contrib/systemd/narthex-seeder.service, line for line.
    const unit = await service('seeder')
    const fromUnit = Object.fromEntries(
      [...unit].filter(([k]) => k !== 'ExecStart' && k !== 'Environment').map(([k, vs]) => [k, vs.join(' ')])
    )
    const { ExecStart: _, ...fromModule } = svc.serviceConfig
    assert.deepEqual(fromModule, fromUnit)
    assert.deepEqual(svc.environment, environment(unit))
    assert.deepEqual(svc.unitConfig, await unitLimits('seeder'))
    assert.deepEqual(v.allowedTCPPorts, [], 'the firewall stays closed without openFirewall')
  })

  it('opens the seeder listen ports with openFirewall', async () => {
    const dflt = await evalOk(
      { services: { narthex: { seeder: { enable: true, openFirewall: true } } } },
      env
    )
    assert.deepEqual(dflt.allowedTCPPorts, [4001])
    const listen = ['/ip4/0.0.0.0/tcp/4101', '/ip6/::/tcp/4102', '/ip4/0.0.0.0/tcp/0']
    const set = await evalOk(
      { services: { narthex: { seeder: { enable: true, openFirewall: true, settings: { listen } } } } },
      env
    )
    assert.deepEqual(set.allowedTCPPorts, [4101, 4102])
  })

  it('runs the shim with the units sandboxing and makes Nix use it with configureNix', async () => {
    const key = 'narthex-1:bKWVg6ABulvYRF4QVp/CKgBXLY4lGYxCV01kBeKGtAY='
    const settings = { orchestrator: 'https://orchestrator.example', orchestratorKeys: [key] }
    const v = await evalOk(
      { services: { narthex: { shim: { enable: true, configureNix: true, settings } } } },
      env
    )
    const svc = v.services['narthex-shim']
    assert.match(
      svc.serviceConfig.ExecStart,
      /\/bin\/narthex shim --config \/nix\/store\/\S+-narthex-shim\.json --data \/var\/lib\/narthex-shim$/
    )
    assert.deepEqual(v.configFiles['narthex-shim'], settings)
    const unit = await service('shim')
    const fromUnit = Object.fromEntries(
      [...unit].filter(([k]) => k !== 'ExecStart').map(([k, vs]) => [k, vs.join(' ')])
    )
    const { ExecStart: _, ...fromModule } = svc.serviceConfig
    assert.deepEqual(fromModule, fromUnit)
    assert.deepEqual(svc.unitConfig, await unitLimits('shim'))
    assert.deepEqual(v.nixSettings, {
      substituters: ['http://127.0.0.1:37515'],
      'trusted-public-keys': [key]
    })
    assert.deepEqual(v.failedAssertions, [])

    const v6 = await evalOk(
      {
        services: {
          narthex: {
            shim: {
              enable: true,
              configureNix: true,
              trustedPublicKeys: [key],
              settings: { listen: '[::1]:37600' }
            }
          }
        }
      },
      env
    )
    assert.deepEqual(v6.nixSettings.substituters, ['http://[::1]:37600'])
    const off = await evalOk({ services: { narthex: { shim: { enable: true, settings } } } }, env)
    assert.deepEqual(off.nixSettings, {}, 'nix.settings untouched without configureNix')
  })

  it('refuses configureNix without the orchestrator key, and a wrongly typed option', async () => {
    const v = await evalOk({ services: { narthex: { shim: { enable: true, configureNix: true } } } }, env)
    assert.equal(v.failedAssertions.length, 1)
    assert.match(v.failedAssertions[0], /trustedPublicKeys/)
    const bad = await evalModule({ services: { narthex: { seeder: { enable: 'yes' } } } }, env)
    assert.notEqual(bad.code, 0)
    assert.match(bad.stderr, /services\.narthex\.seeder\.enable/)
  })

  it('quotes extra flags for systemd (%, $ and spaces survive)', async () => {
    const v = await evalOk(
      {
        services: {
          narthex: { seeder: { enable: true, extraFlags: ['--upstream', 'https://c.example/a b%$'] } }
        }
      },
      env
    )
    assert.ok(
      v.services['narthex-seeder'].serviceConfig.ExecStart.endsWith(' --upstream "https://c.example/a b%%$$"')
    )
  })
})
