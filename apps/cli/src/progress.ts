/**
 * One progress renderer for every long command (store import, seed add, build, fetch).
 *
 * On a terminal (stderr is a TTY): one line redrawn in place, at most every REDRAW_MS,
 *   `label [#########---------]  45% 12.3 MiB/27.0 MiB  3.2 MiB/s  ETA 4s  2/5 name`
 * fitted to the terminal's width; `line()` prints a permanent line above it. Elsewhere (a pipe, a log file, CI):
 * no redrawing and no escape sequences: a plain status line at most every PLAIN_INTERVAL_MS (none for a command
 * shorter than that), and `line()` as is. With `quiet` (the global --quiet flag), no status lines at all.
 */
import { formatBytes } from './store-util.js'

/** Redraw a terminal bar at most this often: smooth enough to read, cheap enough not to slow a transfer. */
export const REDRAW_MS = 100
/** Without a terminal, a status line at most this often: a log shows progress without drowning in it. */
export const PLAIN_INTERVAL_MS = 5000
/** Cells in the bar itself. */
const BAR_CELLS = 20

export interface ProgressState {
  /** Bytes done so far. */
  readonly bytes?: number
  /** Bytes in all, when known. */
  readonly totalBytes?: number
  /** Items (paths, outputs) done so far. */
  readonly items?: number
  readonly totalItems?: number
  /** What is being worked on (a store path name, a phase). */
  readonly name?: string
}

export interface ProgressInit {
  /** stderr. */
  readonly stream: NodeJS.WritableStream
  /** Printed first on each status line: "import", "fetch", "build". */
  readonly label: string
  /** Default: the stream's isTTY. */
  readonly tty?: boolean
  /** Terminal width; default the stream's columns, else 80. */
  readonly columns?: number
  /** No status lines at all; `line()` still prints. */
  readonly quiet?: boolean
  readonly now?: () => number
}

export interface Progress {
  /** Record new progress; redraws when due. */
  update(state: ProgressState): void
  /** A permanent line (e.g. "imported /nix/store/..."), printed above the bar. */
  line(text: string): void
  /** Start timing again (rate and ETA) for the next item, e.g. each store path of an import. */
  restart(): void
  /** Remove the bar (terminal) so the next output starts on a clean line. */
  finish(): void
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?'
  const s = Math.round(seconds)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}

/** The text of one status line (without escapes), fitted to `width` characters. */
export function renderProgress(
  label: string,
  state: ProgressState,
  elapsedMs: number,
  width: number,
  bar: boolean
): string {
  const parts: string[] = [label]
  const { bytes, totalBytes, items, totalItems } = state
  const fraction =
    totalBytes !== undefined && totalBytes > 0 && bytes !== undefined
      ? Math.min(1, bytes / totalBytes)
      : totalItems !== undefined && totalItems > 0 && items !== undefined
        ? Math.min(1, items / totalItems)
        : undefined
  if (fraction !== undefined) {
    if (bar) {
      const full = Math.round(fraction * BAR_CELLS)
      parts.push(`[${'#'.repeat(full)}${'-'.repeat(BAR_CELLS - full)}]`)
    }
    parts.push(`${(fraction * 100).toFixed(0).padStart(3)}%`)
  }
  if (bytes !== undefined) {
    parts.push(
      totalBytes !== undefined ? `${formatBytes(bytes)}/${formatBytes(totalBytes)}` : formatBytes(bytes)
    )
    const seconds = elapsedMs / 1000
    if (seconds >= 0.5 && bytes > 0) {
      const rate = bytes / seconds
      parts.push(`${formatBytes(Math.round(rate))}/s`)
      if (totalBytes !== undefined && totalBytes > bytes)
        parts.push(`ETA ${formatDuration((totalBytes - bytes) / rate)}`)
    }
  } else {
    parts.push(formatDuration(elapsedMs / 1000))
  }
  if (items !== undefined) parts.push(totalItems !== undefined ? `${items}/${totalItems}` : `${items}`)
  if (state.name !== undefined && state.name !== '') parts.push(state.name)
  const text = parts.join('  ')
  return text.length > width ? text.slice(0, Math.max(0, width - 1)) + '…' : text
}

export function createProgress(init: ProgressInit): Progress {
  const stream = init.stream as NodeJS.WriteStream
  const tty = init.tty ?? stream.isTTY === true
  const now = init.now ?? Date.now
  let started = now()
  let state: ProgressState = {}
  let drawn = false
  // Without a terminal the first status line waits a whole interval: a quick command prints none.
  let lastDraw = tty ? Number.NEGATIVE_INFINITY : started
  let everDrawn = false
  // A pty without a size (script, some CI runners) reports 0 columns: assume 80.
  const width = () => Math.max(20, (init.columns || stream.columns || 80) - 1)
  const clear = () => {
    if (drawn) init.stream.write('\r\x1b[K')
    drawn = false
  }
  const draw = () => {
    lastDraw = now()
    everDrawn = true
    const text = renderProgress(init.label, state, lastDraw - started, width(), tty)
    if (tty) {
      init.stream.write(`\r\x1b[K${text}`)
      drawn = true
    } else {
      init.stream.write(`${text}\n`)
    }
  }
  return {
    update(next) {
      state = { ...state, ...next }
      if (init.quiet) return
      const due = now() - lastDraw >= (tty ? REDRAW_MS : PLAIN_INTERVAL_MS)
      if (due) draw()
    },
    line(text) {
      clear()
      init.stream.write(`${text}\n`)
      if (tty && !init.quiet && everDrawn) draw()
    },
    restart() {
      started = now()
    },
    finish() {
      clear()
    }
  }
}
