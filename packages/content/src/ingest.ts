/**
 * One streaming pass over a NAR: it computes the NarHash and NarSize, cuts the NAR into chunks (handed to the
 * caller in order as they are found, with their ids), and builds the manifest. The NAR is never held whole:
 * memory is bounded by INGEST_HASH_WINDOW bytes of chunks (plus one chunk), the read-ahead, and what the
 * caller keeps.
 *
 * Two SHA-256 passes are needed (the NarHash over the whole NAR and one per chunk), and SHA-256 is the dominant
 * cost, so they run off this thread, which only chunks. With `hashWorkers` (started), the NarHash and the chunk
 * digests are computed on those two worker threads: each piece is copied once into a SharedArrayBuffer (unless it
 * already is one), and the workers read it in place. Without, the NarHash is computed here and chunk digests
 * through WebCrypto's `subtle.digest`, which Node runs on the libuv thread pool. Chunks of up to
 * INGEST_HASH_WINDOW bytes wait for their digests; they are still delivered strictly in order.
 */
import { createHash, webcrypto } from 'node:crypto'
import { formatSha256 } from '@narthex/nix'
import type { CID } from 'multiformats/cid'
import { rawCidFromDigest } from './cid.js'
import {
  CHUNKER,
  HASH_WORKERS_MIN_BYTES,
  INGEST_HASH_WINDOW,
  INGEST_READ_AHEAD,
  MANIFEST_VERSION,
  NAR_HASH_BACKLOG
} from './constants.js'
import { type ChunkerParams, FastCdc } from './fastcdc.js'
import { type HashSession, type HashWorkers, toShared } from './hash-workers.js'
import { encodeManifest, type Manifest, type ManifestChunk, manifestRoot } from './manifest.js'
import { readAhead } from './read-ahead.js'

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
  /** Worker threads for the SHA-256 work (see HashWorkers); when absent or stopped, it is done as described above. */
  readonly hashWorkers?: HashWorkers
  /**
   * Called once per chunk, in NAR order; a returned promise is awaited before the next chunk is delivered
   * (backpressure). A throw or rejection ends the ingest with that error.
   */
  readonly onChunk?: (chunk: Chunk) => void | Promise<void>
}

interface Pending {
  readonly bytes: Uint8Array
  readonly offset: number
  readonly digest: Promise<ArrayBuffer | Uint8Array>
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
  // Small NARs are hashed on this thread: a round trip to the workers costs more than hashing them here. So read
  // up to HASH_WORKERS_MIN_BYTES first, and open a worker session only when the NAR is larger.
  const pieces = readAhead(source, INGEST_READ_AHEAD)
  const head: Uint8Array[] = []
  let ended = false
  if (opts.hashWorkers?.running) {
    let headBytes = 0
    while (headBytes < HASH_WORKERS_MIN_BYTES) {
      const r = await pieces.next()
      if (r.done) {
        ended = true
        break
      }
      head.push(r.value)
      headBytes += r.value.length
    }
  }
  const all = async function* (): AsyncGenerator<Uint8Array> {
    yield* head
    if (!ended) yield* pieces
  }
  const session: HashSession | undefined =
    opts.hashWorkers?.running && !ended ? opts.hashWorkers.session() : undefined
  const narHasher = session === undefined ? createHash('sha256') : undefined
  const chunks: ManifestChunk[] = []
  const window: Pending[] = []
  let windowBytes = 0
  let narSize = 0
  let offset = 0

  const deliver = async (p: Pending): Promise<void> => {
    const cid = rawCidFromDigest(new Uint8Array(await p.digest))
    chunks.push({ cid, size: p.bytes.length })
    if (onChunk !== undefined) await onChunk({ cid, bytes: p.bytes, offset: p.offset })
  }
  const enqueue = async (bytes: Uint8Array, digest: Promise<ArrayBuffer | Uint8Array>): Promise<void> => {
    // A digest failing while earlier chunks are still being delivered must not become an unhandled rejection.
    digest.catch(() => {})
    window.push({ bytes, offset, digest })
    offset += bytes.length
    windowBytes += bytes.length
    while (windowBytes >= INGEST_HASH_WINDOW) {
      const p = window.shift()!
      windowBytes -= p.bytes.length
      await deliver(p)
    }
  }
  /** Queue the chunks that end in `piece` (on the workers: one request for all of them). */
  const enqueueAll = async (piece: Uint8Array, found: Uint8Array[]): Promise<void> => {
    if (session === undefined) {
      for (const c of found) await enqueue(c, webcrypto.subtle.digest('SHA-256', c))
      return
    }
    const pieceStart = narSize - piece.length
    const cuts: number[] = []
    let end = offset
    for (const c of found) {
      end += c.length
      cuts.push(end - pieceStart)
    }
    const digests = session.digestCuts(piece, cuts)
    digests.catch(() => {})
    for (let j = 0; j < found.length; j++) {
      await enqueue(
        found[j]!,
        digests.then((d) => d.subarray(32 * j, 32 * j + 32))
      )
    }
  }

  let narDigest: Uint8Array
  try {
    for await (const read of all()) {
      signal?.throwIfAborted()
      if (read.length === 0) continue
      let piece = read
      if (session === undefined) narHasher!.update(piece)
      else {
        piece = toShared(read)
        session.update(piece)
      }
      narSize += piece.length
      await enqueueAll(piece, cdc.push(piece))
      // Bound what waits for the NarHash worker (the chunks hold their own bytes).
      if (session !== undefined && session.backlog > NAR_HASH_BACKLOG)
        await session.drained(NAR_HASH_BACKLOG / 2)
    }
    const last = cdc.finish()
    if (last !== undefined) await enqueueAll(new Uint8Array(0), [last])
    while (window.length > 0) {
      signal?.throwIfAborted()
      await deliver(window.shift()!)
    }
    narDigest = session === undefined ? narHasher!.digest() : await session.digest()
  } finally {
    session?.close()
  }
  const narHash = formatSha256(narDigest)
  const manifest: Manifest = { version: MANIFEST_VERSION, chunker: params.name, narHash, narSize, chunks }
  const manifestBytes = encodeManifest(manifest)
  return { narHash, narSize, manifest, manifestBytes, root: manifestRoot(manifestBytes) }
}
