/**
 * Streaming through a child process: bytes in on stdin (optional), bytes out of stdout as an async iterable, with
 * backpressure both ways. The child is killed if the consumer stops early or the input fails; a non-zero exit
 * becomes the error `onExit` makes of it.
 */
import { spawn } from 'node:child_process'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'

export interface SpawnStreamOptions {
  readonly input?: AsyncIterable<Uint8Array>
  readonly signal?: AbortSignal
  /** Turns a failed run into the error to throw (spawn failure: code undefined, with the spawn error). */
  readonly onFailure: (info: {
    code?: number | null
    signal?: string | null
    stderr: string
    error?: Error
  }) => Error
}

export async function* spawnStream(
  cmd: string,
  args: readonly string[],
  opts: SpawnStreamOptions
): AsyncGenerator<Uint8Array> {
  const child = spawn(cmd, args, { stdio: [opts.input ? 'pipe' : 'ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    if (stderr.length < 4096) stderr += d
  })
  let spawnError: Error | undefined
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    child.on('error', (err) => {
      spawnError = err
      resolve({ code: null, signal: null })
    })
    child.on('close', (code, signal) => resolve({ code, signal }))
  })
  let inputError: unknown
  let feeding: Promise<void> | undefined
  if (opts.input) {
    const stdin = child.stdin!
    stdin.on('error', () => {}) // EPIPE when the child exits early; its exit status tells what happened
    feeding = pipeline(Readable.from(opts.input, { objectMode: false }), stdin).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code !== 'EPIPE') inputError = err
      child.kill('SIGKILL')
    })
  }
  const onAbort = () => child.kill('SIGKILL')
  opts.signal?.addEventListener('abort', onAbort, { once: true })
  let finished = false
  try {
    for await (const chunk of child.stdout!) {
      yield chunk as Uint8Array
    }
    await feeding
    const { code, signal } = await exited
    finished = true
    if (inputError !== undefined) throw inputError
    opts.signal?.throwIfAborted()
    if (spawnError !== undefined || code !== 0) {
      throw opts.onFailure({ code, signal, stderr: stderr.trim(), error: spawnError })
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort)
    if (!finished) {
      child.kill('SIGKILL')
      await feeding?.catch(() => {})
      await exited
    }
  }
}
