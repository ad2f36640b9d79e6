/**
 * `narthex demo`: a whole network on loopback in one data directory. Starts an orchestrator, builds and attests
 * a few derivations with two builders (one rebuilding with --check, so the non-reproducible output is disputed),
 * starts three seeders and hands them the agreed outputs, starts a shim, and substitutes the closure through the
 * shim into a fresh chroot store with the real `nix-store`. Then runs until SIGINT/SIGTERM (or stops at once with
 * `once`), stopping its programs in reverse order.
 */
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join, resolve } from 'node:path'
import { CLOSURE, formatExpression, NOISY } from './expression.js'
import { Child, DemoChildError, NARTHEX_BIN, runCommand } from './process.js'

export { DemoChildError } from './process.js'

export interface DemoOptions {
  /** Data directory: keys, every program's data, logs, the Nix expression and the client store. */
  readonly data: string
  /** Orchestrator HTTP port (0: any free one). */
  readonly port: number
  /** Shim HTTP port (0: any free one). */
  readonly shimPort: number
  /** Stop once the substitution was shown instead of waiting for a signal. */
  readonly once: boolean
  /** Where progress goes. */
  readonly out: NodeJS.WritableStream
}

/** Deadlines: programs start in a second or two; builds of these tiny derivations take seconds. */
const READY_MS = 30_000
const STOP_GRACE_MS = 5_000
const SUBSTITUTE_DEADLINE_MS = 60_000
const SEEDERS = 3
const ORCHESTRATOR_KEY_NAME = 'narthex-demo-1'
const BUILDERS = ['builder-1', 'builder-2'] as const

interface BuiltState {
  readonly nonce: string
  readonly outputs: Record<string, string>
}

