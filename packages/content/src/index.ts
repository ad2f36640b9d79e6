/**
 * @packageDocumentation
 *
 * Content addressing for NARs: the ids peers look things up by, how a NAR is cut into chunks, and the manifest
 * that lists them.
 *
 * - **NAR CID** = CIDv1(raw, sha2-256 of the uncompressed NAR): the digest of the narinfo's `NarHash`, so each
 *   converts to the other ({@link narCidFromNarHash}, {@link narHashFromCid}).
 * - **Chunks**: FastCDC over the uncompressed NAR with the fixed, named parameters {@link CHUNKER}; a chunk's id is
 *   CIDv1(raw, sha2-256 of its bytes) ({@link chunkCid}).
 * - **Manifest**: ordered chunk ids and sizes plus NarHash and NarSize, encoded as deterministic DAG-CBOR; its
 *   CID(dag-cbor) is the manifest root ({@link encodeManifest}, {@link decodeManifest}, {@link manifestRoot}).
 * - {@link ingestNar}: one streaming pass over a NAR yields NarHash, NarSize, chunks and manifest; with a started
 *   {@link HashWorkers} (start()/stop()), its SHA-256 work runs on two worker threads.
 * - {@link verifyChunk}, {@link verifyManifest}: check what came from a peer or a disk before using it.
 *
 * Pure: bytes or async iterables in, values out; no file system, network or database.
 *
 * @example
 * ```ts
 * import { ingestNar, verifyManifest, narCidFromNarHash } from '@narthex/content'
 * const { narHash, manifestBytes, root } = await ingestNar(createReadStream('x.nar'), {
 *   onChunk: async ({ cid, bytes }) => { await save(cid, bytes) }
 * })
 * const manifest = verifyManifest(manifestBytes, root, { narHash })   // what a receiver does
 * narCidFromNarHash(narHash)                                          // what the DHT is asked for
 * ```
 */
export type { CID } from 'multiformats/cid'
export {
  checkRawCid,
  chunkCid,
  digestOfRawCid,
  narCidFromNarHash,
  narHashFromCid,
  parseRawCid,
  rawCidFromDigest
} from './cid.js'
export { CHUNKER, CHUNKERS, MANIFEST_VERSION, MAX_CHUNK_SIZE, MAX_MANIFEST_BYTES } from './constants.js'
export * from './errors.js'
export { type ChunkerParams, checkChunkerParams, chunkBytes, FastCdc, GEAR } from './fastcdc.js'
export { type HashSession, HashWorkers, toShared } from './hash-workers.js'
export { type Chunk, type IngestOptions, type IngestResult, ingestNar } from './ingest.js'
export {
  checkManifestRoot,
  DAG_CBOR_CODE,
  decodeManifest,
  encodeManifest,
  type Manifest,
  type ManifestChunk,
  manifestRoot
} from './manifest.js'
export { sameNarHash, verifyChunk, verifyManifest } from './verify.js'
