/**
 * Errors of content addressing. One class per condition; each has a stable `name` that callers and tests match
 * on (never the message text).
 */

/** Base class of every error this package throws. */
export class ContentError extends Error {
  override name: string = 'ContentError'
}

/** A CID is not of the kind required here (e.g. a NAR or chunk id must be CIDv1, raw codec, sha2-256). */
export class InvalidCidError extends ContentError {
  override name = 'InvalidCidError'
}

/** Chunker parameters are inconsistent (min ≤ avg ≤ max, sizes within limits) or name an unknown chunker. */
export class InvalidChunkerParamsError extends ContentError {
  override name = 'InvalidChunkerParamsError'
}

/** A chunk's bytes do not hash to its id. */
export class ChunkHashMismatchError extends ContentError {
  override name = 'ChunkHashMismatchError'
}

/** Manifest bytes are not a well-formed, canonically encoded manifest within the limits. */
export class InvalidManifestError extends ContentError {
  override name = 'InvalidManifestError'
}

/** Manifest bytes are larger than MAX_MANIFEST_BYTES. */
export class ManifestTooLargeError extends ContentError {
  override name = 'ManifestTooLargeError'
}

/** Manifest bytes do not hash to the manifest root they were fetched as. */
export class ManifestRootMismatchError extends ContentError {
  override name = 'ManifestRootMismatchError'
}

/** A NAR (or a manifest describing one) has another NarHash than the one claimed. */
export class NarHashMismatchError extends ContentError {
  override name = 'NarHashMismatchError'
}

/** A NAR (or a manifest describing one) has another NarSize than the one claimed. */
export class NarSizeMismatchError extends ContentError {
  override name = 'NarSizeMismatchError'
}

/** A hash worker thread failed or was stopped while an ingest relied on it. */
export class HashWorkerError extends ContentError {
  override name = 'HashWorkerError'
}
