/**
 * The `narthex` dispatcher: takes the global flags (--log-format, --log-level, --quiet) from anywhere in argv,
 * finds the command named by the leading words of the rest, loads its module lazily (so `narthex nar hash` does not
 * load libp2p), runs it with a logger, and turns errors into one-line messages and exit statuses: 0 success,
 * 1 failure, 2 usage error.
 */
import type { Command, CommandIo, Io } from './command.js'
import { UsageError } from './errors.js'
import { explain } from './explain.js'
import {
  bridgeDebug,
  createLogger,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFormat,
  type LogLevel,
  parseLogFormat,
  parseLogLevel
} from './log.js'

interface Entry {
  readonly summary: string
  readonly load: () => Promise<{ command: Command }>
}

/** Every command, keyed by the words that name it. Keep sorted; `narthex --help` prints them in this order. */
export const COMMANDS: Readonly<Record<string, Entry>> = {
  attest: {
    summary: 'attest store paths already built: measure, sign, submit to the orchestrator',
    load: () => import('./commands/attest.js')
  },
  build: {
    summary: 'build with nix (or rebuild with --check) and attest every output',
    load: () => import('./commands/build.js')
  },
  demo: {
    summary: 'start a whole network on loopback and show Nix using it',
    load: () => import('./commands/demo.js')
  },
  fetch: { summary: 'download one NAR from the swarm to stdout', load: () => import('./commands/fetch.js') },
  keygen: { summary: 'generate a Nix signing key pair', load: () => import('./commands/keygen.js') },
  'nar dump': {
    summary: 'serialise a path as a NAR to stdout',
    load: () => import('./commands/nar-dump.js')
  },
  'nar hash': { summary: 'print the NAR hash of a path', load: () => import('./commands/nar-hash.js') },
  'nar ls': { summary: 'list the entries of a NAR from stdin', load: () => import('./commands/nar-ls.js') },
  'nar restore': {
    summary: 'restore a NAR from stdin to a path',
    load: () => import('./commands/nar-restore.js')
  },
  'narinfo sign': {
    summary: 'add a signature to a narinfo (stdin to stdout)',
    load: () => import('./commands/narinfo-sign.js')
  },
  'narinfo verify': {
    summary: 'check that a narinfo (stdin) is signed by a trusted key',
    load: () => import('./commands/narinfo-verify.js')
  },
  'seed add': {
    summary: 'hand store paths or a binary cache to the running seeder',
    load: () => import('./commands/seed-add.js')
  },
  seeder: {
    summary: 'run a seeder: serve and announce the NARs of a store',
    load: () => import('./commands/seeder.js')
  },
  'seeder status': {
    summary: 'show what the running seeder of a data directory is doing',
    load: () => import('./commands/seeder-status.js')
  },
  shim: { summary: 'run the local Nix substituter', load: () => import('./commands/shim.js') },
  status: {
    summary: 'show peers, stored NARs, recent fetches and errors of a running seeder or shim',
    load: () => import('./commands/status.js')
  },
  'store cat': { summary: 'write a stored NAR to stdout', load: () => import('./commands/store-cat.js') },
  'store gc': {
    summary: 'evict least recently used NARs to fit a size; remove leftovers',
    load: () => import('./commands/store-gc.js')
  },
  'store import': {
    summary: 'import store paths from the local Nix store or a binary cache',
    load: () => import('./commands/store-import.js')
  },
  'store ls': { summary: 'list the NARs in the store', load: () => import('./commands/store-ls.js') },
  'store verify': {
    summary: 're-hash every stored chunk; quarantine and report what is corrupt',
    load: () => import('./commands/store-verify.js')
  },
  orchestrator: {
    summary: 'run the orchestrator: k-of-n agreement, signed narinfos, dashboard',
    load: () => import('./commands/orchestrator.js')
  }
}

const USAGE = `narthex: a peer-to-peer, content-addressed network for Nix binaries

Usage: narthex [global flags] <command> [flags]     (narthex <command> --help for its flags)

Global flags (anywhere on the line):
  --log-format text|json   log lines for people (default) or one JSON object per line ($NARTHEX_LOG_FORMAT)
  --log-level LEVEL        error, warn, info (default) or debug ($NARTHEX_LOG_LEVEL); debug adds the
                           narthex:* debug output
  --quiet                  no progress bars or progress lines

Commands:
${Object.entries(COMMANDS)
  .map(([name, e]) => `  ${name.padEnd(20)} ${e.summary}`)
  .join('\n')}
`

/** The longest key of COMMANDS that prefixes `args`, so `nar dump x` finds `nar dump` before `nar`. */
function lookup(args: string[]): [string, Entry, string[]] | undefined {
  for (let n = Math.min(args.length, 3); n > 0; n--) {
    const name = args.slice(0, n).join(' ')
    const entry = COMMANDS[name]
    if (entry !== undefined) return [name, entry, args.slice(n)]
  }
  return undefined
}

