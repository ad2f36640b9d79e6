/**
 * Store paths: `/nix/store/<hash part>-<name>`.
 * - hash part: 32 nix-base32 characters (the truncated, compressed SHA-256 Nix computes);
 * - name: 1..211 characters from `A-Za-z0-9+-._?=`, not `.` or `..`, and not starting with `.` (Nix 2.8 rule,
 *   kept because that is the client narthex serves; newer Nix relaxes it).
 * Reference: Nix `src/libstore/path.cc` (`checkName`, `StorePath::StorePath`).
 */
import { DEFAULT_STORE_DIR, STORE_PATH_HASH_LENGTH, STORE_PATH_NAME_MAX } from './constants.js'
import { InvalidStorePathError } from './errors.js'
import { isNixBase32 } from './nix-base32.js'

export interface StorePath {
  /** The 32-character nix-base32 hash part. */
  readonly hashPart: string
  /** The name after the dash. */
  readonly name: string
}

const NAME_CHARS = /^[A-Za-z0-9+\-._?=]+$/

/** Check a store path name; throws `InvalidStorePathError` naming the rule broken. */
export function checkName(name: string): void {
  if (name.length === 0) throw new InvalidStorePathError('store path name is empty')
  if (name.length > STORE_PATH_NAME_MAX) {
    throw new InvalidStorePathError(`store path name is longer than ${STORE_PATH_NAME_MAX} characters`)
  }
  if (name.startsWith('.'))
    throw new InvalidStorePathError(`store path name ${JSON.stringify(name)} starts with "."`)
  if (!NAME_CHARS.test(name)) {
    throw new InvalidStorePathError(
      `store path name ${JSON.stringify(name)} contains a character Nix forbids`
    )
  }
}

/** Check a hash part: exactly 32 nix-base32 characters. */
export function checkHashPart(hashPart: string): void {
  if (hashPart.length !== STORE_PATH_HASH_LENGTH || !isNixBase32(hashPart)) {
    throw new InvalidStorePathError(
      `${JSON.stringify(hashPart)} is not a store path hash part (32 nix-base32 characters)`
    )
  }
}

export function isHashPart(str: string): boolean {
  return str.length === STORE_PATH_HASH_LENGTH && isNixBase32(str)
}

/** Parse a base name `<hash>-<name>` (as in narinfo `References`). */
export function parseBaseName(baseName: string): StorePath {
  if (baseName.length < STORE_PATH_HASH_LENGTH + 2 || baseName[STORE_PATH_HASH_LENGTH] !== '-') {
    throw new InvalidStorePathError(
      `${JSON.stringify(baseName)} is not a store path base name (<hash>-<name>)`
    )
  }
  const hashPart = baseName.slice(0, STORE_PATH_HASH_LENGTH)
  const name = baseName.slice(STORE_PATH_HASH_LENGTH + 1)
  checkHashPart(hashPart)
  checkName(name)
  return { hashPart, name }
}

/** Parse a full store path `/nix/store/<hash>-<name>`; no trailing slash or sub-path. */
export function parseStorePath(path: string, storeDir: string = DEFAULT_STORE_DIR): StorePath {
  const prefix = `${storeDir}/`
  if (!path.startsWith(prefix))
    throw new InvalidStorePathError(`${JSON.stringify(path)} is not in ${storeDir}`)
  return parseBaseName(path.slice(prefix.length))
}

export function formatBaseName(p: StorePath): string {
  return `${p.hashPart}-${p.name}`
}

export function formatStorePath(p: StorePath, storeDir: string = DEFAULT_STORE_DIR): string {
  return `${storeDir}/${p.hashPart}-${p.name}`
}

/** The base name of a full store path or a base name, validated. */
export function baseNameOf(pathOrBaseName: string, storeDir: string = DEFAULT_STORE_DIR): string {
  const p = pathOrBaseName.startsWith('/')
    ? parseStorePath(pathOrBaseName, storeDir)
    : parseBaseName(pathOrBaseName)
  return formatBaseName(p)
}
