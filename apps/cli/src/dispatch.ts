/**
 * What every command run shares, whichever way it was found (`main.ts`'s lazy table, or `quick.ts`'s bundled NAR
 * commands): the global flags, finding a command by the leading words of argv, and running it with a logger,
 * turning errors into one-line messages and exit statuses: 0 success, 1 failure, 2 usage error.
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

/** The longest key of `table` that prefixes `args`, so `nar dump x` finds `nar dump` before `nar`. */
export function lookup<T>(
  table: Readonly<Record<string, T>>,
  args: readonly string[]
): [name: string, entry: T, rest: string[]] | undefined {
  for (let n = Math.min(args.length, 3); n > 0; n--) {
    const name = args.slice(0, n).join(' ')
    if (Object.hasOwn(table, name)) return [name, table[name]!, args.slice(n)]
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

/**
 * Run `command` with the arguments after its name: its usage for `--help`, otherwise a logger as the global
 * flags say and the command itself, its failure reported as {@link report} says.
 */
export async function runCommand(
  name: string,
  command: Command,
  rest: string[],
  flags: GlobalFlags,
  io: Io
): Promise<number> {
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
    // On demand: process.stdin makes a stream when first asked for (~3 ms), wasted on commands that never read it.
    get stdin() {
      return io.stdin
    },
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
