/**
 * The CLI's logger: what the long-running programs (orchestrator, seeder, shim) and the commands say about what
 * they do, on stderr.
 *
 * - Levels: error < warn < info < debug. `--log-level LEVEL` (or `NARTHEX_LOG_LEVEL`) prints that level and the
 *   ones before it; the default is info.
 * - Formats: `text` (default): one human-readable line, `narthex <program>: <message>`, warnings and errors
 *   marked; `json` (`--log-format json` or `NARTHEX_LOG_FORMAT=json`): one JSON object per line,
 *   `{"time","level","program","msg",...fields}`, for journald, Loki, jq.
 * - Secrets are never written: fields whose name says they hold a secret (key, secret, password, token,
 *   authorization, cookie) are replaced by "[redacted]", and anything shaped like a Nix secret key
 *   (`name:<88 base64 characters>`) or an HTTP Authorization value is masked in every message and string field.
 * - The `debug` package's output (namespaces narthex:*, enabled by `--log-level debug` or `DEBUG`) is routed here
 *   at debug level (`bridgeDebug`), so it is formatted, filtered and redacted like everything else.
 *
 * One logger per process, made by the dispatcher (main.ts) and handed to the command through its Io.
 */
import { format as formatUtil } from 'node:util'

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]
export const LOG_FORMATS = ['text', 'json'] as const
export type LogFormat = (typeof LOG_FORMATS)[number]

export type LogFields = Readonly<Record<string, unknown>>

export interface Logger {
  readonly level: LogLevel
  readonly format: LogFormat
  error(msg: string, fields?: LogFields): void
  warn(msg: string, fields?: LogFields): void
  info(msg: string, fields?: LogFields): void
  debug(msg: string, fields?: LogFields): void
  /** Whether a record at `level` would be written. */
  enabled(level: LogLevel): boolean
  /** The same sink and settings, another program name (`narthex seeder` logs as "seeder"). */
  child(program: string): Logger
}

export interface LoggerInit {
  /** Where records go (stderr). */
  readonly stream: NodeJS.WritableStream
  /** The program name in each record: "seeder", "shim", "store import"... */
  readonly program: string
  readonly level?: LogLevel
  readonly format?: LogFormat
  /** The clock (tests). */
  readonly now?: () => Date
}

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 }

/** Field names whose values are never logged. */
const SECRET_FIELD = /key|secret|password|passwd|token|authorization|cookie|credential/i
/** Field names that look secret but hold public things (peer ids, public keys, NarHashes). */
const PUBLIC_FIELD = /^(public-?key|publicKey|pubkey|peerId|peer|narHash|keyName|trustedKeys?)$/i

/** A Nix secret key: `name:` then 64 bytes in base64 (88 characters with padding). */
const NIX_SECRET_KEY = /([A-Za-z0-9._+-]+):[A-Za-z0-9+/]{86}==/g
/** An HTTP Authorization header value (or the header itself). */
const AUTHORIZATION = /\b(authorization\s*[:=]\s*)?(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}/gi

/** Mask secrets in a string. */
export function redact(text: string): string {
  return text
    .replace(NIX_SECRET_KEY, '$1:[redacted]')
    .replace(
      AUTHORIZATION,
      (_m, header: string | undefined, scheme: string) => `${header ?? ''}${scheme} [redacted]`
    )
}

function redactValue(name: string, value: unknown, depth = 0): unknown {
  if (SECRET_FIELD.test(name) && !PUBLIC_FIELD.test(name)) return '[redacted]'
  if (typeof value === 'string') return redact(value)
  if (value instanceof Error) return { name: value.name, message: redact(value.message) }
  if (depth < 3 && Array.isArray(value)) return value.map((v) => redactValue('', v, depth + 1))
  if (depth < 3 && value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = redactValue(k, v, depth + 1)
    return out
  }
  return value
}

export function parseLogLevel(text: string): LogLevel | undefined {
  return (LOG_LEVELS as readonly string[]).includes(text) ? (text as LogLevel) : undefined
}

export function parseLogFormat(text: string): LogFormat | undefined {
  return (LOG_FORMATS as readonly string[]).includes(text) ? (text as LogFormat) : undefined
}

export function createLogger(init: LoggerInit): Logger {
  const level = init.level ?? 'info'
  const format = init.format ?? 'text'
  const now = init.now ?? (() => new Date())
  const write = (lvl: LogLevel, msg: string, fields: LogFields = {}) => {
    if (RANK[lvl] > RANK[level]) return
    const safe: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) safe[k] = redactValue(k, v)
    const text = redact(msg)
    if (format === 'json') {
      init.stream.write(
        `${JSON.stringify({ time: now().toISOString(), level: lvl, program: init.program, msg: text, ...safe })}\n`
      )
      return
    }
    // The message is written for people and already says what matters; fields are for machines (JSON), except
    // the debug namespace, which tells a reader where a debug line comes from.
    const mark = lvl === 'error' ? 'error: ' : lvl === 'warn' ? 'warning: ' : ''
    const component = typeof safe.component === 'string' ? `${safe.component} ` : ''
    init.stream.write(`narthex ${init.program}: ${mark}${component}${text}\n`)
  }
  return {
    level,
    format,
    error: (msg, fields) => write('error', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    info: (msg, fields) => write('info', msg, fields),
    debug: (msg, fields) => write('debug', msg, fields),
    enabled: (lvl) => RANK[lvl] <= RANK[level],
    child: (program) => createLogger({ ...init, level, format, program })
  }
}

/** The subset of the `debug` module the bridge sets. */
export interface DebugModule {
  enable(namespaces: string): void
  enabled(name: string): boolean
  log: (...args: unknown[]) => void
  formatArgs: (args: unknown[]) => void
}

/**
 * Route the `debug` package's output into `logger` at debug level, with the namespace as a field. With
 * `--log-level debug`, namespaces narthex:* are enabled unless DEBUG already chose some.
 */
export function bridgeDebug(debug: DebugModule, logger: Logger, env: NodeJS.ProcessEnv = process.env): void {
  // debug calls formatArgs(args) to add colours and the namespace, then log(...args) with `this` the instance.
  debug.formatArgs = () => {}
  debug.log = function (this: { namespace?: string }, ...args: unknown[]) {
    logger.debug(formatUtil(...args), { component: this?.namespace })
  }
  if (logger.enabled('debug') && (env.DEBUG === undefined || env.DEBUG === '')) debug.enable('narthex:*')
}
