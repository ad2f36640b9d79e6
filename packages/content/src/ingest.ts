/**
 * One streaming pass over a NAR: it computes the NarHash and NarSize, cuts the NAR into chunks (handed to the
 * caller in order as they are found, with their ids), and builds the manifest. The NAR is never held whole:
 * memory is bounded by INGEST_HASH_WINDOW chunks of at most maxSize plus what the caller keeps.
 *
 * Two SHA-256 passes are needed (the NarHash over the whole NAR and one per chunk), and SHA-256 is the dominant
 * cost, so they run on different cores: the NarHash and the chunker on this thread, chunk digests through
 * WebCrypto's `subtle.digest`, which Node runs on the libuv thread pool. Up to INGEST_HASH_WINDOW chunk digests
 * are in flight; chunks are still delivered strictly in order.
 */
import { createHash, webcrypto } from 'node:crypto'
import { formatSha256 } from '@narthex/nix'
import type { CID } from 'multiformats/cid'
import { rawCidFromDigest } from './cid.js'
import { CHUNKER, INGEST_HASH_WINDOW, MANIFEST_VERSION } from './constants.js'
import { type ChunkerParams, FastCdc } from './fastcdc.js'
import { encodeManifest, type Manifest, type ManifestChunk, manifestRoot } from './manifest.js'

/** A chunk as ingestNar finds it: its id, its bytes (a view; do not modify) and its offset in the NAR. */
export interface Chunk {
  readonly cid: CID
  readonly bytes: Uint8Array
  readonly offset: number
}

export interface IngestResult {
  readonly narHash: string
  readonly narSize: number
  readonly manifest: Manifest
  readonly manifestBytes: Uint8Array
  readonly root: CID
}

export interface IngestOptions {
  /** Chunker parameters; default CHUNKER. */
  readonly params?: ChunkerParams
  readonly signal?: AbortSignal
  /**
   * Called once per chunk, in NAR order; a returned promise is awaited before the next chunk is delivered
   * (backpressure). A throw or rejection ends the ingest with that error.
   */
  readonly onChunk?: (chunk: Chunk) => void | Promise<void>
}

interface Pending {
  readonly bytes: Uint8Array
  readonly offset: number
  readonly digest: Promise<ArrayBuffer>
}

/**
 * Read `source` to its end once. The pieces it yields must not be modified afterwards (chunks may be views of
 * them). Rejects with the source's error, onChunk's error, or the signal's reason.
 */
export async function ingestNar(
  source: AsyncIterable<Uint8Array>,
  opts: IngestOptions = {}
): Promise<IngestResult> {
  const params = opts.params ?? CHUNKER
  const { signal, onChunk } = opts
  signal?.throwIfAborted()
  const cdc = new FastCdc(params)
  const narHasher = createHash('sha256')
  const chunks: ManifestChunk[] = []
  const window: Pending[] = []
  let narSize = 0
  let offset = 0

  const deliver = async (p: Pending): Promise<void> => {
    const cid = rawCidFromDigest(new Uint8Array(await p.digest))
    chunks.push({ cid, size: p.bytes.length })
    if (onChunk !== undefined) await onChunk({ cid, bytes: p.bytes, offset: p.offset })
  }
  const enqueue = async (bytes: Uint8Array): Promise<void> => {
    const digest = webcrypto.subtle.digest('SHA-256', bytes)
    // A digest failing while earlier chunks are still being delivered must not become an unhandled rejection.
    digest.catch(() => {})
    window.push({ bytes, offset, digest })
    offset += bytes.length
    if (window.length >= INGEST_HASH_WINDOW) await deliver(window.shift()!)
  }

  for await (const piece of source) {
    signal?.throwIfAborted()
    if (piece.length === 0) continue
    narHasher.update(piece)
    narSize += piece.length
    for (const chunk of cdc.push(piece)) await enqueue(chunk)
  }
  const last = cdc.finish()
  if (last !== undefined) await enqueue(last)
  while (window.length > 0) {
    signal?.throwIfAborted()
    await deliver(window.shift()!)
  }
  const narHash = formatSha256(narHasher.digest())
  const manifest: Manifest = { version: MANIFEST_VERSION, chunker: params.name, narHash, narSize, chunks }
  const manifestBytes = encodeManifest(manifest)
  return { narHash, narSize, manifest, manifestBytes, root: manifestRoot(manifestBytes) }
}
