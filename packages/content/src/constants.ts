/**
 * Fixed parameters of content addressing. Changing a chunker's numbers changes every chunk id: that is a new
 * chunker with a new name, never an edit of an existing one.
 */
import type { ChunkerParams } from './fastcdc.js'

/** Version of the manifest format (the `version` field); see manifest.ts. */
export const MANIFEST_VERSION = 1

/**
 * The named chunkers this version of narthex knows. All are FastCDC v1 (see fastcdc.ts: the gear table from
 * SHA-256 of "narthex fastcdc gear v1 <i>", 32-bit gear hash, normalization level 2); they differ in sizes.
 */
export const CHUNKERS: Readonly<Record<string, ChunkerParams>> = {
  'fastcdc-v1-16k': { name: 'fastcdc-v1-16k', minSize: 8192, avgSize: 16384, maxSize: 65536 },
  'fastcdc-v1-64k': { name: 'fastcdc-v1-64k', minSize: 32768, avgSize: 65536, maxSize: 262144 },
  'fastcdc-v1-256k': { name: 'fastcdc-v1-256k', minSize: 131072, avgSize: 262144, maxSize: 1048576 }
}

/** The chunker every new manifest is cut with. Chosen by benchmark: see docs/ARCHITECTURE.md "Chunking". */
export const CHUNKER: ChunkerParams = CHUNKERS['fastcdc-v1-64k']!

/**
 * The largest chunk any manifest may list, and so the most a reader ever buffers for one chunk: the largest
 * maxSize of the known chunkers.
 */
export const MAX_CHUNK_SIZE: number = Math.max(...Object.values(CHUNKERS).map((c) => c.maxSize))

/**
 * The largest manifest accepted, in bytes. One entry takes about 43 bytes, so 16 MiB describes ~390,000 chunks:
 * a NAR of ~25 GiB at CHUNKER's average size — beyond the largest outputs in nixpkgs — while bounding what a
 * peer can make a reader allocate before the root check.
 */
export const MAX_MANIFEST_BYTES: number = 16 * 1024 * 1024

/**
 * How many bytes of chunks ingestNar keeps waiting for their digests (on the thread pool or the chunk hash
 * worker): 16 MiB, ~256 chunks, so that the chunker runs on while a hashing thread waits for a core on a busy
 * machine (with 4 MiB it stalled measurably at load average 15 on 2 cores).
 */
export const INGEST_HASH_WINDOW: number = 16 * 1024 * 1024

/**
 * The most bytes an ingest hands to the NarHash worker ahead of its hashing before it waits: 16 reads of 1 MiB,
 * enough to ride out scheduling hiccups of the worker while bounding memory when it is slower than the chunker.
 */
export const NAR_HASH_BACKLOG: number = 16 * 1024 * 1024

/**
 * How many bytes ingestNar reads ahead of the chunker (see readAhead): 8 reads of 1 MiB, so that the source's
 * I/O never waits for the hashing and chunking of the previous piece, even when threads are scheduled late.
 */
export const INGEST_READ_AHEAD: number = 8 * 1024 * 1024

/**
 * The size from which ingestNar hashes on the HashWorkers threads (when given): below it, hashing on the calling
 * thread (~1.5 ms per MiB) costs less than the round trips to the workers and their scheduling. 4 MiB.
 */
export const HASH_WORKERS_MIN_BYTES: number = 4 * 1024 * 1024

/**
 * The shared memory an ingest on HashWorkers copies its pieces into (see shared-ring.ts): 32 MiB, enough for the
 * read-ahead, the chunks waiting for digests and the chunks a store is writing, at ~0.1 ms of copying per MiB.
 * A HashWorkers keeps the rings of finished ingests for the next ones (allocating shared memory is what is slow).
 */
export const INGEST_RING_BYTES: number = 32 * 1024 * 1024

/** Rings a HashWorkers keeps for reuse once their ingests have finished (one per concurrent large import). */
export const IDLE_RINGS: number = 2