export interface GlobalFlags {
  readonly logFormat: LogFormat
  readonly logLevel: LogLevel
  readonly quiet: boolean
  /** argv without the global flags. */
  readonly rest: string[]
}

/**
 * Take the global flags out of argv (before a `--`). Flags win over NARTHEX_LOG_FORMAT / NARTHEX_LOG_LEVEL; with
 * neither, DEBUG set in the environment means debug level (so `DEBUG=narthex:* narthex ...` shows its output).
 */
export function parseGlobalFlags(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): GlobalFlags {
  let format: string | undefined
  let level: string | undefined
  let quiet = false
  const rest: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--') {
      rest.push(...argv.slice(i))
      break
    }
    const m = /^--(log-format|log-level)(?:=(.*))?$/.exec(a)
    if (m !== null) {
      const value = m[2] ?? argv[++i]
      if (value === undefined) throw new UsageError(`--${m[1]} needs a value`)
      if (m[1] === 'log-format') format = value
      else level = value
    } else if (a === '--quiet') {
      quiet = true
    } else {
      rest.push(a)
    }
  }
  format ??= env.NARTHEX_LOG_FORMAT || 'text'
  level ??= env.NARTHEX_LOG_LEVEL || (env.DEBUG ? 'debug' : 'info')
  const logFormat = parseLogFormat(format)
  if (logFormat === undefined)
    throw new UsageError(`--log-format ${JSON.stringify(format)}: use one of ${LOG_FORMATS.join(', ')}`)
  const logLevel = parseLogLevel(level)
  if (logLevel === undefined)
    throw new UsageError(`--log-level ${JSON.stringify(level)}: use one of ${LOG_LEVELS.join(', ')}`)
  return { logFormat, logLevel, quiet, rest }
}

export async function main(rawArgv: string[], io: Io = process): Promise<number> {
  let flags: GlobalFlags
  try {
    flags = parseGlobalFlags(rawArgv)
  } catch (err) {
    io.stderr.write(`narthex: ${(err as Error).message}\n`)
    return 2
  }
  const argv = flags.rest
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.stdout.write(USAGE)
    return argv.length === 0 ? 2 : 0
  }
  if (argv[0] === '--version') {
    io.stdout.write('narthex 0.1.0\n')
    return 0
  }
  const found = lookup(argv)
  if (found === undefined) {
    const group = Object.keys(COMMANDS).filter((k) => k.startsWith(`${argv[0]} `))
    io.stderr.write(
      group.length > 0
        ? `narthex ${argv[0]}: expected one of: ${group.map((g) => g.split(' ').slice(1).join(' ')).join(', ')}\n`
        : `narthex: unknown command "${argv[0]}" (see narthex --help)\n`
    )
    return 2
  }
  const [name, entry, rest] = found
  const { command } = await entry.load()
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(command.usage.endsWith('\n') ? command.usage : `${command.usage}\n`)
    return 0
  }
  const log = createLogger({
    stream: io.stderr,
    program: name,
    level: flags.logLevel,
    format: flags.logFormat
  })
  // The debug package (~14 ms to load) is needed only when its output is on: at debug level, or with DEBUG set
  // (which the debug package reads by itself wherever it is loaded). Otherwise it prints nothing anyway.
  if (log.enabled('debug') || process.env.DEBUG) bridgeDebug((await import('debug')).default, log)
  const commandIo: CommandIo = {
    stdin: io.stdin,
    stdout: io.stdout,
    stderr: io.stderr,
    log,
    quiet: flags.quiet
  }
  try {
    return await command.run(rest, commandIo)
  } catch (err) {
    return report(command, err, commandIo)
  }
}

/**
 * A failed command: a usage error with the usage (exit 2); anything else as one line saying what was wrong and,
 * for the errors a user can cause, what to do (explain.ts), exit 1. The stack only with --log-level debug.
 */
function report(command: Command, err: unknown, io: CommandIo): number {
  if (err instanceof UsageError) {
    if (io.log.format === 'json') io.log.error(err.message, { error: err.name })
    else io.stderr.write(`narthex ${command.name}: ${err.message}\n\n${command.usage}\n`)
    return 2
  }
  const e = err instanceof Error ? err : new Error(String(err))
  const { message, hint } = explain(e, command.name)
  if (io.log.format === 'json')
    io.log.error(message, { error: e.name, ...(hint !== undefined ? { hint } : {}) })
  else io.stderr.write(`narthex ${command.name}: ${message}\n${hint !== undefined ? `  ${hint}\n` : ''}`)
  if (process.env.NARTHEX_DEBUG || io.log.enabled('debug')) io.log.debug(e.stack ?? e.message)
  return 1
}
