/**
 * `nix-cache-info`: the file at the root of a Nix binary cache that says which store it is for and how a client
 * should use it. Nix reads it once per cache (and caches it for 7 days). What cache.nixos.org serves:
 *
 * ```text
 * StoreDir: /nix/store
 * WantMassQuery: 1
 * Priority: 40
 * ```
 *
 * | field           | value                                                                                   |
 * | --------------- | --------------------------------------------------------------------------------------- |
 * | `StoreDir`      | the store directory the cache's paths live in; Nix refuses a cache for another store dir |
 * | `WantMassQuery` | `1`: the client may ask about many paths at once (`nix-env -qas`, `--dry-run`); else `0` |
 * | `Priority`      | lower is tried first; cache.nixos.org says 40, nix-serve and harmonia 30                |
 *
 * Nothing in it is signed. Nix writes only `StoreDir: /nix/store\n` (for `nix copy --to file://...`).
 *
 * Reading follows Nix (`BinaryCacheStore::init` in `src/libstore/binary-cache-store.cc`) where it is lenient about
 * layout: lines split on `\n`, blank lines and a missing final newline are fine, and the value is trimmed of
 * spaces, tabs and `\r` (so `Key:value` and CRLF files read as in Nix). It is strict about content, where Nix
 * silently reads something else:
 * - a non-blank line without a colon, or whose key is not a word, is an error (Nix skips it);
 * - `WantMassQuery` must be `0` or `1` (Nix reads anything but `1` as false);
 * - `Priority` must be a decimal int32 (Nix's `std::stoi` reads `40abc` as 40);
 * - `StoreDir` must be an absolute directory path without a trailing slash;
 * - a known field given twice is an error (Nix takes the last).
 * Unknown fields are ignored by Nix; narthex keeps them in `extra` (in order) and writes them after the known ones.
 *
 * `formatCacheInfo` writes the fields present in the order above, one `Key: value\n` line each.
 */
import { CacheInfoParseError, InvalidCacheInfoError } from './errors.js'

/** A field narthex does not know, kept as written (value trimmed). */
export interface CacheInfoField {
  readonly key: string
  readonly value: string
}

export interface CacheInfo {
  /** The store directory (`/nix/store`). Absent: Nix does not check it. */
  readonly storeDir?: string
  /** Whether clients may query many paths at once. Absent: Nix's default, false. */
  readonly wantMassQuery?: boolean
  /** Substituter priority, lower first. Absent: Nix's default for the store type (50 for binary caches). */
  readonly priority?: number
  /** Fields narthex does not know, in order. */
  readonly extra?: readonly CacheInfoField[]
}

const KEY = /^[A-Za-z][A-Za-z0-9-]*$/
/** True when `s` holds an ASCII control character (U+0000..U+001F, U+007F), which no field value may. */
function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c === 0x7f) return true
  }
  return false
}
const INT = /^(?:0|-?[1-9][0-9]*)$/
const INT32_MIN = -(2 ** 31)
const INT32_MAX = 2 ** 31 - 1

class Invalid {
  constructor(readonly message: string) {}
}

function fail(message: string): never {
  throw new Invalid(message)
}

function checkStoreDir(value: string): string {
  if (!value.startsWith('/') || value.length < 2) fail(`${JSON.stringify(value)} is not an absolute path`)
  if (value.endsWith('/')) fail(`${JSON.stringify(value)} ends with "/"`)
  if (/\s/.test(value) || hasControl(value)) fail('the store directory contains whitespace')
  for (const part of value.slice(1).split('/')) {
    if (part === '' || part === '.' || part === '..') {
      fail(`${JSON.stringify(value)} is not a normalised path (empty, "." or ".." component)`)
    }
  }
  return value
}

function checkPriority(n: number): number {
  if (!Number.isInteger(n) || n < INT32_MIN || n > INT32_MAX) fail(`${n} is not an int32`)
  return n
}

function parsePriority(value: string): number {
  if (!INT.test(value)) fail(`${JSON.stringify(value)} is not a decimal integer`)
  return checkPriority(Number(value))
}

