/** Binary size units accepted in quotas and rates: `K`, `M`, `G`, `T` (optionally `KiB`, `KB`, ...). */
const UNITS: Readonly<Record<string, number>> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }

const SIZE = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i

/**
 * Parse a size in bytes, as quotas and upload rates are written: a non-negative integer number, or a string such
 * as `1048576`, `500M`, `20GiB`, `1.5T` (binary units). Returns `undefined` for anything else (including sizes past
 * 2^53), so each caller raises its own usage or configuration error.
 */
export function parseSize(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined
  if (typeof value !== 'string') return undefined
  const m = SIZE.exec(value.trim())
  if (m === null) return undefined
  const bytes = Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!)
  return Number.isSafeInteger(bytes) ? bytes : undefined
}

/**
 * Format a byte count the way sizes are written in configuration: the largest binary unit that divides it
 * exactly (`10G`, `512M`, `1536K`), or plain bytes. `parseSize(formatSize(n)) === n` for every safe integer n ≥ 0.
 */
export function formatSize(bytes: number): string {
  for (const unit of ['T', 'G', 'M', 'K'] as const) {
    const n = UNITS[unit.toLowerCase()]!
    if (bytes > 0 && bytes % n === 0) return `${bytes / n}${unit}`
  }
  return String(bytes)
}
