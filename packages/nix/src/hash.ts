/**
 * Hashes in the forms Nix prints and accepts:
 * - `sha256:<nix32>` (what narinfo `NarHash` and `nix-hash --type sha256 --base32` use),
 * - `sha256:<base16>` and `sha256:<base64>` (accepted by Nix; recognised by length),
 * - SRI `sha256-<base64>` (what `nix path-info --json` and `nix hash` print).
 * Reference: Nix `src/libutil/hash.cc` (`Hash::parseAny`, `Hash::to_string`).
 */
import { InvalidHashError } from './errors.js'
import * as nixBase32 from './nix-base32.js'

export type HashAlgorithm = 'md5' | 'sha1' | 'sha256' | 'sha512'
export type HashEncoding = 'nix32' | 'base16' | 'base64' | 'sri'

/** Digest sizes in bytes, from Nix's `regularHashSize`. */
export const HASH_SIZES: Readonly<Record<HashAlgorithm, number>> = {
  md5: 16,
  sha1: 20,
  sha256: 32,
  sha512: 64
}

export interface Hash {
  readonly algorithm: HashAlgorithm
  readonly digest: Uint8Array
}

function isAlgorithm(s: string): s is HashAlgorithm {
  return Object.hasOwn(HASH_SIZES, s)
}

function base64Length(size: number): number {
  return 4 * Math.ceil(size / 3)
}

const BASE16 = /^[0-9a-fA-F]*$/
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

function decodeBase64Exact(text: string, size: number, original: string): Uint8Array {
  if (!BASE64.test(text)) throw new InvalidHashError(`invalid base64 in hash ${JSON.stringify(original)}`)
  const bytes = Buffer.from(text, 'base64')
  if (bytes.length !== size || bytes.toString('base64') !== text) {
    throw new InvalidHashError(`hash ${JSON.stringify(original)} does not decode to ${size} bytes`)
  }
  return new Uint8Array(bytes)
}

function decodeDigest(algorithm: HashAlgorithm, text: string, original: string): Uint8Array {
  const size = HASH_SIZES[algorithm]
  if (text.length === size * 2 && BASE16.test(text)) return new Uint8Array(Buffer.from(text, 'hex'))
  if (text.length === nixBase32.encodedLength(size)) {
    try {
      return nixBase32.decode(text, size)
    } catch (err) {
      throw new InvalidHashError(
        `invalid nix-base32 in hash ${JSON.stringify(original)}: ${(err as Error).message}`
      )
    }
  }
  if (text.length === base64Length(size)) return decodeBase64Exact(text, size, original)
  throw new InvalidHashError(`hash ${JSON.stringify(original)} has the wrong length for ${algorithm}`)
}

/**
 * Parse a hash string. With `expected`, a hash of another algorithm is an error.
 *
 * @example
 * ```ts
 * parseHash('sha256:1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s')
 * ```
 */
export function parseHash(str: string, expected?: HashAlgorithm): Hash {
  let algorithm: string
  let rest: string
  let sri = false
  const colon = str.indexOf(':')
  const dash = str.indexOf('-')
  if (colon > 0) {
    algorithm = str.slice(0, colon)
    rest = str.slice(colon + 1)
  } else if (dash > 0) {
    algorithm = str.slice(0, dash)
    rest = str.slice(dash + 1)
    sri = true
  } else {
    throw new InvalidHashError(
      `hash ${JSON.stringify(str)} has no algorithm prefix (expected e.g. "sha256:...")`
    )
  }
  if (!isAlgorithm(algorithm))
    throw new InvalidHashError(`unknown hash algorithm ${JSON.stringify(algorithm)}`)
  if (expected !== undefined && algorithm !== expected) {
    throw new InvalidHashError(`expected a ${expected} hash, got ${algorithm}`)
  }
  const digest = sri
    ? decodeBase64Exact(rest, HASH_SIZES[algorithm], str)
    : decodeDigest(algorithm, rest, str)
  return { algorithm, digest }
}

/** Format a hash; `nix32` (the default) gives `sha256:<nix32>`, `sri` gives `sha256-<base64>`. */
export function formatHash(hash: Hash, encoding: HashEncoding = 'nix32'): string {
  switch (encoding) {
    case 'nix32':
      return `${hash.algorithm}:${nixBase32.encode(hash.digest)}`
    case 'base16':
      return `${hash.algorithm}:${Buffer.from(hash.digest).toString('hex')}`
    case 'base64':
      return `${hash.algorithm}:${Buffer.from(hash.digest).toString('base64')}`
    case 'sri':
      return `${hash.algorithm}-${Buffer.from(hash.digest).toString('base64')}`
  }
}

/** Shorthand for a sha256 digest as `sha256:<nix32>`. */
export function formatSha256(digest: Uint8Array): string {
  return formatHash({ algorithm: 'sha256', digest })
}

/** Shorthand: parse any sha256 form and return the 32-byte digest. */
export function parseSha256(str: string): Uint8Array {
  return parseHash(str, 'sha256').digest
}

export function hashEquals(a: Hash, b: Hash): boolean {
  return a.algorithm === b.algorithm && Buffer.from(a.digest).equals(Buffer.from(b.digest))
}
