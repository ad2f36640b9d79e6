/**
 * The manifest of a NAR: which chunks, in which order, make it up, and the NarHash/NarSize they add up to.
 *
 * Wire format: DAG-CBOR (deterministic: map keys sorted, minimal integers, no indefinite lengths, CIDs as tag 42)
 * of a map with exactly these keys (shown in their canonical order):
 *
 * ```
 * { "chunks":  [[<CID chunk 0>, <size 0>], [<CID chunk 1>, <size 1>], ...],   // in NAR order
 *   "narHash": "sha256:<nix32>",                                             // canonical nix32 form
 *   "narSize": <uint>,                                                        // = sum of the sizes
 *   "chunker": "<name of the chunker parameters it was cut with>",
 *   "version": 1 }
 * ```
 *
 * Its id, the manifest root, is CIDv1(dag-cbor, sha2-256 of those bytes). A manifest decodes only if it
 * re-encodes to exactly the same bytes, so one manifest has one root. Every chunk CID is CIDv1(raw, sha2-256);
 * every size is 1..MAX_CHUNK_SIZE; a zero-byte NAR has no chunks.
 */
import { createHash } from 'node:crypto'
import * as dagCbor from '@ipld/dag-cbor'
import { formatSha256, parseSha256 } from '@narthex/nix'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { checkRawCid, SHA2_256_CODE, SHA2_256_LENGTH } from './cid.js'
import { MANIFEST_VERSION, MAX_CHUNK_SIZE, MAX_MANIFEST_BYTES } from './constants.js'
import { InvalidCidError, InvalidManifestError, ManifestTooLargeError } from './errors.js'

/** Multicodec of DAG-CBOR: manifests. */
export const DAG_CBOR_CODE: typeof dagCbor.code = dagCbor.code

export interface ManifestChunk {
  readonly cid: CID
  readonly size: number
}

export interface Manifest {
  readonly version: 1
  /** Name of the chunker parameters the NAR was cut with (`CHUNKER.name` for new manifests). */
  readonly chunker: string
  /** `sha256:<nix32>` of the whole NAR. */
  readonly narHash: string
  readonly narSize: number
  /** In NAR order; sizes sum to narSize. */
  readonly chunks: readonly ManifestChunk[]
}

const KEYS = ['chunker', 'chunks', 'narHash', 'narSize', 'version']
const MAX_CHUNKER_NAME = 128

/** Encode a manifest as deterministic DAG-CBOR. Checks it first (InvalidManifestError). */
export function encodeManifest(m: Manifest): Uint8Array {
  checkManifest(m)
  return dagCbor.encode({
    version: m.version,
    chunker: m.chunker,
    narHash: m.narHash,
    narSize: m.narSize,
    chunks: m.chunks.map((c) => [c.cid, c.size])
  })
}

/** The manifest root: CIDv1(dag-cbor, sha2-256) of the encoded bytes. */
export function manifestRoot(bytes: Uint8Array): CID {
  return CID.createV1(
    DAG_CBOR_CODE,
    Digest.create(SHA2_256_CODE, createHash('sha256').update(bytes).digest())
  )
}

/** Throws InvalidCidError unless `root` is a CIDv1(dag-cbor, sha2-256). */
export function checkManifestRoot(root: CID): void {
  if (
    root.version !== 1 ||
    root.code !== DAG_CBOR_CODE ||
    root.multihash.code !== SHA2_256_CODE ||
    root.multihash.size !== SHA2_256_LENGTH
  ) {
    throw new InvalidCidError(`${String(root)} is not a manifest root (CIDv1 dag-cbor sha2-256)`)
  }
}

/**
 * Decode manifest bytes, strictly: size limit, exact keys and types, canonical encoding, chunk CIDs and sizes,
 * and sizes summing to narSize. Throws ManifestTooLargeError or InvalidManifestError (with the field).
 */
