/**
 * Substitution benchmark (issue 6, the headline numbers): the real `nix-store -r` substituting the same
 * input-addressed NARs from nginx (a `compression=none` file cache, sendfile) and through the shim from two
 * seeders, into fresh chroot stores with fresh XDG_CACHE_HOMEs, interleaved round by round, medians and ratios.
 * Also the CPU time each process spent (seeders, shim, nginx, nix) and narinfo latency (curl, keep-alive).
 * See README.md.
 *
 *   pnpm bench substitute [--size-mib 256] [--paths 500] [--rounds 3] [--narinfo-requests 2000] [--warm-up]
 *
 * --warm-up: each round's fresh shim first substitutes other paths (a NAR of a quarter of --size-mib and a closure
 * of WARM_UP_PATHS + 1 tiny paths, agreed and held by the seeders like the others), untimed, so that the cold cases
 * meet code V8 has compiled, as in a shim that has run for a while; it still holds none of the measured NARs.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { loadavg } from 'node:os'
import { basename, join } from 'node:path'
import { parseArgs } from 'node:util'
import { requestStatus } from '@narthex/seeder'
import { requestShimStatus, type ShimStatus } from '@narthex/shim'
import { narthex, nixEnv, run, runOk, substituteArgs, tempDir, waitFor } from '../../test/util/index.js'
import { type Program, startProgram } from '../../test/util/network.js'

const NGINX = '/usr/sbin/nginx'
if (!existsSync(NGINX)) {
  // the baseline this benchmark exists to compare against: without it there is nothing to measure
  console.error(`${NGINX} not found: install nginx first (apt-get install -y nginx)`)
  process.exit(2)
}

process.env.NIX_CONFIG ??=
  'experimental-features = nix-command\nbuild-users-group =\nsandbox = false\nsubstituters ='

const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '256' },
    paths: { type: 'string', default: '500' },
    rounds: { type: 'string', default: '3' },
    'narinfo-requests': { type: 'string', default: '2000' },
    'keep-dir': { type: 'boolean', default: false },
    'warm-up': { type: 'boolean', default: false }
  }
})
const SIZE_MIB = Number(values['size-mib'])
const PATHS = Number(values.paths)
const ROUNDS = Number(values.rounds)
const NARINFO_REQUESTS = Number(values['narinfo-requests'])
const GIB = 1024 ** 3
/** --warm-up: tiny paths in the warm-up closure. */
const WARM_UP_PATHS = 50
/** BENCH_CPU_PROF=DIR: the shim and seeder processes write V8 CPU profiles there (node --cpu-prof) on exit. */
const PROF = process.env.BENCH_CPU_PROF
const progOpts = PROF === undefined ? {} : { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${PROF}`] }
const TICK = 100 // USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s on Linux

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!
const log = (s: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`)
const loads: number[] = []
const noteLoad = () => loads.push(loadavg()[0]!)

