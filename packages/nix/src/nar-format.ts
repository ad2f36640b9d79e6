/**
 * The NAR (Nix ARchive) wire format, shared by the writer (`nar-encode.ts`) and the reader (`nar-decode.ts`).
 *
 * A NAR is a sequence of *strings*: a u64 little-endian byte length, the bytes, then zero bytes up to a multiple
 * of 8. The grammar, as Nix writes it (`src/libutil/archive.cc`, `dumpPath`) and as this reader requires it:
 *
 * ```
 * nar       = "nix-archive-1" node
 * node      = "(" "type" ( regular | symlink | directory ) ")"
 * regular   = "regular" [ "executable" "" ] "contents" <u64 size> <size bytes> <zero padding to 8>
 * symlink   = "symlink" "target" <target>
 * directory = "directory" { "entry" "(" "name" <name> "node" node ")" }
 * ```
 *
 * A file's contents use the same layout as a string (length, bytes, padding), so `"contents"` is followed by
 * what looks like one long string. Directory entries are sorted by the *bytes* of their names (Nix keeps them
 * in a `std::map<std::string>`), which differs from JavaScript's UTF-16 string order for characters above
 * U+FFFF versus U+E000..U+FFFF; names are therefore kept as bytes everywhere.
 *
 * Example: the NAR of a regular file containing `hi\n` (120 bytes):
 *
 * ```
 * 0d00000000000000 6e69782d61726368 6976652d31000000   13 "nix-archive-1" + 3 bytes padding
 * 0100000000000000 2800000000000000                     1 "("
 * 0400000000000000 7479706500000000                     4 "type"
 * 0700000000000000 726567756c617200                     7 "regular"
 * 0800000000000000 636f6e74656e7473                     8 "contents"
 * 0300000000000000 68690a0000000000                     3 "hi\n"
 * 0100000000000000 2900000000000000                     1 ")"
 * ```
 *
 * The executable bit is the only permission a NAR keeps (set when the owner may execute, `S_IXUSR`); there are
 * no owners, times or other metadata, which is what makes a NAR's hash depend on content alone.
 */
import { NAR_MAGIC } from './constants.js'

/** One entry name, or a symlink target, as bytes. */
export type NarBytes = Uint8Array

/** Type, size and executable bit of one node, as the writer needs them. */
export type NarNodeStat =
  | { readonly type: 'regular'; readonly size: number; readonly executable: boolean }
  | { readonly type: 'symlink' }
  | { readonly type: 'directory' }

/** The tokens of the grammar, pre-encoded as NAR strings (length + bytes + padding). */
export const TOKENS = {
  magic: encodeNarString(NAR_MAGIC),
  open: encodeNarString('('),
  close: encodeNarString(')'),
  type: encodeNarString('type'),
  regular: encodeNarString('regular'),
  symlink: encodeNarString('symlink'),
  directory: encodeNarString('directory'),
  executable: encodeNarString('executable'),
  empty: encodeNarString(''),
  contents: encodeNarString('contents'),
  entry: encodeNarString('entry'),
  name: encodeNarString('name'),
  node: encodeNarString('node'),
  target: encodeNarString('target')
} as const

/** Zero bytes needed after `length` bytes to reach a multiple of 8. */
export function paddingOf(length: number): number {
  return (8 - (length % 8)) % 8
}

/** Bytes a string of `length` bytes takes in a NAR: the u64 length, the bytes and the padding. */
export function encodedStringLength(length: number): number {
  return 8 + length + paddingOf(length)
}

/** Encode one NAR string: u64 LE length, bytes, zero padding to 8. */
export function encodeNarString(value: string | Uint8Array): Uint8Array {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value
  const out = new Uint8Array(encodedStringLength(bytes.length))
  writeU64(out, 0, bytes.length)
  out.set(bytes, 8)
  return out
}

/** Write `value` (a safe integer) as u64 little-endian at `offset`. */
export function writeU64(buf: Uint8Array, offset: number, value: number): void {
  const lo = value >>> 0
  const hi = Math.floor(value / 0x1_0000_0000)
  buf[offset] = lo & 0xff
  buf[offset + 1] = (lo >>> 8) & 0xff
  buf[offset + 2] = (lo >>> 16) & 0xff
  buf[offset + 3] = lo >>> 24
  buf[offset + 4] = hi & 0xff
  buf[offset + 5] = (hi >>> 8) & 0xff
  buf[offset + 6] = (hi >>> 16) & 0xff
  buf[offset + 7] = hi >>> 24
}

/** Order of names in a directory: plain byte order, as C++ `std::string` comparison. */
export function compareNames(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b)
}

/** Why `name` may not be a directory entry name, or undefined when it may. */
export function nameProblem(name: Uint8Array): string | undefined {
  if (name.length === 0) return 'an entry name is empty'
  if (name.length === 1 && name[0] === 0x2e) return 'an entry is named "."'
  if (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e) return 'an entry is named ".."'
  if (name.includes(0x2f)) return 'an entry name contains "/"'
  if (name.includes(0)) return 'an entry name contains a NUL byte'
  return undefined
}

const UTF8 = new TextDecoder('utf-8')

/** A NAR path (names from the root) for messages: `""` for the root, `/a/b` below it; lossy for non-UTF-8. */
export function formatNarPath(path: readonly Uint8Array[]): string {
  let out = ''
  for (const name of path) out += `/${UTF8.decode(name)}`
  return out
}
