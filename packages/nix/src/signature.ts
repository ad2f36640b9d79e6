/**
 * Nix signing keys and detached ed25519 signatures, byte-compatible with `nix-store --generate-binary-cache-key`,
 * `nix store sign` and the `Sig:` lines of narinfos.
 *
 * - secret key file: `<name>:<base64 of 64 bytes>` = 32-byte seed followed by the 32-byte public key
 * - public key:      `<name>:<base64 of 32 bytes>`
 * - signature:       `<name>:<base64 of the 64-byte ed25519 signature>`
 * - narinfo fingerprint (what is signed): `1;<store path>;<NarHash sha256:nix32>;<NarSize>;<refs>` where refs are
 *   full store paths joined by `,`. Reference: Nix `src/libstore/path-info.cc` (`fingerprint`), `crypto.cc`.
 */
import {
  createPrivateKey,
  createPublicKey,
  sign as edSign,
  verify as edVerify,
  type KeyObject,
  randomBytes
} from 'node:crypto'
import { InvalidKeyError, InvalidSignatureError } from './errors.js'

export interface SecretKey {
  readonly name: string
  /** The 32-byte ed25519 seed. */
  readonly seed: Uint8Array
  readonly publicKey: PublicKey
  /** @internal node:crypto handle */
  readonly keyObject: KeyObject
}

export interface PublicKey {
  readonly name: string
  /** The 32-byte ed25519 public key. */
  readonly key: Uint8Array
  /** @internal node:crypto handle */
  readonly keyObject: KeyObject
}

export interface Signature {
  readonly keyName: string
  /** 64 bytes. */
  readonly sig: Uint8Array
}

// DER prefixes that wrap a raw ed25519 seed (PKCS#8) or public key (SPKI), RFC 8410.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

function splitNamed(str: string, what: string, Err: new (message: string) => Error): [string, Buffer] {
  const s = str.trim()
  const colon = s.indexOf(':')
  const name = s.slice(0, colon)
  // A name with whitespace means this is not a key at all; say so without echoing the text (it may be a secret).
  if (colon <= 0 || /\s/.test(name)) throw new Err(`${what} is not in the form "<name>:<base64>"`)
  const b64 = s.slice(colon + 1)
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new Err(`${what} "${name}" is not valid base64`)
  return [name, Buffer.from(b64, 'base64')]
}

function publicKeyFromRaw(name: string, raw: Uint8Array): PublicKey {
  const keyObject = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' })
  return { name, key: new Uint8Array(raw), keyObject }
}

function secretKeyFromSeed(name: string, seed: Uint8Array): SecretKey {
  const keyObject = createPrivateKey({
    key: Buffer.concat([PKCS8_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8'
  })
  const spki = createPublicKey(keyObject).export({ format: 'der', type: 'spki' })
  const publicKey = publicKeyFromRaw(name, spki.subarray(SPKI_PREFIX.length))
  return { name, seed: new Uint8Array(seed), publicKey, keyObject }
}

/** Generate a key pair, as `nix-store --generate-binary-cache-key NAME` does. */
export function generateSecretKey(name: string): SecretKey {
  if (name.length === 0 || name.includes(':'))
    throw new InvalidKeyError('a key name must be non-empty and have no ":"')
  return secretKeyFromSeed(name, randomBytes(32))
}

/** Parse a secret key file's contents (surrounding whitespace ignored). */
export function parseSecretKey(str: string): SecretKey {
  const [name, bytes] = splitNamed(str, 'secret key', InvalidKeyError)
  if (bytes.length !== 64) {
    throw new InvalidKeyError(
      bytes.length === 32
        ? `key "${name}" is a public key (32 bytes), not a secret key file`
        : `secret key "${name}" has ${bytes.length} bytes; a Nix secret key has 64`
    )
  }
  const key = secretKeyFromSeed(name, bytes.subarray(0, 32))
  if (!Buffer.from(key.publicKey.key).equals(bytes.subarray(32))) {
    throw new InvalidKeyError(`secret key "${name}" is corrupt: its public half does not match its seed`)
  }
  return key
}

export function formatSecretKey(key: SecretKey): string {
  return `${key.name}:${Buffer.concat([key.seed, key.publicKey.key]).toString('base64')}`
}

/** Parse a public key `name:base64(32 bytes)` as given in `trusted-public-keys`. */
export function parsePublicKey(str: string): PublicKey {
  const [name, bytes] = splitNamed(str, 'public key', InvalidKeyError)
  if (bytes.length !== 32) {
    throw new InvalidKeyError(
      bytes.length === 64
        ? `key "${name}" is a secret key; give the public key (nix key convert-secret-to-public, or narthex keygen's output)`
        : `public key "${name}" has ${bytes.length} bytes; a Nix public key has 32`
    )
  }
  return publicKeyFromRaw(name, bytes)
}

export function formatPublicKey(key: PublicKey): string {
  return `${key.name}:${Buffer.from(key.key).toString('base64')}`
}

export function parseSignature(str: string): Signature {
  const [keyName, sig] = splitNamed(str, 'signature', InvalidSignatureError)
  if (sig.length !== 64)
    throw new InvalidSignatureError(`signature by "${keyName}" has ${sig.length} bytes, not 64`)
  return { keyName, sig: new Uint8Array(sig) }
}

export function formatSignature(sig: Signature): string {
  return `${sig.keyName}:${Buffer.from(sig.sig).toString('base64')}`
}

/** Sign `message` (UTF-8 when a string) and return the `name:base64` signature. */
export function signDetached(key: SecretKey, message: string | Uint8Array): string {
  const sig = edSign(
    null,
    typeof message === 'string' ? Buffer.from(message, 'utf8') : message,
    key.keyObject
  )
  return formatSignature({ keyName: key.name, sig })
}

/**
 * Verify one `name:base64` signature against the public keys: true when a key with that name exists and the
 * signature verifies. A malformed signature string is simply not valid (false), as in Nix.
 */
export function verifyDetached(
  message: string | Uint8Array,
  signature: string,
  keys: Iterable<PublicKey>
): boolean {
  let parsed: Signature
  try {
    parsed = parseSignature(signature)
  } catch {
    return false
  }
  const data = typeof message === 'string' ? Buffer.from(message, 'utf8') : message
  for (const key of keys) {
    if (key.name === parsed.keyName && edVerify(null, data, key.keyObject, parsed.sig)) return true
  }
  return false
}

export interface FingerprintFields {
  /** Full store path. */
  readonly storePath: string
  /** `sha256:<nix32>`. */
  readonly narHash: string
  readonly narSize: number | bigint
  /** Full store paths of the references, in any order (sorted as Nix stores them). */
  readonly references: readonly string[]
}

/** The string Nix signs for a store path: `1;storePath;narHash;narSize;ref1,ref2`. */
export function fingerprint(f: FingerprintFields): string {
  const refs = [...f.references].sort()
  return `1;${f.storePath};${f.narHash};${f.narSize};${refs.join(',')}`
}
