/**
 * Errors of the local store. One class per condition; each has a stable `name` that callers and tests match on
 * (never the message text). Errors about bytes themselves (hash mismatches, bad manifests) come from
 * @narthex/content and are passed through unchanged.
 */

/** Base class of every error this package throws. */
export class StoreError extends Error {
  override name: string = 'StoreError'
}

/** Another process holds the data directory's index (level allows one process at a time). */
export class StoreLockedError extends StoreError {
  override name = 'StoreLockedError'
  constructor(dir: string, options?: ErrorOptions) {
    super(`data directory ${dir} is in use by another process`, options)
  }
}

/** A method was called before start() or after stop(). */
export class StoreNotStartedError extends StoreError {
  override name = 'StoreNotStartedError'
}

/** No NAR with this NarHash (or manifest root) is in the store. */
export class NarNotFoundError extends StoreError {
  override name = 'NarNotFoundError'
}

/** The NAR is indexed but one of its chunks was found corrupt or missing; it reads again once repaired. */
export class NarDamagedError extends StoreError {
  override name = 'NarDamagedError'
}

/** A stored chunk no longer hashes to its id. It has been quarantined. */
export class ChunkCorruptError extends StoreError {
  override name = 'ChunkCorruptError'
}

/** commitNar was asked to publish a manifest whose chunks are not all in the store. */
export class MissingChunksError extends StoreError {
  override name = 'MissingChunksError'
}

/** The disk (or the store's quota) has no room for what was being written; nothing was published. */
export class StoreFullError extends StoreError {
  override name = 'StoreFullError'
}

/** A byte range outside the NAR, or with start > end. */
export class InvalidRangeError extends StoreError {
  override name = 'InvalidRangeError'
}

/** A chunk larger than MAX_CHUNK_SIZE was offered. */
export class ChunkTooLargeError extends StoreError {
  override name = 'ChunkTooLargeError'
}

/** A binary cache could not be reached at all (connection refused, DNS failure, missing directory). */
export class CacheUnreachableError extends StoreError {
  override name = 'CacheUnreachableError'
}

/** The cache has no narinfo for this store path (HTTP 404/403, or no such file). */
export class NarinfoNotFoundError extends StoreError {
  override name = 'NarinfoNotFoundError'
}

/** The cache answered with an HTTP error other than "not found", or an unsupported URL scheme was given. */
export class CacheRequestError extends StoreError {
  override name = 'CacheRequestError'
}

/** A download ended before all its bytes arrived (connection cut, file shorter than its FileSize). */
export class TruncatedDownloadError extends StoreError {
  override name = 'TruncatedDownloadError'
}

/** A narinfo names a compression narthex cannot read. */
export class UnsupportedCompressionError extends StoreError {
  override name = 'UnsupportedCompressionError'
}

/** The program that decompresses this format (xz, bzip2, zstd) is not installed. */
export class DecompressorMissingError extends StoreError {
  override name = 'DecompressorMissingError'
}

/** Compressed data is corrupt: the decompressor rejected it. */
export class CorruptCompressedDataError extends StoreError {
  override name = 'CorruptCompressedDataError'
}

/** A local store path is not valid in the Nix database, or `nix` failed to describe or dump it. */
export class NixCommandError extends StoreError {
  override name = 'NixCommandError'
}

/** The thread that reads chunk files for streamed NARs died, or the store stopped while a read was outstanding. */
export class ReaderThreadError extends StoreError {
  override name = 'ReaderThreadError'
}
