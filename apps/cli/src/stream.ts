/** Writing a stream of chunks to stdout (or any writable) with backpressure. */
import { readSync, writeSync } from 'node:fs'

/**
 * Write every chunk of `chunks` to `out`, waiting for `drain` whenever the stream's buffer is full, and resolve
 * once the last chunk is flushed. A stream error (EPIPE when the reader went away) rejects.
 */
export async function writeChunks(
  out: NodeJS.WritableStream,
  chunks: AsyncIterable<Uint8Array>
): Promise<void> {
  let failure: Error | undefined
  let wake: (() => void) | undefined
  const onError = (err: Error) => {
    failure = err
    wake?.()
  }
  const onDrain = () => wake?.()
  out.on('error', onError)
  out.on('drain', onDrain)
  try {
    for await (const chunk of chunks) {
      if (failure) throw failure
      if (!out.write(chunk)) {
        await new Promise<void>((resolve) => {
          wake = resolve
        })
        wake = undefined
        if (failure) throw failure
      }
    }
    await new Promise<void>((resolve, reject) => {
      out.write('', (err) => (err ? reject(err) : resolve()))
    })
    if (failure) throw failure
  } finally {
    out.off('error', onError)
    out.off('drain', onDrain)
  }
}

/**
 * When `out` is this process's stdout, switch it to blocking writes and return its file descriptor; otherwise
 * undefined. Node makes a stdout pipe non-blocking and then waits for the reader through the event loop after
 * every 64 KiB (the pipe's size); for `narthex nar dump` that hand-off cost more than serialising. A blocking
 * write lets the kernel hand over directly, as it does for `nix-store --dump`. Only for commands that stream one
 * output and do nothing else meanwhile.
 */
export function blockingStdout(out: NodeJS.WritableStream): number | undefined {
  if (out !== process.stdout) return undefined
  const handle = (out as { _handle?: { setBlocking?: (blocking: boolean) => unknown } })._handle
  if (typeof handle?.setBlocking === 'function') handle.setBlocking(true)
  return process.stdout.fd
}

/**
 * Write every chunk to `fd` (in blocking mode) with blocking `write(2)` calls, so each chunk has been copied by
 * the kernel before the next is asked for and the producer may reuse its buffer (`reuseChunks: 1`). Writing on
 * the thread pool to overlap writes with reading was measured too: slower on a busy 2-core machine. Should the
 * descriptor turn out to be non-blocking (EAGAIN), the rest of that chunk is copied and written through `out`.
 */
export async function writeChunksToFd(
  fd: number,
  out: NodeJS.WritableStream,
  chunks: AsyncIterable<Uint8Array>
): Promise<void> {
  for await (const chunk of chunks) {
    let done = 0
    try {
      while (done < chunk.length) done += writeSync(fd, chunk, done)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err
      await new Promise<void>((resolve, reject) => {
        out.write(Buffer.from(chunk.subarray(done)), (e) => (e ? reject(e) : resolve()))
      })
    }
  }
}

const READ_SIZE = 1024 * 1024

/**
 * The bytes of `input` as chunks. For this process's stdin, read with blocking 1 MiB `read(2)` calls: several
 * times fewer and cheaper steps than the 64 KiB chunks of the stdin stream. Each chunk is a fresh buffer that
 * may be kept, unless `reuse` is set: then one buffer is refilled and a chunk is valid only until the next is
 * asked for. Only for commands that read one input and do nothing else meanwhile.
 */
export async function* readChunks(
  input: NodeJS.ReadableStream,
  { reuse = false }: { reuse?: boolean } = {}
): AsyncGenerator<Uint8Array> {
  if (input !== process.stdin) {
    yield* input as AsyncIterable<Uint8Array>
    return
  }
  const handle = (input as { _handle?: { setBlocking?: (blocking: boolean) => unknown } })._handle
  if (typeof handle?.setBlocking === 'function') handle.setBlocking(true)
  const fd = process.stdin.fd
  let buf = Buffer.allocUnsafe(READ_SIZE)
  for (;;) {
    if (!reuse) buf = Buffer.allocUnsafe(READ_SIZE)
    let n: number
    try {
      n = readSync(fd, buf, 0, READ_SIZE, null)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'EOF') return
      if (code !== 'EAGAIN') throw err
      // Still non-blocking after all: the stream reads on from where the blocking reads stopped.
      yield* input as AsyncIterable<Uint8Array>
      return
    }
    if (n === 0) return
    yield buf.subarray(0, n)
  }
}
