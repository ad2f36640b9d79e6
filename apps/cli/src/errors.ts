/** Errors of the command line itself. */

/** Wrong flags or arguments: printed with the command's usage, exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** A command that ran and failed in a way the user should read (exit status 1), without a stack trace. */
export class CommandFailedError extends Error {
  override name = 'CommandFailedError'
}