/** CPU seconds (user + system, all threads) of a process and, with `children`, of its direct children. */
async function cpuSeconds(pid: number, children = false): Promise<number> {
  const one = async (p: number) => {
    const stat = await readFile(`/proc/${p}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) / TICK
  }
  let total = await one(pid)
  if (children) {
    const kids = (await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')).trim().split(/\s+/)
    for (const k of kids) if (k !== '') total += await one(Number(k))
  }
  return total
}

async function freePort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  const { port } = srv.address() as { port: number }
  await new Promise((resolve) => srv.close(resolve))
  return port
}

/** nginx serving `root` as a static binary cache: unprivileged, own prefix, one worker, sendfile. */
async function startNginx(prefix: string, root: string) {
  const port = await freePort()
  await mkdir(join(prefix, 'tmp'), { recursive: true })
  const conf = join(prefix, 'nginx.conf')
  // Started as root, nginx's worker would switch to `nobody`, which cannot read the private temp directory.
  await writeFile(
    conf,
    `daemon off;
${process.getuid?.() === 0 ? 'user root;' : ''}
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 65;
  keepalive_requests 100000;
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
  types { text/x-nix-narinfo narinfo; }
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:${port};
    root ${root};
  }
}
`
  )
  const child = spawn(NGINX, ['-p', prefix, '-c', conf, '-e', join(prefix, 'error.log')], {
    stdio: 'ignore'
  })
  let spawnError: Error | undefined
  child.on('error', (err) => {
    spawnError = err
  })
  const url = `http://127.0.0.1:${port}`
  const stop = async () => {
    if (child.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGQUIT')
    await exited
  }
  try {
    await waitFor(
      'nginx to listen',
      async () => {
        if (spawnError !== undefined) throw spawnError
        if (child.exitCode !== null)
          throw new Error(
            `nginx exited ${child.exitCode}: ${await readFile(join(prefix, 'error.log'), 'utf8').catch(() => '')}`
          )
        return (await fetch(`${url}/nix-cache-info`)).ok
      },
      10_000
    )
  } catch (err) {
    await stop()
    throw err
  }
  return { url, pid: child.pid!, stop }
}

/** Sequential narinfo GETs on one keep-alive connection with curl (the client Nix uses), latencies in µs. */
async function curlLatencies(dir: string, url: string, n: number, expect: number): Promise<number[]> {
  const cfg = join(dir, `curl-${randomBytes(4).toString('hex')}.cfg`)
  await writeFile(cfg, `url = "${url}"\noutput = "/dev/null"\n`.repeat(n))
  const r = await runOk('curl', ['-s', '-K', cfg, '-w', '%{http_code} %{time_total}\\n'])
  const lines = r.stdout.toString().trim().split('\n')
  if (lines.length !== n) throw new Error(`curl: ${lines.length} answers for ${n} requests`)
  return lines.map((l) => {
    const [code, t] = l.split(' ')
    if (Number(code) !== expect) throw new Error(`${url}: ${code}, expected ${expect}`)
    return Number(t) * 1e6
  })
}

/** bench/substitute/node-static.ts serving `root`: the same files as nginx, through node:http (no sendfile). */
async function startNodeStatic(root: string) {
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', join(import.meta.dirname, 'node-static.ts'), root],
    { stdio: ['pipe', 'pipe', 'inherit'] }
  )
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /listening (\d+)\n/.exec(out)
      if (m !== null) resolve(Number(m[1]))
    })
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`node-static exited ${code}`)))
  })
  const stop = async () => {
    if (child.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.stdin!.end()
    await exited
  }
  return { url: `http://127.0.0.1:${port}`, pid: child.pid!, stop }
}

