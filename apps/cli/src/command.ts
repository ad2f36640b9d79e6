/** The shape of one CLI command, and the helpers every command uses to parse its flags. */
import { type ParseArgsConfig, parseArgs } from 'node:util'
import { UsageError } from './errors.js'
import type { Logger } from './log.js'

export interface Io {
  readonly stdin: NodeJS.ReadableStream
  readonly stdout: NodeJS.WritableStream
  readonly stderr: NodeJS.WritableStream
}

/** What a command runs with: the streams, and what the global flags chose. */
export interface CommandIo extends Io {
  /** The logger for this command (`--log-format`, `--log-level`), writing to stderr. */
  readonly log: Logger
  /** `--quiet`: no progress output. */
  readonly quiet: boolean
}

export interface Command {
  /** Full name as typed, e.g. `nar dump`. */
  readonly name: string
  /** One line for `narthex --help`. */
  readonly summary: string
  /** The usage text printed by `--help` and on a usage error. */
  readonly usage: string
  /** Runs the command; resolves to the exit status. */
  run(args: string[], io: CommandIo): Promise<number>
}

type Options = NonNullable<ParseArgsConfig['options']>

/**
 * `util.parseArgs` in strict mode, with unknown flags and missing values turned into `UsageError`.
 * `--help` is handled by the dispatcher before a command runs.
 */
type Parsed<O extends Options> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>
>

export function parseFlags<O extends Options>(args: string[], options: O): Parsed<O> {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true })
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
}

/** Write all of `text` to a stream and wait until it is flushed (or the stream errors). */
export function writeText(stream: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(text, (err) => (err ? reject(err) : resolve()))
  })
}

/** An http(s) URL flag, or a usage error that says what is expected. */
export function checkHttpUrl(flag: string, value: string): string {
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new UsageError(`${flag} ${JSON.stringify(value)} is not a URL (e.g. http://127.0.0.1:7420)`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`${flag} ${JSON.stringify(value)}: only http:// and https:// URLs`)
  return value
}