function parseWantMassQuery(value: string): boolean {
  if (value === '1') return true
  if (value === '0') return false
  return fail(`${JSON.stringify(value)} is neither 0 nor 1`)
}

/**
 * Parse a `nix-cache-info`; throws `CacheInfoParseError` (with `.line` and `.field`).
 *
 * @example
 * ```ts
 * parseCacheInfo('StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 40\n')
 * // { storeDir: '/nix/store', wantMassQuery: true, priority: 40 }
 * ```
 */
export function parseCacheInfo(text: string): CacheInfo {
  let storeDir: string | undefined
  let wantMassQuery: boolean | undefined
  let priority: number | undefined
  const extra: CacheInfoField[] = []
  const seen = new Set<string>()
  text.split('\n').forEach((raw, i) => {
    const line = i + 1
    if (raw.trim() === '') return
    const colon = raw.indexOf(':')
    if (colon < 0) {
      throw new CacheInfoParseError(`expected "Key: value", got ${JSON.stringify(raw.slice(0, 80))}`, {
        line
      })
    }
    const key = raw.slice(0, colon)
    if (!KEY.test(key)) {
      throw new CacheInfoParseError(`${JSON.stringify(key.slice(0, 80))} is not a field name`, { line })
    }
    // Nix trims " \t\n\r" from the value.
    const value = raw.slice(colon + 1).replace(/^[ \t\r]+|[ \t\r]+$/g, '')
    try {
      if (hasControl(value)) fail('the value contains a control character')
      if (key !== 'StoreDir' && key !== 'WantMassQuery' && key !== 'Priority') {
        extra.push({ key, value })
        return
      }
      if (seen.has(key)) fail(`${key} appears twice`)
      seen.add(key)
      if (key === 'StoreDir') storeDir = checkStoreDir(value)
      else if (key === 'WantMassQuery') wantMassQuery = parseWantMassQuery(value)
      else priority = parsePriority(value)
    } catch (err) {
      if (!(err instanceof Invalid)) throw err
      throw new CacheInfoParseError(err.message, { line, field: key })
    }
  })
  return {
    ...(storeDir !== undefined ? { storeDir } : {}),
    ...(wantMassQuery !== undefined ? { wantMassQuery } : {}),
    ...(priority !== undefined ? { priority } : {}),
    ...(extra.length > 0 ? { extra } : {})
  }
}

/**
 * Write a `nix-cache-info`. Throws `InvalidCacheInfoError` naming the field when a value would not read back the
 * same (a relative StoreDir, a fractional Priority, a newline in an extra value, ...).
 *
 * @example
 * ```ts
 * formatCacheInfo({ storeDir: '/nix/store', wantMassQuery: true, priority: 30 })
 * // 'StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 30\n'
 * ```
 */
export function formatCacheInfo(info: CacheInfo): string {
  const line = (field: string, check: () => string): string => {
    try {
      return `${field}: ${check()}\n`
    } catch (err) {
      if (!(err instanceof Invalid)) throw err
      throw new InvalidCacheInfoError(err.message, { field })
    }
  }
  let out = ''
  if (info.storeDir !== undefined) out += line('StoreDir', () => checkStoreDir(info.storeDir!))
  if (info.wantMassQuery !== undefined) out += line('WantMassQuery', () => (info.wantMassQuery ? '1' : '0'))
  if (info.priority !== undefined) out += line('Priority', () => String(checkPriority(info.priority!)))
  for (const { key, value } of info.extra ?? []) {
    out += line(key, () => {
      if (!KEY.test(key)) fail(`${JSON.stringify(key)} is not a field name`)
      if (key === 'StoreDir' || key === 'WantMassQuery' || key === 'Priority') {
        fail(`${key} is a known field; set it by name, not in extra`)
      }
      if (hasControl(value)) fail('the value contains a control character')
      if (/^[ \t]|[ \t]$/.test(value)) fail('the value has leading or trailing whitespace, which Nix trims')
      return value
    })
  }
  return out
}
