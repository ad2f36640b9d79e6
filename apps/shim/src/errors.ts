/**
 * Errors of the shim: one class per condition, each with a stable `name`. `HTTP_STATUS` maps every name that can
 * reach an HTTP response to its status, in one place; anything else is an internal failure and becomes a bare 500
 * (no message, path or stack trace leaves the process). A client's mistake is always a 4xx.
 */

export class ShimError extends Error {
  override name: string = 'ShimError'
}

/** The request target matches no route (or matches one but is malformed: bad base-32, traversal, NUL...). */
export class RouteNotFoundError extends ShimError {
  override name = 'RouteNotFoundError'
  constructor(message = 'no such route') {
    super(message)
  }
}

/** A request that cannot be understood: a body on GET, duplicate Host headers, a query string. */
export class BadRequestError extends ShimError {
  override name = 'BadRequestError'
}

/** The request target is longer than MAX_URL_LENGTH. */
export class UriTooLongError extends ShimError {
  override name = 'UriTooLongError'
}

/** Any method but GET and HEAD. */
export class MethodNotAllowedError extends ShimError {
  override name = 'MethodNotAllowedError'
}

/** `Host` is not a loopback name (nor an allowed one): a DNS-rebinding attempt or a misrouted request. */
export class ForbiddenHostError extends ShimError {
  override name = 'ForbiddenHostError'
}

/** The request carries a cross-site `Origin` (or `Sec-Fetch-Site`): a web page trying to use the shim. */
export class CrossOriginError extends ShimError {
  override name = 'CrossOriginError'
}

/** A `Range` header that is malformed, asks for several ranges, or lies outside the NAR. */
export class RangeNotSatisfiableError extends ShimError {
  override name = 'RangeNotSatisfiableError'
  /** The resource size, for `Content-Range: bytes *\/size`. */
  size: number | undefined
  constructor(message: string, size?: number) {
    super(message)
    this.size = size
  }
}

/** No agreed narinfo for this hash part (or its NAR cannot be delivered right now). */
export class NarinfoNotFoundError extends ShimError {
  override name = 'NarinfoNotFoundError'
}

/** A NAR URL whose NarHash belongs to no narinfo the shim serves. */
export class NarNotFoundError extends ShimError {
  override name = 'NarNotFoundError'
}

/** Every source was tried and none delivered the NAR (no providers, upstreams failed or lied). */
export class NarUnavailableError extends ShimError {
  override name = 'NarUnavailableError'
}

/** The first verified bytes did not arrive within FIRST_BYTE_TIMEOUT_MS, or a source stalled (STALL_TIMEOUT_MS). */
export class NarTimeoutError extends ShimError {
  override name = 'NarTimeoutError'
}

/** Bytes received do not hash to the agreed NarHash, or their length is not NarSize. */
export class NarVerificationError extends ShimError {
  override name = 'NarVerificationError'
}

/** The orchestrator answered with something that is not a usable narinfo, or failed. */
export class OrchestratorError extends ShimError {
  override name = 'OrchestratorError'
}

/** An upstream cache failed, answered badly, or has a different NAR than the agreed one. */
export class UpstreamError extends ShimError {
  override name = 'UpstreamError'
}

/** An upstream serves the NAR with a compression the shim cannot undo (xz, zstd, bzip2). */
export class UnsupportedCompressionError extends ShimError {
  override name = 'UnsupportedCompressionError'
}

/** A narinfo text is not a valid narinfo (missing or malformed required field). */
export class InvalidNarinfoError extends ShimError {
  override name = 'InvalidNarinfoError'
}

/** Configuration is invalid: unknown key, bad value, non-loopback listen address without permission. */
export class InvalidConfigError extends ShimError {
  override name = 'InvalidConfigError'
}

/** The shim is stopping; operations still running are cancelled with this. */
export class ShimStoppedError extends ShimError {
  override name = 'ShimStoppedError'
}

/** Error name → HTTP status. The one place where this mapping lives (docs/shim.md lists it). */
export const HTTP_STATUS: Readonly<Record<string, number>> = {
  BadRequestError: 400,
  CrossOriginError: 403,
  ForbiddenHostError: 403,
  RouteNotFoundError: 404,
  NarinfoNotFoundError: 404,
  NarNotFoundError: 404,
  MethodNotAllowedError: 405,
  UriTooLongError: 414,
  RangeNotSatisfiableError: 416,
  NarUnavailableError: 502,
  NarVerificationError: 502,
  UpstreamError: 502,
  UnsupportedCompressionError: 502,
  ShimStoppedError: 503,
  NarTimeoutError: 504
}

/** The status for an error: its entry in HTTP_STATUS, else 500. */
export function statusOf(err: unknown): number {
  const name = err instanceof Error ? err.name : undefined
  return (name !== undefined && HTTP_STATUS[name]) || 500
}

/** Another shim already runs on this data directory (its control socket answers). */
export class ShimRunningError extends ShimError {
  override name = 'ShimRunningError'
}

/** No shim answers on the control socket of this data directory. */
export class ShimNotRunningError extends ShimError {
  override name = 'ShimNotRunningError'
}
