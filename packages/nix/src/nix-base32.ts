/**
 * nix-base32, the encoding Nix uses for store path hash parts and `sha256:` hashes.
 *
 * It is not RFC 4648 base32: the alphabet omits `e o u t` (to avoid words), and the bits are read from the
 * *end* of the byte array, so the first character encodes the most significant bits of the last byte.
 * Reference: Nix `src/libutil/hash.cc` (`printHash32`, `parseHash32`).
 *
 * @example
 * ```ts
 * encode(new Uint8Array(20)) // '00000000000000000000000000000000'
 * ```
 */
import { InvalidBase32Error } from './errors.js'

/** The one nix-base32 alphabet: 0-9 a-z without e, o, u, t. */
export const NIX_BASE32_ALPHABET = '0123456789abcdfghijklmnpqrsvwxyz'

const DECODE_TABLE: Int8Array = (() => {
  const table = new Int8Array(128).fill(-1)
  for (let i = 0; i < NIX_BASE32_ALPHABET.length; i++) table[NIX_BASE32_ALPHABET.charCodeAt(i)] = i
  return table
})()

/** Length in characters of the nix-base32 encoding of `byteLength` bytes. */
export function encodedLength(byteLength: number): number {
  return Math.ceil((byteLength * 8) / 5)
}

/** Largest byte length whose encoding is `charLength` characters long, or -1 when no length encodes to it. */
export function decodedLength(charLength: number): number {
  const bytes = Math.floor((charLength * 5) / 8)
  return encodedLength(bytes) === charLength ? bytes : -1
}

export function encode(bytes: Uint8Array): string {
  const len = encodedLength(bytes.length)
  let out = ''
  for (let n = len - 1; n >= 0; n--) {
    const b = n * 5
    const i = b >> 3
    const j = b & 7
    const c = (bytes[i]! >> j) | (i + 1 < bytes.length ? bytes[i + 1]! << (8 - j) : 0)
    out += NIX_BASE32_ALPHABET[c & 0x1f]
  }
  return out
}

/**
 * Decode a nix-base32 string. `byteLength` defaults to the length implied by the string; bits past the end of
 * the byte array must be zero, as Nix requires.
 */
export function decode(str: string, byteLength: number = decodedLength(str.length)): Uint8Array {
  if (byteLength < 0 || encodedLength(byteLength) !== str.length) {
    throw new InvalidBase32Error(
      `nix-base32 string of length ${str.length} does not encode a whole number of bytes`
    )
  }
  const out = new Uint8Array(byteLength)
  for (let n = 0; n < str.length; n++) {
    const code = str.charCodeAt(str.length - n - 1)
    const digit = code < 128 ? DECODE_TABLE[code]! : -1
    if (digit < 0) {
      throw new InvalidBase32Error(`invalid nix-base32 character ${JSON.stringify(str[str.length - n - 1])}`)
    }
    const b = n * 5
    const i = b >> 3
    const j = b & 7
    out[i]! |= (digit << j) & 0xff
    const carry = digit >> (8 - j)
    if (i + 1 < byteLength) out[i + 1]! |= carry
    else if (carry !== 0) throw new InvalidBase32Error('nix-base32 string has non-zero padding bits')
  }
  return out
}

/** True when `str` consists only of nix-base32 characters (any length). */
export function isNixBase32(str: string): boolean {
  for (let i = 0; i < str.length; i++) {
    const code = str.charCodeAt(i)
    if (code >= 128 || DECODE_TABLE[code]! < 0) return false
  }
  return true
}
