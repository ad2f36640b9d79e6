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

/** A narinfo given to the store does not parse or lacks StorePath, NarHash or NarSize. */
export class InvalidNarinfoError extends StoreError {
  override name = 'InvalidNarinfoError'
}
