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
  INGEST_RING_BYTES,
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
  /**
   * With `holdChunks`: call once when done with `bytes`, which may be reused afterwards. Otherwise it does
   * nothing (the bytes are the caller's to keep).
   */
  readonly release: () => void
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
  /**
   * Whether onChunk keeps a chunk's bytes after its promise settles, until it calls `chunk.release()`. With
   * `hashWorkers`, the bytes are then views of shared memory (see shared-ring.ts) that is reused once released,
   * so the workers and the caller's own threads read them without a copy: every delivered chunk must be released
   * (also when the ingest fails), and soon, since the ingest waits for releases when that memory is full. When
   * false (the default), the bytes are the caller's to keep (with `hashWorkers`, a copy).
   */
  readonly holdChunks?: boolean
}

interface Pending {
  readonly bytes: Uint8Array
  readonly offset: number
  readonly digest: Promise<ArrayBuffer | Uint8Array>
  ready: boolean
}

/** Pieces larger than this are cut before they go into the ring, so that it always has room for the next. */
const RING_PIECE_DIVISOR = 8

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
  const workers = opts.hashWorkers
  const session: HashSession | undefined = workers?.running && !ended ? workers.session() : undefined
  // The ring needs room for a chunk in progress besides the pieces around it.
  const ring =
    session !== undefined && params.maxSize * RING_PIECE_DIVISOR <= INGEST_RING_BYTES
      ? workers!.takeRing()
      : undefined
  const maxPiece = ring === undefined ? Number.POSITIVE_INFINITY : ring.size / RING_PIECE_DIVISOR
  const narHasher = session === undefined ? createHash('sha256') : undefined
  const chunks: ManifestChunk[] = []
  const window: Pending[] = []
  let windowBytes = 0
  let narSize = 0
  let offset = 0
  /** With a ring: how far the chunk worker has read the stream, and the delivered chunks not yet released. */
  let digestedUpTo = 0
  const leases: Array<{ start: number; released: boolean }> = []
  let leased = 0
  let ringDone = false
  const giveBackRing = () => {
    if (ring !== undefined && ringDone && leased === 0) workers!.returnRing(ring)
  }
  let wake: (() => void) | undefined
  const poke = () => {
    wake?.()
    wake = undefined
  }

  const deliver = async (p: Pending): Promise<void> => {
    const cid = rawCidFromDigest(new Uint8Array(await p.digest))
    chunks.push({ cid, size: p.bytes.length })
    if (onChunk === undefined) return
    if (ring === undefined || !opts.holdChunks) {
      // Without a ring the bytes are the source's; with one but a caller that keeps them, a copy.
      const bytes = ring === undefined ? p.bytes : p.bytes.slice()
      await onChunk({ cid, bytes, offset: p.offset, release: () => {} })
      return
    }
    const lease = { start: p.offset, released: false }
    leases.push(lease)
    leased++
    const release = () => {
      if (lease.released) return
      lease.released = true
      leased--
      while (leases.length > 0 && leases[0]!.released) leases.shift()
      poke()
      giveBackRing()
    }
    await onChunk({ cid, bytes: p.bytes, offset: p.offset, release })
  }
  /** Deliver the oldest chunk of the window (waiting for its digest). */
  const deliverFirst = async (): Promise<void> => {
    const p = window.shift()!
    windowBytes -= p.bytes.length
    await deliver(p)
  }
  const deliverReady = async (): Promise<void> => {
    while (window.length > 0 && window[0]!.ready) await deliverFirst()
  }
  const enqueue = async (bytes: Uint8Array, digest: Promise<ArrayBuffer | Uint8Array>): Promise<void> => {
    const p: Pending = { bytes, offset, digest, ready: false }
    // A digest failing while earlier chunks are still being delivered must not become an unhandled rejection.
    digest.then(
      () => {
        p.ready = true
      },
      () => {}
    )
    window.push(p)
    offset += bytes.length
    windowBytes += bytes.length
    while (windowBytes >= INGEST_HASH_WINDOW) await deliverFirst()
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
    digests.then(
      () => {
        digestedUpTo = Math.max(digestedUpTo, pieceStart + piece.length)
        poke()
      },
      () => {}
    )
    for (let j = 0; j < found.length; j++) {
      await enqueue(
        found[j]!,
        digests.then((d) => d.subarray(32 * j, 32 * j + 32))
      )
    }
  }
  /** Where everything before is no longer needed by the workers or the caller (ring mode). */
  const freedUpTo = (): number =>
    Math.min(narSize - session!.backlog, digestedUpTo, leases[0]?.start ?? window[0]?.offset ?? offset)
  /** Copy `piece` into the ring, waiting for room (delivering chunks whose digests are in meanwhile). */
  const intoRing = async (piece: Uint8Array, streamEnd: number): Promise<Uint8Array> => {
    for (;;) {
      ring!.free(freedUpTo())
      const view = ring!.place(piece, streamEnd)
      if (view !== undefined) return view
      if (window.length > 0 && window[0]!.ready) {
        await deliverReady()
        continue
      }
      const progress: Promise<unknown>[] = [new Promise<void>((resolve) => (wake = resolve))]
      if (window.length > 0) progress.push(window[0]!.digest)
      if (session!.backlog > 0) progress.push(session!.drained(session!.backlog - 1))
      await Promise.race(progress)
      signal?.throwIfAborted()
    }
  }
  const ingestPiece = async (read: Uint8Array): Promise<void> => {
    let piece = read
    if (session === undefined) narHasher!.update(piece)
    else {
      piece = ring === undefined ? toShared(read) : await intoRing(read, narSize + read.length)
      session.update(piece)
    }
    narSize += piece.length
    await enqueueAll(piece, cdc.push(piece))
    if (ring !== undefined) await deliverReady()
    // Bound what waits for the NarHash worker (the chunks hold their own bytes).
    if (session !== undefined && session.backlog > NAR_HASH_BACKLOG)
      await session.drained(NAR_HASH_BACKLOG / 2)
  }

  let narDigest: Uint8Array
  try {
    for await (const read of all()) {
      signal?.throwIfAborted()
      for (let at = 0; at < read.length; at += maxPiece) {
        await ingestPiece(at === 0 && read.length <= maxPiece ? read : read.subarray(at, at + maxPiece))
      }
    }
    const last = cdc.finish()
    if (last !== undefined) await enqueueAll(new Uint8Array(0), [last])
    while (window.length > 0) {
      signal?.throwIfAborted()
      await deliverFirst()
    }
    narDigest = session === undefined ? narHasher!.digest() : await session.digest()
  } finally {
    session?.close()
    ringDone = true
    giveBackRing()
  }
  const narHash = formatSha256(narDigest)
  const manifest: Manifest = { version: MANIFEST_VERSION, chunker: params.name, narHash, narSize, chunks }
  const manifestBytes = encodeManifest(manifest)
  return { narHash, narSize, manifest, manifestBytes, root: manifestRoot(manifestBytes) }
}
