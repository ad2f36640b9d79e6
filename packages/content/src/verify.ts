/**
 * Verification of what arrives from elsewhere (a peer, a disk that may rot): a chunk against its id, a manifest
 * against its root and against the NarHash/NarSize it is supposed to describe.
 */
import { createHash } from 'node:crypto'
import { parseSha256 } from '@narthex/nix'
import type { CID } from 'multiformats/cid'
import { digestOfRawCid } from './cid.js'
import { MAX_MANIFEST_BYTES } from './constants.js'
import {
  ChunkHashMismatchError,
  ManifestRootMismatchError,
  ManifestTooLargeError,
  NarHashMismatchError,
  NarSizeMismatchError
} from './errors.js'
import { checkManifestRoot, decodeManifest, type Manifest } from './manifest.js'

function sameDigest(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)
}

/** Throws ChunkHashMismatchError unless `bytes` hash to `cid` (InvalidCidError if `cid` is not raw/sha2-256). */
export function verifyChunk(cid: CID, bytes: Uint8Array): void {
  const expected = digestOfRawCid(cid)
  const actual = createHash('sha256').update(bytes).digest()
  if (!sameDigest(actual, expected)) {
    throw new ChunkHashMismatchError(`chunk of ${bytes.length} bytes does not hash to ${String(cid)}`)
  }
}

/**
 * Check manifest bytes against the root they were asked for, decode them, and (when given) compare the NarHash
 * and NarSize they describe with what a narinfo or an agreement claims. Throws ManifestTooLargeError,
 * ManifestRootMismatchError, InvalidManifestError, NarHashMismatchError or NarSizeMismatchError.
 */
export function verifyManifest(
  bytes: Uint8Array,
  root: CID,
  expect: { narHash?: string; narSize?: number } = {}
): Manifest {
  checkManifestRoot(root)
  if (bytes.length > MAX_MANIFEST_BYTES) {
    throw new ManifestTooLargeError(`manifest of ${bytes.length} bytes exceeds ${MAX_MANIFEST_BYTES}`)
  }
  const actual = createHash('sha256').update(bytes).digest()
  if (!sameDigest(actual, root.multihash.digest)) {
    throw new ManifestRootMismatchError(`manifest bytes do not hash to ${String(root)}`)
  }
  const manifest = decodeManifest(bytes)
  if (expect.narHash !== undefined && !sameNarHash(manifest.narHash, expect.narHash)) {
    throw new NarHashMismatchError(`manifest describes NAR ${manifest.narHash}, expected ${expect.narHash}`)
  }
  if (expect.narSize !== undefined && manifest.narSize !== expect.narSize) {
    throw new NarSizeMismatchError(
      `manifest describes a NAR of ${manifest.narSize} bytes, expected ${expect.narSize}`
    )
  }
  return manifest
}

/** Whether two sha256 hash strings (any form Nix accepts) name the same digest. */
export function sameNarHash(a: string, b: string): boolean {
  return sameDigest(parseSha256(a), parseSha256(b))
}
