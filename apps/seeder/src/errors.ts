/** Errors of the seeder: one class per condition, each with a stable `name`. */

/** The configuration (file or flags) is invalid: an unknown key, a wrong type, a bad value. */
export class InvalidSeederConfigError extends Error {
  override name = 'InvalidSeederConfigError'
  constructor(message = 'invalid seeder configuration', options?: ErrorOptions) {
    super(message, options)
  }
}

/** Another seeder is already running on this data directory (its control socket answers). */
export class SeederRunningError extends Error {
  override name = 'SeederRunningError'
  constructor(message = 'a seeder is already running on this data directory') {
    super(message)
  }
}

/** No seeder answers on the data directory's control socket. */
export class SeederNotRunningError extends Error {
  override name = 'SeederNotRunningError'
  constructor(message = 'no seeder is running on this data directory') {
    super(message)
  }
}

/** The control socket's path is too long for a unix socket (about 107 bytes on Linux). */
export class ControlSocketPathError extends Error {
  override name = 'ControlSocketPathError'
  constructor(message = 'control socket path too long') {
    super(message)
  }
}

/** A control request the seeder refused or could not carry out; `remoteName` is the seeder's error name. */
export class ControlRequestError extends Error {
  override name = 'ControlRequestError'
  constructor(
    message: string,
    readonly remoteName?: string
  ) {
    super(message)
  }
}

/** A seed-add source is neither an absolute store path nor a file://, http:// or https:// cache URL. */
export class InvalidImportSourceError extends Error {
  override name = 'InvalidImportSourceError'
  constructor(message = 'invalid import source') {
    super(message)
  }
}

/** The orchestrator answered something other than 200/404, or not in time. */
export class OrchestratorError extends Error {
  override name = 'OrchestratorError'
  constructor(message = 'orchestrator request failed', options?: ErrorOptions) {
    super(message, options)
  }
}

/** The seeder was used before start() or after stop(). */
export class SeederNotStartedError extends Error {
  override name = 'SeederNotStartedError'
  constructor(message = 'the seeder is not started') {
    super(message)
  }
}
