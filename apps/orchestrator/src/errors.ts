/**
 * Errors of the orchestrator, and the one table that maps every error name a client can see to its HTTP status.
 * Client mistakes are 4xx; anything not in the table is an internal failure, answered as a generic 500
 * (`InternalError`) with no message, path or stack from the server.
 */

/** Base class of the orchestrator's own errors. */
export class OrchestratorError extends Error {
  override name: string = 'OrchestratorError'
}

/** The configuration (file or flags) is invalid: unknown key, wrong type, unreadable key file... */
export class InvalidConfigError extends OrchestratorError {
  override name = 'InvalidConfigError'
}

/** The data directory holds a database of another layout version, or is not one. */
export class DatabaseLayoutError extends OrchestratorError {
  override name = 'DatabaseLayoutError'
}

/** The request body is not valid JSON. */
export class InvalidJsonError extends OrchestratorError {
  override name = 'InvalidJsonError'
}

/** A query parameter, path segment or request shape is invalid. */
export class InvalidRequestError extends OrchestratorError {
  override name = 'InvalidRequestError'
}

/** The attestation's `time` is further in the future than the allowed clock skew. */
export class AttestationFromFutureError extends OrchestratorError {
  override name = 'AttestationFromFutureError'
}

/** The request body is larger than the limit. */
export class BodyTooLargeError extends OrchestratorError {
  override name = 'BodyTooLargeError'
}

/** The request body is not `application/json`. */
export class UnsupportedMediaTypeError extends OrchestratorError {
  override name = 'UnsupportedMediaTypeError'
}

/** No such route, or no such output/agreement/derivation. */
export class NotFoundError extends OrchestratorError {
  override name = 'NotFoundError'
}

/** The route exists but not for this method. */
export class MethodNotAllowedError extends OrchestratorError {
  override name = 'MethodNotAllowedError'
  /** The methods the route allows, for the `Allow` header. */
  readonly allow: string
  constructor(message: string, allow = '') {
    super(message)
    this.allow = allow
  }
}

/** Too many event-stream clients are connected. */
export class TooManyStreamsError extends OrchestratorError {
  override name = 'TooManyStreamsError'
}

/**
 * A durable write failed: the orchestrator stops accepting attestations (its memory may be ahead of its disk)
 * until it is restarted, which rebuilds the state from what was written.
 */
export class StorageUnavailableError extends OrchestratorError {
  override name = 'StorageUnavailableError'
}

/** The orchestrator is stopping. */
export class ShuttingDownError extends OrchestratorError {
  override name = 'ShuttingDownError'
}

/** Error name → HTTP status, for every error a client can receive. Documented in docs/api.md (a test checks). */
export const HTTP_STATUS_BY_ERROR: Readonly<Record<string, number>> = {
  InvalidJsonError: 400,
  InvalidRequestError: 400,
  InvalidAttestationError: 400,
  AttestationFromFutureError: 400,
  UnknownBuilderError: 403,
  BuilderRevokedError: 403,
  AttestationSignatureError: 403,
  NotFoundError: 404,
  MethodNotAllowedError: 405,
  BodyTooLargeError: 413,
  UnsupportedMediaTypeError: 415,
  InternalError: 500,
  StorageUnavailableError: 503,
  ShuttingDownError: 503,
  TooManyStreamsError: 503
}

export interface ErrorBody {
  readonly error: { readonly name: string; readonly message: string }
}

/**
 * The status and JSON body for an error: its own name and message when the table knows it, else a generic 500
 * (the real error is logged, never sent).
 */
export function errorResponse(err: unknown): { status: number; body: ErrorBody } {
  const name = err instanceof Error ? err.name : ''
  const status = HTTP_STATUS_BY_ERROR[name]
  if (status === undefined || name === 'InternalError') {
    return { status: 500, body: { error: { name: 'InternalError', message: 'internal error' } } }
  }
  return { status, body: { error: { name, message: (err as Error).message } } }
}
