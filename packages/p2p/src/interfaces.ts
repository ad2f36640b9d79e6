/**
 * The store-facing interfaces of the network layer. @narthex/store implements them; the fetch server reads
 * through ChunkSource, the downloader writes through ChunkSink. CIDs are multiformats CIDs: NAR CIDs are
 * CIDv1(raw, sha2-256 of the NAR), chunk CIDs CIDv1(raw, sha2-256 of the chunk) (see @narthex/content).
 */
import type { CID } from 'multiformats/cid'

/** What a seeder serves. Every method resolves undefined/false for what it does not hold; it never throws for that. */
export interface ChunkSource {
  /** Whether the whole NAR (manifest and every chunk) is held. */
  hasNar(narCid: CID, options?: { signal?: AbortSignal }): Promise<boolean>
  /** The NAR's encoded manifest (content's DAG-CBOR bytes). */
  getManifest(narCid: CID, options?: { signal?: AbortSignal }): Promise<Uint8Array | undefined>
  /** A chunk's bytes, verified by the store (bit rot must not reach the wire). */
  getChunk(cid: CID, options?: { signal?: AbortSignal }): Promise<Uint8Array | undefined>
  /**
   * Chunks from the start of `cids`, in order, as many as fit in `maxBytes` (at least one; each undefined when
   * not held), for a source that reads a group more cheaply than one by one. Without it the server calls getChunk
   * for each.
   */
  getChunks?(
    cids: readonly CID[],
    options: { signal?: AbortSignal; maxBytes: number }
  ): Promise<Array<Uint8Array | undefined>>
}

/** Where a download puts what it fetched, so an interrupted download resumes from what is already stored. */
export interface ChunkSink {
  hasChunk(cid: CID, options?: { signal?: AbortSignal }): Promise<boolean>
  getChunk(cid: CID, options?: { signal?: AbortSignal }): Promise<Uint8Array | undefined>
  /** Store a chunk whose bytes were already verified against `cid`. */
  putChunk(cid: CID, bytes: Uint8Array, options?: { signal?: AbortSignal }): Promise<void>
  /**
   * Record the NAR as complete: every chunk of the manifest is stored and verified. Called once, after the last
   * chunk (and, without a trusted root, after the NarHash check).
   */
  commitNar(narCid: CID, manifestBytes: Uint8Array, options?: { signal?: AbortSignal }): Promise<void>
}