const dir = await tempDir('narthex-bench-substitute-')
const programs: Program[] = []
let nginx: Awaited<ReturnType<typeof startNginx>> | undefined
let nodeStatic: Awaited<ReturnType<typeof startNodeStatic>> | undefined
let fresh = 0
const freshPath = (what: string) => join(dir.path, `${what}-${fresh++}`)
try {
  noteLoad()
  const buildEnv = nixEnv(freshPath('xdg'), {
    NIX_CONFIG: `${process.env.NIX_CONFIG}\nmax-jobs = 4`
  })
  const key = async (name: string) => {
    const sec = join(dir.path, `${name}.sec`)
    const r = await narthex(['keygen', name, '--out', sec])
    if (r.code !== 0) throw new Error(r.stderr)
    return { sec, pub: r.stdout.toString().trim() }
  }
  const orchKey = await key('bench-orchestrator-1')
  const b1 = await key('bench-builder-1')
  const b2 = await key('bench-builder-2')
  const cacheKey = await key('bench-nginx-1')

  const orch = await startProgram(
    [
      'orchestrator',
      '--data',
      join(dir.path, 'orch'),
      '--listen',
      '127.0.0.1:0',
      '--key',
      orchKey.sec,
      '--quorum',
      '2',
      '--trust',
      b1.pub,
      '--trust',
      b2.pub,
      '--p2p-listen',
      '/ip4/127.0.0.1/tcp/0'
    ],
    /listening on (\S+)\n[\s\S]*bootstrap (\S+)\n|bootstrap (\S+)\n[\s\S]*listening on (\S+)\n/
  )
  programs.push(orch.program)
  const orchUrl = orch.match[1] ?? orch.match[4]!
  const bootstrap = orch.match[2] ?? orch.match[3]!

  // Real input-addressed derivations, built offline. The salt is fixed per shape, so a re-run reuses the outputs
  // already in /nix/store (only the network, caches and stores are fresh each run).
  const salt = `narthex-bench-substitute-1-${SIZE_MIB}-${PATHS}`
  const drv = (name: string, script: string, extra = '') =>
    `derivation { name = "${name}"; builder = "/bin/sh"; args = [ "-c" ${JSON.stringify(script)} ];` +
    ` PATH = "/usr/bin:/bin"; system = builtins.currentSystem; salt = "${salt}"; ${extra} }`
  const deps = Array.from({ length: PATHS }, (_, i) => `(${drv(`bench-dep-${i}`, `echo dep ${i} > $out`)})`)
  const warmDeps = Array.from(
    { length: WARM_UP_PATHS },
    (_, i) => `(${drv(`bench-warm-up-dep-${i}`, `echo warm-up dep ${i} > $out`)})`
  )
  const file = join(dir.path, 'bench.nix')
  await writeFile(
    file,
    `let deps = [ ${deps.join(' ')} ]; warmDeps = [ ${warmDeps.join(' ')} ]; in [
      (${drv('bench-big', `head -c ${SIZE_MIB * 1024 * 1024} /dev/urandom > $out`)})
      (${drv('bench-closure', 'mkdir $out; for d in $deps; do echo $d >> $out/deps; done', 'inherit deps;')})
      (${drv('bench-probe', 'echo probe > $out')})
      (${drv('bench-warm-up', `head -c ${Math.ceil((SIZE_MIB * 1024 * 1024) / 4)} /dev/urandom > $out`)})
      (${drv('bench-warm-up-closure', 'mkdir $out; for d in $deps; do echo $d >> $out/deps; done', 'deps = warmDeps;')})
    ] ++ deps ++ warmDeps`
  )
  let t = performance.now()
  log(`building a ${SIZE_MIB} MiB output and a closure of ${PATHS + 1} paths, attesting with two builders...`)
  const built = await narthex(['build', '--orchestrator', orchUrl, '--key', b1.sec, file], {
    env: buildEnv,
    timeoutMs: 600_000
  })
  if (built.code !== 0) throw new Error(`narthex build: ${built.stderr.slice(-2000)}`)
  const paths = (await runOk('nix-build', ['--no-out-link', file], { env: buildEnv })).stdout
    .toString()
    .trim()
    .split('\n')
  const out = (name: string) => paths.find((p) => basename(p).slice(33) === name)!
  const big = out('bench-big')
  const closure = out('bench-closure')
  const probe = out('bench-probe')
  const warmUp = out('bench-warm-up')
  const warmUpClosure = out('bench-warm-up-closure')
  const attested = await narthex(['attest', '--orchestrator', orchUrl, '--key', b2.sec, ...paths], {
    env: buildEnv,
    timeoutMs: 600_000
  })
  if (attested.code !== 0) throw new Error(`narthex attest: ${attested.stderr.slice(-2000)}`)
  for (const p of [big, closure, probe, warmUp, warmUpClosure]) {
    const r = await fetch(`${orchUrl}/${basename(p).slice(0, 32)}.narinfo`)
    if (r.status !== 200) throw new Error(`${p} is not agreed (${r.status})`)
  }
  log(`built and agreed in ${((performance.now() - t) / 1000).toFixed(1)} s`)

  // nginx: the same NARs from `nix copy --to file://...?compression=none`, narinfos signed by a cache key.
  t = performance.now()
  await runOk('nix', ['store', 'sign', '--key-file', cacheKey.sec, '-r', big, closure], { env: buildEnv })
  const cacheDir = join(dir.path, 'nginx-cache')
  await runOk('nix', ['copy', '--to', `file://${cacheDir}?compression=none`, big, closure], {
    env: buildEnv
  })
  nginx = await startNginx(join(dir.path, 'nginx'), cacheDir)
  nodeStatic = await startNodeStatic(cacheDir)
  const closureNarBytes = (await runOk('nix', ['path-info', '-S', closure], { env: buildEnv })).stdout
    .toString()
    .trim()
    .split(/\s+/)
    .map(Number)[1]!
  const bigNarBytes = Number(
    (await runOk('nix', ['path-info', '--json', big], { env: buildEnv })).stdout
      .toString()
      .match(/"narSize":(\d+)/)![1]
  )
  log(`nginx cache ready in ${((performance.now() - t) / 1000).toFixed(1)} s`)

  // Two seeders holding everything.
  t = performance.now()
  const seeders: { data: string; program: Program }[] = []
  for (let i = 0; i < 2; i++) {
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
      /^narthex seeder listening (\S+)\n/m,
      progOpts
    )
    programs.push(s.program)
    seeders.push({ data, program: s.program })
  }
  await Promise.all(
    seeders.map(async ({ data }) => {
      const r = await narthex(
        ['seed', 'add', '--data', data, '--closure', big, closure, probe, warmUp, warmUpClosure],
        {
          timeoutMs: 600_000
        }
      )
      if (r.code !== 0) throw new Error(`seed add: ${r.stderr}`)
    })
  )
  const expected = PATHS + 3 + 1 + WARM_UP_PATHS + 1
  await waitFor(
    'both seeders to publish and announce every NAR',
    async () => {
      for (const s of seeders) {
        const st = (await requestStatus(s.data)) as {
          nars: { published: number }
          announcements: { announced: number }
        }
        if (st.nars.published < expected || st.announcements.announced < expected) return false
      }
      return true
    },
    300_000
  )
  log(`seeders ready in ${((performance.now() - t) / 1000).toFixed(1)} s`)
  noteLoad()

  const trusted = `${orchKey.pub} ${cacheKey.pub}`
  /** `nix-store -r PATH` into STORE from URL, signatures required (every substitution, timed or not). */
  const nixStoreArgs = (store: string, path: string, url: string) => [
    ...substituteArgs(store, path, url, trusted),
    '--option',
    'require-sigs',
    'true'
  ]
  const seederPids = seeders.map((s) => s.program.child.pid!)

  // ---- one timed substitution, with the CPU time of every process involved ----
  interface Sample {
    wall: number
    cpu: Record<string, number>
  }
  const samples: Record<string, Sample[]> = {}
  async function substitute(
    label: string,
    path: string,
    url: string,
    server: { shim?: number; static?: number } = {}
  ): Promise<void> {
    const shimPid = server.shim
    const store = join(freshPath('chroot'), 'dst')
    const timeFile = freshPath('time')
    const before = {
      seeders: (await Promise.all(seederPids.map((p) => cpuSeconds(p)))).reduce((a, b) => a + b, 0),
      shim: shimPid === undefined ? 0 : await cpuSeconds(shimPid),
      static: server.static === undefined ? 0 : await cpuSeconds(server.static),
      nginx: await cpuSeconds(nginx!.pid, true)
    }
    const t0 = performance.now()
    const r = await run(
      '/usr/bin/time',
      ['-f', '%U %S', '-o', timeFile, 'nix-store', ...nixStoreArgs(store, path, url)],
      { env: nixEnv(freshPath('xdg')), timeoutMs: 600_000 }
    )
    const wall = (performance.now() - t0) / 1000
    if (r.code !== 0) throw new Error(`${label}: nix-store -r failed: ${r.stderr.slice(-2000)}`)
    const [u, s] = (await readFile(timeFile, 'utf8')).trim().split('\n').pop()!.split(' ').map(Number)
    const cpu = {
      nix: u! + s!,
      shim: shimPid === undefined ? 0 : (await cpuSeconds(shimPid)) - before.shim,
      static: server.static === undefined ? 0 : (await cpuSeconds(server.static)) - before.static,
      seeders:
        (await Promise.all(seederPids.map((p) => cpuSeconds(p)))).reduce((a, b) => a + b, 0) - before.seeders,
      nginx: (await cpuSeconds(nginx!.pid, true)) - before.nginx
    }
    samples[label] = [...(samples[label] ?? []), { wall, cpu }]
    log(`${label}: ${wall.toFixed(2)} s`)
    await rm(join(store, '..'), { recursive: true, force: true })
  }

  const startShim = async (name: string) => {
    const data = join(dir.path, name)
    const shim = await startProgram(
      [
        'shim',
        '--data',
        data,
        '--listen',
        '127.0.0.1:0',
        '--orchestrator',
        orchUrl,
        '--bootstrap',
        bootstrap,
        '--allow-private',
        '--no-seed'
      ],
      /listening on (http:\/\/\S+)\n/,
      progOpts
    )
    programs.push(shim.program)
    const url = shim.match[1]!
    // Joined: the probe path (agreed, held by both seeders) is deliverable, so the shim found its providers.
    await waitFor(
      'the shim to join the network',
      async () => (await fetch(`${url}/${basename(probe).slice(0, 32)}.narinfo`)).status === 200,
      60_000
    )
    return { url, data, program: shim.program, pid: shim.program.child.pid! }
  }
  /**
   * Every fetch finished and imported into the shim's store: no NAR in flight (fetching, or waiting for its
   * import: the shim imports once Nix's traffic pauses) and its spool directory empty.
   */
  const settled = (data: string) =>
    waitFor(
      'the shim to finish importing',
      async () =>
        ((await requestShimStatus(data)) as ShimStatus).fetches.inFlight === 0 &&
        (await readdir(join(data, 'tmp'))).length === 0,
      300_000
    )

  let shim: Awaited<ReturnType<typeof startShim>> | undefined
  for (let round = 0; round < ROUNDS; round++) {
    log(`round ${round + 1}/${ROUNDS} (load ${loadavg()[0]!.toFixed(2)})`)
    noteLoad()
    if (shim !== undefined) {
      await shim.program.stop()
      await rm(shim.data, { recursive: true, force: true })
    }
    // A fresh shim: joined, holding none of the NARs.
    shim = await startShim(`shim-${round}`)
    for (const path of values['warm-up'] ? [warmUp, warmUpClosure] : []) {
      const chroot = freshPath('chroot')
      const r = await run('nix-store', nixStoreArgs(join(chroot, 'dst'), path, shim.url), {
        env: nixEnv(freshPath('xdg')),
        timeoutMs: 600_000
      })
      if (r.code !== 0) throw new Error(`warm-up: nix-store -r failed: ${r.stderr.slice(-2000)}`)
      await rm(chroot, { recursive: true, force: true })
      await settled(shim.data)
    }
    const nginxFirst = round % 2 === 0
    /** nginx and the shim; on warm cases node-static too (a cold one is about the swarm, not serving). */
    const pair = async (what: string, path: string, withStatic = false) => {
      type Run = [string, string, { shim?: number; static?: number }]
      const runs: Run[] = [
        [`${what} nginx`, nginx!.url, {}],
        ...(withStatic ? [[`${what} node`, nodeStatic!.url, { static: nodeStatic!.pid }] as Run] : []),
        [`${what} shim`, shim!.url, { shim: shim!.pid }]
      ]
      for (const [label, url, server] of nginxFirst ? runs : runs.reverse()) {
        await substitute(label, path, url, server)
        // The shim imports what it fetched after Nix has it: let that finish before the next server's run, so
        // that each is measured alone (in rounds where the shim went first, nginx's cold 256 MiB used to share
        // the CPU with the shim's import of it).
        if (server.shim !== undefined) await settled(shim!.data)
      }
    }
    await pair('big cold', big)
    await pair('closure cold', closure)
    await pair('big warm', big, true)
    await pair('closure warm', closure, true)
  }
  noteLoad()

  // ---- narinfo latency (on the last, warm shim) ----
  log('narinfo latency...')
  const hit = `/${basename(big).slice(0, 32)}.narinfo`
  const miss = `/${randomBytes(16)
    .toString('hex')
    .slice(0, 32)
    .replace(/[eotu]/g, '0')}.narinfo`
  const lat: Record<string, number[]> = {}
  for (let i = 0; i < 2; i++) {
    for (const [name, base] of [
      ['nginx', nginx.url],
      ['shim', shim!.url]
    ] as const) {
      const h = await curlLatencies(dir.path, base + hit, NARINFO_REQUESTS, 200)
      const m = await curlLatencies(dir.path, base + miss, NARINFO_REQUESTS, 404)
      lat[`hit ${name}`] = [...(lat[`hit ${name}`] ?? []), ...h]
      lat[`miss ${name}`] = [...(lat[`miss ${name}`] ?? []), ...m]
    }
  }
  noteLoad()

  // ---- report ----
  const wall = (label: string) => median(samples[label]!.map((s) => s.wall))
  const range = (label: string) => {
    const w = samples[label]!.map((s) => s.wall)
    return `${Math.min(...w).toFixed(2)}..${Math.max(...w).toFixed(2)}`
  }
  const cpu = (label: string, proc: string) => median(samples[label]!.map((s) => s.cpu[proc]!))
  console.log(
    `\nsubstitute benchmark: one ${SIZE_MIB} MiB NAR (${bigNarBytes} bytes) and a closure of ${PATHS + 1} paths ` +
      `(${closureNarBytes} NAR bytes), ${ROUNDS} interleaved rounds, medians (min..max)` +
      `${values['warm-up'] ? '; each fresh shim warmed up on other paths first (--warm-up)' : ''}\n`
  )
  console.log(
    '| case | nginx (s) | shim (s) | shim / nginx | goal | node:http static (s) | node:http static / nginx |'
  )
  console.log('| --- | ---: | ---: | ---: | --- | ---: | ---: |')
  for (const [what, goal] of [
    ['big cold', '≤ 1.5'],
    ['big warm', '≤ 1.1'],
    ['closure cold', '≤ 1.5'],
    ['closure warm', '≤ 1.1']
  ] as const) {
    const n = wall(`${what} nginx`)
    const s = wall(`${what} shim`)
    const node = samples[`${what} node`] === undefined ? undefined : wall(`${what} node`)
    console.log(
      `| ${what} | ${n.toFixed(2)} (${range(`${what} nginx`)}) | ${s.toFixed(2)} (${range(`${what} shim`)}) | ` +
        `${(s / n).toFixed(2)} | ${goal} | ` +
        (node === undefined
          ? '| |'
          : `${node.toFixed(2)} (${range(`${what} node`)}) | ${(node / n).toFixed(2)} |`)
    )
  }
  console.log(
    '\nCPU seconds per GiB of NAR delivered (big NAR), median per run; per closure run for the closure:\n'
  )
  console.log('| case | nix | nginx | shim | seeders (2) | node:http static |')
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |')
  for (const what of ['big cold', 'big warm']) {
    const per = bigNarBytes / GIB
    const f = (x: number) => (x / per).toFixed(2)
    console.log(
      `| ${what} via nginx | ${f(cpu(`${what} nginx`, 'nix'))} | ${f(cpu(`${what} nginx`, 'nginx'))} | | | |`
    )
    console.log(
      `| ${what} via shim | ${f(cpu(`${what} shim`, 'nix'))} | | ${f(cpu(`${what} shim`, 'shim'))} | ${f(cpu(`${what} shim`, 'seeders'))} | |`
    )
    if (samples[`${what} node`] !== undefined)
      console.log(
        `| ${what} via node:http static | ${f(cpu(`${what} node`, 'nix'))} | | | | ${f(cpu(`${what} node`, 'static'))} |`
      )
  }
  for (const what of ['closure cold', 'closure warm']) {
    const f = (x: number) => `${x.toFixed(2)} s`
    console.log(
      `| ${what} via nginx | ${f(cpu(`${what} nginx`, 'nix'))} | ${f(cpu(`${what} nginx`, 'nginx'))} | | | |`
    )
    console.log(
      `| ${what} via shim | ${f(cpu(`${what} shim`, 'nix'))} | | ${f(cpu(`${what} shim`, 'shim'))} | ${f(cpu(`${what} shim`, 'seeders'))} | |`
    )
    if (samples[`${what} node`] !== undefined)
      console.log(
        `| ${what} via node:http static | ${f(cpu(`${what} node`, 'nix'))} | | | | ${f(cpu(`${what} node`, 'static'))} |`
      )
  }
  console.log(
    `\nnarinfo latency, curl, ${NARINFO_REQUESTS} × 2 sequential GETs on one keep-alive connection:\n`
  )
  console.log('| request | nginx p50 / p99 (µs) | shim p50 / p99 (µs) | shim p50 / nginx p50 | goal |')
  console.log('| --- | ---: | ---: | ---: | --- |')
  for (const what of ['hit', 'miss']) {
    const n = lat[`${what} nginx`]!
    const s = lat[`${what} shim`]!
    console.log(
      `| ${what} | ${median(n).toFixed(0)} / ${pct(n, 0.99).toFixed(0)} | ${median(s).toFixed(0)} / ${pct(s, 0.99).toFixed(0)} | ` +
        `${(median(s) / median(n)).toFixed(2)} | p50 < 1000 µs |`
    )
  }
  console.log(
    `\nload average (1 min) during the run: ${loads.map((l) => l.toFixed(2)).join(', ')} (median ${median(loads).toFixed(2)})`
  )
} finally {
  for (const p of programs.reverse()) await p.stop().catch(() => {})
  await nginx?.stop().catch(() => {})
  await nodeStatic?.stop().catch(() => {})
  if (values['keep-dir']) log(`kept ${dir.path}`)
  else await dir.cleanup()
}
