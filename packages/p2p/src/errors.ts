/** Errors of the network layer: one class per condition, each with a stable `name`. */

/** A frame's declared length exceeds the limit for the message expected there. Nothing was allocated for it. */
export class MessageTooLargeError extends Error {
  override name = 'MessageTooLargeError'
  constructor(
    readonly declared: number,
    readonly limit: number
  ) {
    super(`message of ${declared} bytes exceeds the limit of ${limit} bytes`)
  }
}

/** The stream ended in the middle of a frame (or before a reply that was owed). */
export class TruncatedMessageError extends Error {
  override name = 'TruncatedMessageError'
  constructor(message = 'stream ended in the middle of a message') {
    super(message)
  }
}

/** A frame that does not decode as the message expected: unknown type, bad CID, trailing bytes, bad counts. */
export class MalformedMessageError extends Error {
  override name = 'MalformedMessageError'
  constructor(message = 'malformed message') {
    super(message)
  }
}

/** The remote answered with an ERROR message (e.g. BUSY or BAD_REQUEST). */
export class RemoteError extends Error {
  override name = 'RemoteError'
  constructor(readonly code: number) {
    super(`peer answered with error code ${code}`)
  }
}

/** A peer sent no data for longer than the stall timeout while a reply was owed. */
export class PeerStalledError extends Error {
  override name = 'PeerStalledError'
  constructor(message = 'peer stalled') {
    super(message)
  }
}

/** The stream was reset or closed by the remote while a reply was owed. */
export class StreamResetByPeerError extends Error {
  override name = 'StreamResetByPeerError'
  constructor(message = 'stream reset by peer') {
    super(message)
  }
}

/** A chunk's bytes do not hash to the CID that was asked for: proof that the sending peer misbehaved. */
export class BadChunkError extends Error {
  override name = 'BadChunkError'
  constructor(message = 'chunk does not match its CID') {
    super(message)
  }
}

/** No peer could be found (connected or through the DHT) that holds the NAR. */
export class NoProvidersError extends Error {
  override name = 'NoProvidersError'
  constructor(message = 'no peer holds this NAR') {
    super(message)
  }
}

/** Every provider was tried and the NAR could not be completed. */
export class DownloadFailedError extends Error {
  override name = 'DownloadFailedError'
}

/** No peer supplied a manifest that checks against the trusted root (or the NarHash when no root is given). */
export class ManifestUnavailableError extends Error {
  override name = 'ManifestUnavailableError'
  constructor(message = 'no valid manifest could be obtained') {
    super(message)
  }
}

/** Without a trusted manifest root: the assembled NAR's hash differs from the NarHash asked for. */
export class NarHashMismatchError extends Error {
  override name = 'NarHashMismatchError'
  constructor(
    readonly expected: string,
    readonly actual: string
  ) {
    super(`NAR hash mismatch: expected ${expected}, got ${actual}`)
  }
}

/** Bad node configuration (unparseable multiaddr, missing data directory...). */
export class InvalidNodeConfigError extends Error {
  override name = 'InvalidNodeConfigError'
}

/** A component was used before start() or after stop(). */
export class NotStartedError extends Error {
  override name = 'NotStartedError'
  constructor(message = 'not started') {
    super(message)
  }
}

/** A manifest root given by the caller is not a CID. */
export class InvalidManifestRootError extends Error {
  override name = 'InvalidManifestRootError'
}

/** A listen address is taken by another process (or not an address of this machine). */
export class ListenError extends Error {
  override name = 'ListenError'
  /** `EADDRINUSE` or `EADDRNOTAVAIL`, as the system said. */
  readonly code: string
  constructor(message: string, code: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
  }
}

/** The installed kad-dht lacks an internal the announcer's sweep relies on (an upgrade changed it). */
export class DhtInternalsError extends Error {
  override name = 'DhtInternalsError'
}
