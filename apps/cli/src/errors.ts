/** Errors of the command line itself. */

/** Wrong flags or arguments: printed with the command's usage, exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** A command that ran and failed in a way the user should read (exit status 1), without a stack trace. */
export class CommandFailedError extends Error {
  override name = 'CommandFailedError'
}

/** A key file given on the command line is missing, unreadable, or not a key of the expected kind. */
export class KeyFileError extends Error {
  override name = 'KeyFileError'
}

/** `narthex status` found nothing running on the data directory. */
export class NothingRunningError extends Error {
  override name = 'NothingRunningError'
}
