/**
 * Errors of the builder. One class per condition, each with a stable `name`.
 */

export class BuilderError extends Error {
  override name: string = 'BuilderError'
}

/** A `nix` command failed; the message carries the tail of its stderr. */
export class NixCommandError extends BuilderError {
  override name = 'NixCommandError'
  readonly status: number | null
  constructor(message: string, status: number | null) {
    super(message)
    this.status = status
  }
}

/** A path given to attest is not a valid path in the local Nix store. */
export class NotInStoreError extends BuilderError {
  override name = 'NotInStoreError'
}

/** Nix records no deriver for the path, or the deriver's .drv is gone: drvPath and output name are unknown. */
export class NoDeriverError extends BuilderError {
  override name = 'NoDeriverError'
}

/** The NAR narthex computed from the store does not match the NarHash/NarSize Nix registered: the store is damaged. */
export class StorePathCorruptError extends BuilderError {
  override name = 'StorePathCorruptError'
}

/** A build target is neither a `.nix` file nor a `.drv` store path. */
export class InvalidTargetError extends BuilderError {
  override name = 'InvalidTargetError'
}

/** The orchestrator could not be reached or answered with something that is not its API. */
export class OrchestratorUnreachableError extends BuilderError {
  override name = 'OrchestratorUnreachableError'
}

/** The orchestrator refused the request as a whole (the error name it sent is kept). */
export class OrchestratorRejectedError extends BuilderError {
  override name = 'OrchestratorRejectedError'
  readonly status: number
  readonly errorName: string
  constructor(message: string, status: number, errorName: string) {
    super(message)
    this.status = status
    this.errorName = errorName
  }
}
