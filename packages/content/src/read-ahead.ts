/**
 * Read ahead of the consumer: pull pieces from `source` as fast as it yields them, keeping up to `maxBytes`
 * queued, so that the source's I/O (a file read on the thread pool, a socket) overlaps with the consumer's work
 * instead of alternating with it. Pieces, order, errors and the end are those of `source`; when the consumer
 * stops early, the source is closed (its `return()` is called).
 */
export async function* readAhead(
  source: AsyncIterable<Uint8Array>,
  maxBytes: number
): AsyncGenerator<Uint8Array> {
  const it = source[Symbol.asyncIterator]()
  const queue: Uint8Array[] = []
  let queued = 0
  let done = false
  let failed = false
  let error: unknown
  let stopped = false
  let wakeConsumer: (() => void) | undefined
  let wakePump: (() => void) | undefined
  const notify = () => {
    wakeConsumer?.()
    wakeConsumer = undefined
  }

  const pump = async () => {
    try {
      while (!stopped) {
        const r = await it.next()
        if (r.done) break
        queue.push(r.value)
        queued += r.value.length
        notify()
        while (queued >= maxBytes && !stopped) await new Promise<void>((resolve) => (wakePump = resolve))
      }
    } catch (err) {
      failed = true
      error = err
    }
    done = true
    notify()
  }
  const pumping = pump()

  try {
    for (;;) {
      if (queue.length > 0) {
        const piece = queue.shift()!
        queued -= piece.length
        if (queued < maxBytes) {
          wakePump?.()
          wakePump = undefined
        }
        yield piece
      } else if (done) {
        if (failed) throw error
        return
      } else await new Promise<void>((resolve) => (wakeConsumer = resolve))
    }
  } finally {
    if (!done) {
      // Close the source once its pending read (if any) settles; do not wait for that here.
      stopped = true
      wakePump?.()
      void pumping.then(() => it.return?.()).catch(() => {})
    }
  }
}
