/**
 * Content identifiers of NARs and chunks: CIDv1, `raw` codec (0x55), sha2-256 multihash (0x12, 32 bytes).
 *
 * A NAR's CID carries the very digest of its narinfo `NarHash`, so the two convert both ways without the bytes:
 * `sha256:1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s` ⇄ `bafkrei…` (base32 text form of the CID).
 * Hashing uses `node:crypto` (OpenSSL); multiformats only frames the digest (`Digest.create`).
 */
import { createHash } from 'node:crypto'
import { formatSha256, parseSha256 } from '@narthex/nix'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { InvalidCidError } from './errors.js'

/** Multihash code of sha2-256 (multicodec table). */
export const SHA2_256_CODE = 0x12
/** Multicodec of raw bytes: NARs and chunks. */
export const RAW_CODE: typeof raw.code = raw.code
/** Length in bytes of a sha2-256 digest. */
export const SHA2_256_LENGTH = 32

/** The CIDv1(raw, sha2-256) of a 32-byte sha2-256 digest. */
export function rawCidFromDigest(digest: Uint8Array): CID {
  if (digest.length !== SHA2_256_LENGTH) {
    throw new InvalidCidError(`a sha2-256 digest has 32 bytes, got ${digest.length}`)
  }
  return CID.createV1(RAW_CODE, Digest.create(SHA2_256_CODE, digest))
}

/** The sha2-256 digest of a CIDv1(raw, sha2-256); InvalidCidError for any other kind of CID. */
export function digestOfRawCid(cid: CID): Uint8Array {
  checkRawCid(cid)
  return cid.multihash.digest
}

/** Throws InvalidCidError unless `cid` is CIDv1, raw codec, with a 32-byte sha2-256 multihash. */
export function checkRawCid(cid: CID): void {
  if (
    cid.version !== 1 ||
    cid.code !== RAW_CODE ||
    cid.multihash.code !== SHA2_256_CODE ||
    cid.multihash.size !== SHA2_256_LENGTH
  ) {
    throw new InvalidCidError(`${String(cid)} is not a CIDv1 of raw bytes hashed with sha2-256`)
  }
}

/** The CID of a NAR from its NarHash in any sha256 form Nix accepts (`sha256:<nix32>`, base16, base64, SRI). */
export function narCidFromNarHash(narHash: string): CID {
  return rawCidFromDigest(parseSha256(narHash))
}

/** The NarHash (`sha256:<nix32>`) a NAR CID stands for. */
export function narHashFromCid(cid: CID): string {
  return formatSha256(digestOfRawCid(cid))
}

/** The id of a chunk: CIDv1(raw, sha2-256 of its bytes). Synchronous. */
export function chunkCid(bytes: Uint8Array): CID {
  return rawCidFromDigest(createHash('sha256').update(bytes).digest())
}

/**
 * Parse a CID from its text form (base32 `b…` multibase, as `String(cid)` prints) and require the raw/sha2-256
 * kind. InvalidCidError for anything else.
 */
export function parseRawCid(text: string): CID {
  let cid: CID
  try {
    cid = CID.parse(text)
  } catch (err) {
    throw new InvalidCidError(`${JSON.stringify(text)} is not a CID: ${(err as Error).message}`)
  }
  checkRawCid(cid)
  return cid
}
