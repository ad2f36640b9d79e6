/**
 * Listings of a NAR's entries, byte for byte as Nix 2.8 prints them, streamed as the entries are read:
 *
 * - `long`: `nix nar ls -lR NAR /`, one line per entry below the root (the root itself only when it is not a
 *   directory, with an empty path): type and mode, size right-aligned in 20 columns, `./path`, and for a symlink
 *   ` -> target`.
 *   ```
 *   -r--r--r--                    3 ./a
 *   dr-xr-xr-x                    0 ./d
 *   -r-xr-xr-x                    1 ./d/x
 *   lrwxrwxrwx                    0 ./d/l -> ../a
 *   ```
 * - `json`: `nix nar ls --json -R NAR /`, one nested object without a trailing newline:
 *   `{"type":"directory","entries":{"a":{"type":"regular","size":3,"narOffset":232}}}`; regular files have
 *   `size`, `executable: true` when set, and `narOffset` (where the contents start in the NAR).
 *
 * Names are written as their raw bytes, as Nix does: a name that is not UTF-8 stays as it is (so such a
 * listing is not valid UTF-8), and in JSON only `"`, `\` and bytes below 0x20 are escaped.
 */
import type { NarEntry } from './nar-decode.js'

export type NarListingFormat = 'long' | 'json'

const SLASH = Buffer.from('/')
const DOT = Buffer.from('.')
const ARROW = Buffer.from(' -> ')
const NEWLINE = Buffer.from('\n')
const HEX = '0123456789abcdef'

function modeOf(entry: NarEntry): string {
  if (entry.type === 'regular') return entry.executable ? '-r-xr-xr-x' : '-r--r--r--'
  return entry.type === 'symlink' ? 'lrwxrwxrwx' : 'dr-xr-xr-x'
}

function longLine(entry: NarEntry): Uint8Array {
  const size = entry.type === 'regular' ? entry.size : 0
  const parts: Uint8Array[] = [Buffer.from(`${modeOf(entry)} ${String(size).padStart(20)} `)]
  if (entry.path.length > 0) {
    parts.push(DOT)
    for (const name of entry.path) parts.push(SLASH, name)
  }
  if (entry.type === 'symlink') parts.push(ARROW, entry.target)
  parts.push(NEWLINE)
  return Buffer.concat(parts)
}

/** A JSON string as Nix 2.8's `toJSON` writes it: only `"`, `\` and control bytes escaped. */
function encodeNixJsonString(bytes: Uint8Array): Buffer {
  let extra = 0
  for (const b of bytes) if (b < 0x20 || b === 0x22 || b === 0x5c) extra += 5
  const out = Buffer.allocUnsafe(bytes.length + extra + 2)
  let o = 0
  out[o++] = 0x22
  for (const b of bytes) {
    if (b === 0x22 || b === 0x5c) {
      out[o++] = 0x5c
      out[o++] = b
    } else if (b === 0x0a || b === 0x0d || b === 0x09) {
      out[o++] = 0x5c
      out[o++] = b === 0x0a ? 0x6e : b === 0x0d ? 0x72 : 0x74
    } else if (b < 0x20) {
      out.write(`\\u00${HEX[b >> 4]}${HEX[b & 15]}`, o, 'latin1')
      o += 6
    } else {
      out[o++] = b
    }
  }
  out[o++] = 0x22
  return out.subarray(0, o)
}

function jsonNode(entry: NarEntry): string {
  if (entry.type === 'regular') {
    const exec = entry.executable ? ',"executable":true' : ''
    return `{"type":"regular","size":${entry.size}${exec},"narOffset":${entry.narOffset}}`
  }
  if (entry.type === 'directory') return '{"type":"directory","entries":{'
  return '{"type":"symlink","target":'
}

/**
 * Format the entries of a NAR (from `decodeNar`) as a listing, streamed. File contents are skipped.
 *
 * @example
 * ```ts
 * for await (const bytes of formatNarListing(decodeNar(process.stdin), 'long')) process.stdout.write(bytes)
 * ```
 */
export async function* formatNarListing(
  entries: AsyncIterable<NarEntry>,
  format: NarListingFormat
): AsyncGenerator<Uint8Array> {
  if (format === 'long') {
    for await (const entry of entries) {
      if (entry.path.length === 0 && entry.type === 'directory') continue
      yield longLine(entry)
    }
    return
  }
  // For each open directory: whether an entry has been written into it yet.
  const open: boolean[] = []
  const CLOSE = Buffer.from('}}')
  for await (const entry of entries) {
    const parts: Uint8Array[] = []
    while (open.length > entry.path.length) {
      open.pop()
      parts.push(CLOSE)
    }
    if (entry.path.length > 0) {
      if (open[open.length - 1]) parts.push(Buffer.from(','))
      open[open.length - 1] = true
      parts.push(encodeNixJsonString(entry.path[entry.path.length - 1]!), Buffer.from(':'))
    }
    parts.push(Buffer.from(jsonNode(entry)))
    if (entry.type === 'symlink') parts.push(encodeNixJsonString(entry.target), Buffer.from('}'))
    if (entry.type === 'directory') open.push(false)
    yield Buffer.concat(parts)
  }
  if (open.length > 0) yield Buffer.from('}}'.repeat(open.length))
}