export function decodeManifest(bytes: Uint8Array): Manifest {
  if (bytes.length > MAX_MANIFEST_BYTES) {
    throw new ManifestTooLargeError(`manifest of ${bytes.length} bytes exceeds ${MAX_MANIFEST_BYTES}`)
  }
  let node: unknown
  try {
    node = dagCbor.decode(bytes)
  } catch (err) {
    throw new InvalidManifestError(`manifest is not valid DAG-CBOR: ${(err as Error).message}`)
  }
  if (typeof node !== 'object' || node === null || Array.isArray(node) || node instanceof Uint8Array) {
    throw new InvalidManifestError('manifest is not a map')
  }
  const obj = node as Record<string, unknown>
  const keys = Object.keys(obj).sort()
  if (keys.length !== KEYS.length || keys.some((k, i) => k !== KEYS[i])) {
    throw new InvalidManifestError(
      `manifest has keys ${JSON.stringify(keys)}, expected ${JSON.stringify(KEYS)}`
    )
  }
  const rawChunks = obj.chunks
  if (!Array.isArray(rawChunks)) throw new InvalidManifestError('manifest field "chunks" is not a list')
  const chunks: ManifestChunk[] = new Array(rawChunks.length)
  for (let i = 0; i < rawChunks.length; i++) {
    const entry = rawChunks[i] as unknown
    if (!Array.isArray(entry) || entry.length !== 2) {
      throw new InvalidManifestError(`manifest chunk ${i} is not a [cid, size] pair`)
    }
    const cid = CID.asCID(entry[0])
    if (cid === null) throw new InvalidManifestError(`manifest chunk ${i} has no CID`)
    chunks[i] = { cid, size: entry[1] as number }
  }
  const m = {
    version: obj.version,
    chunker: obj.chunker,
    narHash: obj.narHash,
    narSize: obj.narSize,
    chunks
  } as Manifest
  checkManifest(m)
  const again = encodeManifest(m)
  if (!Buffer.from(again.buffer, again.byteOffset, again.byteLength).equals(bytes)) {
    throw new InvalidManifestError('manifest is not canonically encoded')
  }
  return m
}

/** The checks encode and decode share; throws InvalidManifestError naming the field. */
function checkManifest(m: Manifest): void {
  if (m.version !== MANIFEST_VERSION) {
    throw new InvalidManifestError(`manifest field "version" is ${String(m.version)}, expected 1`)
  }
  if (typeof m.chunker !== 'string' || m.chunker.length === 0 || m.chunker.length > MAX_CHUNKER_NAME) {
    throw new InvalidManifestError('manifest field "chunker" is not a name of 1..128 characters')
  }
  if (typeof m.narHash !== 'string')
    throw new InvalidManifestError('manifest field "narHash" is not a string')
  let canonical: string
  try {
    canonical = formatSha256(parseSha256(m.narHash))
  } catch (err) {
    throw new InvalidManifestError(`manifest field "narHash": ${(err as Error).message}`)
  }
  if (canonical !== m.narHash) {
    throw new InvalidManifestError('manifest field "narHash" is not in the form sha256:<nix32>')
  }
  if (!Number.isSafeInteger(m.narSize) || m.narSize < 0) {
    throw new InvalidManifestError('manifest field "narSize" is not a non-negative integer')
  }
  let sum = 0
  for (let i = 0; i < m.chunks.length; i++) {
    const { cid, size } = m.chunks[i]!
    try {
      checkRawCid(cid)
    } catch (err) {
      throw new InvalidManifestError(`manifest chunk ${i}: ${(err as Error).message}`)
    }
    if (!Number.isSafeInteger(size) || size < 1 || size > MAX_CHUNK_SIZE) {
      throw new InvalidManifestError(`manifest chunk ${i} has size ${String(size)}, not 1..${MAX_CHUNK_SIZE}`)
    }
    sum += size
  }
  if (sum !== m.narSize) {
    throw new InvalidManifestError(`manifest chunk sizes add up to ${sum}, not narSize ${m.narSize}`)
  }
}