/** Runs the demo; resolves to the exit status once every program it started has stopped. */
export async function runDemo(opts: DemoOptions): Promise<number> {
  const data = resolve(opts.data)
  const say = (s: string) => opts.out.write(`narthex demo: ${s}\n`)
  // A closed stdout (the reader went away) must not crash the demo before it stops its programs; the listener
  // stays for the process's last lines.
  const ignore = () => {}
  opts.out.on('error', ignore)
  const logs = join(data, 'logs')
  const run = join(data, 'run')
  for (const d of [data, logs, run, join(data, 'keys'), join(data, 'nix')])
    await mkdir(d, { recursive: true })
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NIX_CONFIG:
      process.env.NIX_CONFIG ??
      [
        'experimental-features = nix-command',
        'build-users-group =',
        'sandbox = false',
        'substituters ='
      ].join('\n')
  }

  const children: Child[] = []
  const stopping = new AbortController()
  const onSignal = (sig: NodeJS.Signals) => {
    if (!stopping.signal.aborted) say(`${sig}: stopping`)
    stopping.abort()
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  const start = async (name: string, args: string[]): Promise<Child> => {
    if (stopping.signal.aborted) throw new StoppedError()
    const c = new Child({ name, args, logDir: logs, env })
    children.push(c)
    await writeFile(
      join(run, 'pids.json'),
      `${JSON.stringify(Object.fromEntries(children.map((x) => [x.name, x.pid ?? null])))}\n`
    )
    return c
  }
  const ready = async (c: Child, pattern: RegExp): Promise<RegExpMatchArray> => {
    const aborted = new Promise<never>((_, reject) => {
      if (stopping.signal.aborted) reject(new StoppedError())
      stopping.signal.addEventListener('abort', () => reject(new StoppedError()), { once: true })
    })
    return Promise.race([c.waitForLine(pattern, READY_MS), aborted])
  }

  let status = 0
  try {
    say(`data directory ${data} (logs in ${logs})`)
    await stopLeftovers(run, data, say)
    const keys = await ensureKeys(data, env)

    const port = await choosePort(opts.port, 'orchestrator', say)
    const orch = await start('orchestrator', [
      'orchestrator',
      '--data',
      join(data, 'orchestrator'),
      '--key',
      keys.orchestrator.secret,
      ...BUILDERS.flatMap((b) => ['--trust', keys[b].public]),
      '--quorum',
      '2',
      '--listen',
      `127.0.0.1:${port}`
    ])
    const url = (await ready(orch, /narthex orchestrator: listening on (\S+)/))[1]!
    const bootstrap = (await ready(orch, /narthex orchestrator: bootstrap (\S+)/))[1]!
    say(`orchestrator at ${url} (pid ${orch.pid})`)

    const built = await buildOnce(data, url, keys, env, say, stopping.signal)
    const agreed = CLOSURE.map((a) => built.outputs[a]!)
    const top = built.outputs.app!

    // The seeders start side by side: each takes a few seconds (libp2p node, DHT, store).
    const seeders: { dir: string; child: Child }[] = []
    for (let i = 1; i <= SEEDERS; i++) {
      const dir = join(data, `seeder-${i}`)
      const child = await start(`seeder-${i}`, [
        'seeder',
        '--data',
        dir,
        '--listen',
        '/ip4/127.0.0.1/tcp/0',
        '--bootstrap',
        bootstrap,
        '--allow-private',
        '--orchestrator',
        url
      ])
      seeders.push({ dir, child })
    }
    await Promise.all(
      seeders.map(async ({ dir, child }) => {
        await ready(child, /narthex seeder listening (\S+)/)
        const r = await runCommand(undefined, ['seed', 'add', '--data', dir, ...agreed], env, {
          signal: stopping.signal
        })
        if (r.code !== 0)
          throw new DemoChildError(`seed add to ${child.name} failed: ${r.stderr.trim() || r.stdout.trim()}`)
        say(`${child.name} (pid ${child.pid}) seeds ${agreed.length} NARs`)
      })
    )

    const shimPort = await choosePort(opts.shimPort, 'shim', say)
    const shim = await start('shim', [
      'shim',
      '--data',
      join(data, 'shim'),
      '--orchestrator',
      url,
      '--bootstrap',
      bootstrap,
      '--allow-private',
      '--orchestrator-key',
      keys.orchestrator.public,
      '--listen',
      `127.0.0.1:${shimPort}`
    ])
    const shimUrl = (await ready(shim, /narthex shim listening on (\S+)/))[1]!
    say(`shim at ${shimUrl} (pid ${shim.pid})`)

    await reportConsensus(url, say)

    const client = join(data, 'client')
    const cache = join(data, 'client-cache')
    const nixArgs = [
      '--store',
      client,
      '-r',
      top,
      '--option',
      'substituters',
      shimUrl,
      '--option',
      'trusted-public-keys',
      keys.orchestrator.public
    ]
    opts.out.write(
      `\nDashboard:  ${url}/\n` +
        `Substitute through the shim (into a chroot store, so nothing is already there):\n` +
        `  XDG_CACHE_HOME=${cache} nix-store ${nixArgs.map(shellQuote).join(' ')}\n\n`
    )
    await substitute(client, cache, nixArgs, top, env, say, stopping.signal)
    say('ready')

    if (!opts.once) {
      say('running; Ctrl-C stops every program (data is kept for the next start)')
      await new Promise<void>((resolve) => {
        if (stopping.signal.aborted) resolve()
        stopping.signal.addEventListener('abort', () => resolve(), { once: true })
        // A program that dies on its own ends the demo too.
        for (const c of children)
          void c.exited.then(() => {
            if (stopping.signal.aborted) return
            say(`${c.name} exited unexpectedly; see ${c.logFile}`)
            status = 1
            resolve()
          })
      })
    }
  } catch (err) {
    if (err instanceof StoppedError) {
      // A signal during start-up: stop what was started, exit 0 like a normal Ctrl-C.
    } else {
      say(`failed: ${(err as Error).message}`)
      status = 1
    }
  } finally {
    // Reverse order by tier: the shim, then the seeders together, then the orchestrator.
    const tiers = [
      children.filter((c) => c.name === 'shim'),
      children.filter((c) => c.name.startsWith('seeder-')),
      children.filter((c) => c.name === 'orchestrator')
    ]
    for (const tier of tiers)
      await Promise.all(
        tier.map(async (c) => {
          await c.stop(STOP_GRACE_MS)
          say(`stopped ${c.name}`)
        })
      )
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
  say(`stopped cleanly; data kept in ${data}`)
  return status
}

class StoppedError extends Error {
  override readonly name = 'StoppedError'
}

interface KeyFiles {
  readonly secret: string
  readonly public: string
}

/** The orchestrator's and builders' keys, generated with `narthex keygen` on the first start and reused after. */
async function ensureKeys(
  data: string,
  env: NodeJS.ProcessEnv
): Promise<Record<'orchestrator' | (typeof BUILDERS)[number], KeyFiles>> {
  const one = async (file: string, name: string): Promise<KeyFiles> => {
    const secret = join(data, 'keys', `${file}.sec`)
    const pub = join(data, 'keys', `${file}.pub`)
    if (!existsSync(secret)) {
      const r = await runCommand(undefined, ['keygen', name, '--out', secret], env)
      if (r.code !== 0) throw new DemoChildError(`keygen ${name} failed: ${r.stderr.trim()}`)
      await writeFile(pub, r.stdout)
    }
    return { secret, public: (await readFile(pub, 'utf8')).trim() }
  }
  return {
    orchestrator: await one('orchestrator', ORCHESTRATOR_KEY_NAME),
    'builder-1': await one('builder-1', 'builder-1'),
    'builder-2': await one('builder-2', 'builder-2')
  }
}

/**
 * Build and attest with builder-1, rebuild with --check and attest with builder-2. Done once per data directory
 * (recorded in nix/state.json): a second --check would attest yet another result for the noisy output.
 */
async function buildOnce(
  data: string,
  url: string,
  keys: Awaited<ReturnType<typeof ensureKeys>>,
  env: NodeJS.ProcessEnv,
  say: (s: string) => void,
  signal: AbortSignal
): Promise<BuiltState> {
  const stateFile = join(data, 'nix', 'state.json')
  if (existsSync(stateFile)) {
    const state = JSON.parse(await readFile(stateFile, 'utf8')) as BuiltState
    const paths = Object.values(state.outputs)
    const valid = await runCommand('nix-store', ['--check-validity', ...paths], env, { signal })
    if (valid.code === 0) {
      say(`reusing ${paths.length} outputs built and attested on an earlier start`)
      return state
    }
    say('outputs of an earlier start are gone from the Nix store: building again')
  }
  const nonceFile = join(data, 'nix', 'nonce')
  if (!existsSync(nonceFile)) await writeFile(nonceFile, `${randomBytes(8).toString('hex')}\n`)
  const nonce = (await readFile(nonceFile, 'utf8')).trim()
  const expr = join(data, 'nix', 'demo.nix')
  await writeFile(expr, formatExpression(nonce))

  const outputs: Record<string, string> = {}
  for (const [i, b] of BUILDERS.entries()) {
    const args = [
      'build',
      '--orchestrator',
      url,
      '--key',
      keys[b].secret,
      ...(i > 0 ? ['--check'] : []),
      expr
    ]
    say(`${b}: narthex ${args.join(' ')}`)
    const r = await runCommand(undefined, args, env, { signal })
    for (const line of r.stdout.split('\n').filter(Boolean)) {
      say(`  ${line}`)
      const path = line.split(' ')[0] ?? ''
      const m = path.match(/^\/nix\/store\/[a-z0-9]{32}-narthex-demo-([a-z]+)$/)
      if (m && i === 0) outputs[m[1]!] = path
    }
    if (r.code !== 0) throw new DemoChildError(`${b} failed (${r.code}): ${r.stderr.trim()}`)
  }
  for (const a of [...CLOSURE, NOISY])
    if (outputs[a] === undefined) throw new DemoChildError(`builder-1 did not report the ${a} output`)
  const state: BuiltState = { nonce, outputs }
  await writeFile(stateFile, `${JSON.stringify(state, null, 2)}\n`)
  return state
}

/** Print the orchestrator's summary and its disputed outputs. */
async function reportConsensus(url: string, say: (s: string) => void): Promise<void> {
  const summary = (await (await fetch(`${url}/api/v1/summary`)).json()) as {
    outputs: { agreed: number; pending: number; disputed: number }
  }
  const o = summary.outputs
  say(`orchestrator: ${o.agreed} agreed, ${o.pending} pending, ${o.disputed} disputed`)
  const disputed = (await (await fetch(`${url}/api/v1/outputs?status=disputed`)).json()) as {
    outputs: { outPath: string }[]
  }
  for (const d of disputed.outputs) say(`disputed: ${d.outPath}`)
}

/**
 * Run the printed nix-store command into a fresh chroot store, retrying until the seeders' announcements are
 * found (each try with a fresh Nix cache, as Nix remembers a missing narinfo), then check the closure is valid.
 */
async function substitute(
  client: string,
  cache: string,
  nixArgs: string[],
  top: string,
  env: NodeJS.ProcessEnv,
  say: (s: string) => void,
  signal: AbortSignal
): Promise<void> {
  const deadline = Date.now() + SUBSTITUTE_DEADLINE_MS
  for (let attempt = 1; ; attempt++) {
    await rm(client, { recursive: true, force: true })
    await rm(cache, { recursive: true, force: true })
    const r = await runCommand('nix-store', nixArgs, { ...env, XDG_CACHE_HOME: cache }, { signal })
    if (r.code === 0) {
      say(`nix-store -r succeeded: ${r.stdout.trim()}`)
      for (const l of r.stderr.split('\n').filter((l) => l.includes('copying path'))) say(`  ${l.trim()}`)
      break
    }
    if (Date.now() > deadline) throw new DemoChildError(`nix-store -r failed: ${r.stderr.trim()}`)
    say(`nix-store -r attempt ${attempt} failed (seeders still announcing?); trying again`)
    await new Promise((r) => setTimeout(r, 1000))
  }
  const v = await runCommand('nix-store', ['--store', client, '--check-validity', top], env, { signal })
  if (v.code !== 0) throw new DemoChildError(`nix-store --check-validity failed: ${v.stderr.trim()}`)
  say(`nix-store --store ${client} --check-validity ${top}: valid`)
}

/**
 * Programs a previous demo on this data directory left running (it was killed without a chance to stop them):
 * they hold the databases and sockets, so they are stopped first. Only a recorded pid whose command line is this
 * binary with this data directory is signalled.
 */
async function stopLeftovers(run: string, data: string, say: (s: string) => void): Promise<void> {
  let pids: Record<string, number | null>
  try {
    pids = JSON.parse(await readFile(join(run, 'pids.json'), 'utf8')) as Record<string, number | null>
  } catch {
    return
  }
  // Reverse start order, like a normal stop.
  for (const [name, pid] of Object.entries(pids).reverse()) {
    if (typeof pid !== 'number') continue
    let cmdline: string
    try {
      cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ')
    } catch {
      continue // gone (or no /proc)
    }
    if (!cmdline.includes(NARTHEX_BIN) || !cmdline.includes(data)) continue
    say(`stopping ${name} (pid ${pid}) left running by an earlier demo`)
    try {
      process.kill(pid, 'SIGTERM')
    } catch {
      continue
    }
    const deadline = Date.now() + STOP_GRACE_MS
    while (existsSync(`/proc/${pid}`) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
    if (existsSync(`/proc/${pid}`))
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // Gone meanwhile.
      }
  }
}

/** `preferred` if it is free on 127.0.0.1, otherwise 0 (any free port) with a message. */
async function choosePort(preferred: number, what: string, say: (s: string) => void): Promise<number> {
  if (preferred === 0) return 0
  const free = await new Promise<boolean>((resolve) => {
    const s = createServer()
    s.once('error', () => resolve(false))
    s.listen(preferred, '127.0.0.1', () => s.close(() => resolve(true)))
  })
  if (free) return preferred
  say(`port ${preferred} is in use: the ${what} takes a free port instead`)
  return 0
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`
}
