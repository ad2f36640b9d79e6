/** Writing a stream of chunks to stdout (or any writable) with backpressure. */

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
