/** What the `narthex store ...` commands share: opening the data directory, sizes, and import progress output. */
import { parseSize as parseSizeText } from '@narthex/config'
import { createStore, type ImportEvent, type Store } from '@narthex/store'
import type { Io } from './command.js'
import { UsageError } from './errors.js'

export const DATA_FLAG = { data: { type: 'string', short: 'd' } } as const

export const DATA_HELP = `  --data DIR   the store's data directory (default: $NARTHEX_DATA)`

/** Open the store named by --data (or $NARTHEX_DATA), run `fn`, and stop it whatever happens. */
export async function withStore<T>(data: string | undefined, fn: (store: Store) => Promise<T>): Promise<T> {
  const dir = data ?? process.env.NARTHEX_DATA
  if (dir === undefined || dir === '') throw new UsageError('give the data directory with --data DIR')
  const store = createStore({ dir })
  await store.start()
  try {
    return await fn(store)
  } finally {
    await store.stop()
  }
}

/** Parse a size flag (`500M`, `20G`, bytes) with the one size parser (@narthex/config); a bad one is a usage error. */
export function parseSize(text: string): number {
  const bytes = parseSizeText(text)
  if (bytes === undefined)
    throw new UsageError(`${JSON.stringify(text)} is not a size (e.g. 500M, 20G, 1048576)`)
  return bytes
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v.toFixed(1)} ${units[i]}`
}

/**
 * Turns import events into output: on a terminal, one progress bar redrawn in place on stderr; otherwise one plain
 * line per path on stderr.
 */
export function importReporter(io: Io): { onEvent: (e: ImportEvent) => void; finish: () => void } {
  const tty = (io.stderr as NodeJS.WriteStream).isTTY === true
  const width = Math.max(40, ((io.stderr as NodeJS.WriteStream).columns ?? 80) - 1)
  let lastDraw = 0
  let drawn = false
  const clear = () => {
    if (drawn) io.stderr.write('\r\x1b[K')
    drawn = false
  }
  const bar = (name: string, bytes: number, total: number) => {
    const frac = total > 0 ? Math.min(1, bytes / total) : 0
    const cells = 24
    const full = Math.round(frac * cells)
    const text = `[${'#'.repeat(full)}${'-'.repeat(cells - full)}] ${(frac * 100).toFixed(0).padStart(3)}% ${formatBytes(bytes)}/${formatBytes(total)} ${name}`
    io.stderr.write(`\r\x1b[K${text.slice(0, width)}`)
    drawn = true
  }
  const onEvent = (e: ImportEvent) => {
    const name = 'storePath' in e ? e.storePath.slice(e.storePath.lastIndexOf('/') + 1) : ''
    if (e.type === 'start') {
      if (tty) bar(name, 0, e.narSize)
    } else if (e.type === 'progress') {
      const now = Date.now()
      if (tty && now - lastDraw > 100) {
        lastDraw = now
        bar(name, e.bytes, e.total)
      }
    } else {
      clear()
      io.stderr.write(
        e.skipped
          ? `present  ${e.storePath} (${formatBytes(e.narSize)})\n`
          : `imported ${e.storePath} (${formatBytes(e.narSize)}, ${e.chunkCount} chunks, ${e.created} new)\n`
      )
    }
  }
  return { onEvent, finish: clear }
}
