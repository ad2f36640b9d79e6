/** Defaults of the local store, each with the reason it was chosen. */

/** Subdirectories of the data directory. */
export const CHUNKS_DIR = 'chunks'
export const MANIFESTS_DIR = 'manifests'
export const INDEX_DIR = 'index'
/** Temp files live here (same file system as their targets, so rename is atomic); emptied at every start. */
export const TMP_DIR = 'tmp'
/** Chunks that failed their hash check are moved here, never deleted, so an operator can look at them. */
export const QUARANTINE_DIR = 'quarantine'

/**
 * Chunk and manifest files are sharded by the two characters before the last of their CID (IPFS flatfs's
 * `next-to-last/2`): 1024 directories, uniformly filled because those characters come from the digest.
 */
export const SHARD_SUFFIX = 2

/**
 * Chunk writes in flight per import (queued to or being made by the writer threads): 128 (~8 MiB at the default
 * chunker) keeps every writer thread several batches ahead, so a writer waiting for a core on a busy machine does
 * not stall the import, while holding at most 128 × maxSize of chunk bytes.
 */
export const WRITE_CONCURRENCY = 128

/**
 * Chunks per message to a writer thread: one message per 8 chunks (~512 KiB) instead of five thread-pool round
 * trips per chunk, while an import of a few chunks still spreads over the threads.
 */
export const WRITE_BATCH = 8

/**
 * Threads that create chunk files (see chunk-writer.ts). Each makes one file sync at a time, so 4 keep 4 syncs in
 * flight for the disk to merge into one journal commit, on a machine with 2 cores or more.
 */
export const WRITER_THREADS = 4

/**
 * Threads that read chunk files for serving (getChunks) and for readNar with reuseBuffers. Each makes blocking
 * reads, so 4 keep up to 4 reads in flight, as libuv's thread pool did (what matters on a cold disk; not
 * benchmarked); a thread is started only when all the others are busy, so a store read by one consumer at a time
 * runs one.
 */
export const READER_THREADS = 4

/**
 * Encoded bytes of verified manifests kept in memory, by root, the least recently used dropped first. A NAR read
 * again, or read right after its import (the shim serving what its closure prefetch just fetched), then skips
 * reading, hashing and decoding its manifest file: ~0.35 ms of CPU, most of a small NAR's read (docs/benchmarks.md,
 * "substitute"). A manifest is content-addressed, so a cached one can never be stale. 8 MiB holds the manifests of
 * ~10 GiB of large NARs (a 256 MiB NAR's is ~190 KiB at the default chunker) or of tens of thousands of small ones.
 */
export const MANIFEST_CACHE_BYTES = 8 * 1024 * 1024

/**
 * Index records (NAR records and damage marks, absent ones too) the store keeps in memory, least recently used
 * dropped first. Counted in entries: each is a small object (hashes, sizes, the store path hashes of the NAR).
 * A seeder reads two for every HAVE and GET_MANIFEST it answers.
 */
export const RECORD_CACHE_ENTRIES = 16_384

/**
 * An import starts using the writer threads once it has written this many chunks (~4 MiB at the default chunker):
 * smaller NARs (most of a Nix store) are done before the threads would have booted, and a process that only
 * imports small NARs never starts them.
 */
export const WRITER_THREADS_MIN_CHUNKS = 64

/**
 * A commit that must fsync more shard directories than this does it on the writer threads (when running), with
 * synchronous calls: 32, about where three thread-pool round trips per directory start to cost more than one
 * message to each thread.
 */
export const SYNC_DIRS_ON_THREADS = 32

/**
 * Groups of chunks (READ_GROUP_BYTES) read ahead, and verified on the thread pool, while a NAR is being streamed:
 * two, so one is being read while the consumer sends the other; ~2 MiB ahead of the consumer.
 */
export const READ_AHEAD = 2

/**
 * Chunk files of one group read at once: enough to keep libuv's four threads busy, and at most READ_AHEAD × 16 = 32
 * files open per reader.
 */
export const READ_PARALLEL = 16

/**
 * readNar yields consecutive chunks as one buffer of at most this size (one chunk alone when it is larger): one
 * socket write per MiB instead of one per ~64 KiB chunk, and memory ahead of the consumer stays ~READ_AHEAD MiB.
 */
export const READ_GROUP_BYTES = 1024 * 1024

/** Last-access times are written at most this often per NAR, so reads do not turn into index writes. */
export const ATIME_RESOLUTION_MS = 60_000

/**
 * Chunks that no NAR references yet (a download in progress through putChunk) are kept this long by gc, so an
 * interrupted download can resume; older ones are taken as leftovers of an abandoned download.
 */
export const LOOSE_CHUNK_GRACE_MS = 60 * 60 * 1000
