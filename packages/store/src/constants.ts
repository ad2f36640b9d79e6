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
 * Chunk writes in flight per import. Each write is open + write + fsync + rename on the libuv thread pool
 * (4 threads); 16 keeps the pool and the disk queue busy without holding more than 16 × maxSize of chunk bytes.
 */
export const WRITE_CONCURRENCY = 16

/** Chunks read ahead (and verified on the thread pool) while a NAR is being streamed. */
export const READ_AHEAD = 4

/** Last-access times are written at most this often per NAR, so reads do not turn into index writes. */
export const ATIME_RESOLUTION_MS = 60_000

/**
 * Chunks that no NAR references yet (a download in progress through putChunk) are kept this long by gc, so an
 * interrupted download can resume; older ones are taken as leftovers of an abandoned download.
 */
export const LOOSE_CHUNK_GRACE_MS = 60 * 60 * 1000
