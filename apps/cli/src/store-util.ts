/** What the `narthex store ...` commands share: opening the data directory, sizes, and import progress output. */
import { parseSize as parseSizeText } from '@narthex/config'
import { createStore, type ImportEvent, type Store } from '@narthex/store'
import type { CommandIo } from './command.js'
import { UsageError } from './errors.js'
import { createProgress } from './progress.js'

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
 * Turns import events into output on stderr: the shared progress renderer (a bar redrawn in place on a terminal,
 * occasional plain lines otherwise, nothing with --quiet) and one permanent line per path.
 */
export function importReporter(io: CommandIo): { onEvent: (e: ImportEvent) => void; finish: () => void } {
  const progress = createProgress({ stream: io.stderr, label: 'import', quiet: io.quiet })
  let items = 0
  const onEvent = (e: ImportEvent) => {
    const name = 'storePath' in e ? e.storePath.slice(e.storePath.lastIndexOf('/') + 1) : ''
    if (e.type === 'start') {
      progress.restart()
      progress.update({ name, bytes: 0, totalBytes: e.narSize, items })
    } else if (e.type === 'progress') {
      progress.update({ name, bytes: e.bytes, totalBytes: e.total })
    } else {
      items++
      progress.update({ items })
      progress.line(
        e.skipped
          ? `present  ${e.storePath} (${formatBytes(e.narSize)})`
          : `imported ${e.storePath} (${formatBytes(e.narSize)}, ${e.chunkCount} chunks, ${e.created} new)`
      )
    }
  }
  return { onEvent, finish: () => progress.finish() }
}
