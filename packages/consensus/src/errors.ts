/**
 * Errors of attestations and the agreement policy. One class per condition, each with a stable `name` that
 * callers and tests match on (never the message text) and that the orchestrator maps to HTTP statuses in one
 * table.
 */

/** Base class of every error this package throws. */
export class ConsensusError extends Error {
  override name: string = 'ConsensusError'
}

/**
 * An attestation is malformed: a missing, extra or wrongly typed field, or a value that breaks its grammar
 * (store path, hash, size, CID...). `field` names the offending field when there is one.
 */
export class InvalidAttestationError extends ConsensusError {
  override name = 'InvalidAttestationError'
  readonly field: string | undefined
  constructor(message: string, field?: string) {
    super(field === undefined ? message : `${field}: ${message}`)
    this.field = field
  }
}

/** The attestation names a builder key that is not in the trust set. */
export class UnknownBuilderError extends ConsensusError {
  override name = 'UnknownBuilderError'
}

/** The attestation's builder was revoked: its attestations no longer count and new ones are refused. */
export class BuilderRevokedError extends ConsensusError {
  override name = 'BuilderRevokedError'
}

/** The signature does not verify with the named builder's public key (or is not `name:base64` of 64 bytes). */
export class AttestationSignatureError extends ConsensusError {
  override name = 'AttestationSignatureError'
}

/** A policy or trust configuration is invalid (k < 1, two keys with one name...). */
export class InvalidPolicyError extends ConsensusError {
  override name = 'InvalidPolicyError'
}
