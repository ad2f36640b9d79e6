/**
 * Errors of the configuration checker and loader: one class per condition, each with a stable `name` and the
 * offending key as a field, so a program can wrap them in its own error class (keeping the message) and a test can
 * match on the name.
 */

/** Base class of every error this package throws. */
export class ConfigError extends Error {
  override name: string = 'ConfigError'
}

/** A key that the schema does not declare: most often a typo, which must never fall back to a default silently. */
export class UnknownConfigKeyError extends ConfigError {
  override name = 'UnknownConfigKeyError'
  constructor(
    readonly key: string,
    readonly known: readonly string[],
    where?: string
  ) {
    super(
      `${where === undefined ? '' : `${where}: `}unknown key ${JSON.stringify(key)} (known: ${known.join(', ')})`
    )
  }
}

/** A value of the wrong kind: `key` names it, `expected` says what it must be. */
export class ConfigTypeError extends ConfigError {
  override name = 'ConfigTypeError'
  constructor(
    readonly key: string,
    readonly expected: string,
    detail?: string,
    where?: string
  ) {
    super(
      `${where === undefined ? '' : `${where}: `}${key} must be ${expected}${detail ? ` (${detail})` : ''}`
    )
  }
}

/** A key the program cannot run without is missing (from the file and the flags). */
export class MissingConfigKeyError extends ConfigError {
  override name = 'MissingConfigKeyError'
  constructor(
    readonly key: string,
    hint?: string
  ) {
    super(`${key} is required${hint ? ` (${hint})` : ''}`)
  }
}

/** The file is not JSON (with comments), or not one JSON object; `line` and `column` are 1-based when known. */
export class ConfigSyntaxError extends ConfigError {
  override name = 'ConfigSyntaxError'
  constructor(
    message: string,
    readonly line?: number,
    readonly column?: number
  ) {
    super(message)
  }
}

/** The configuration file cannot be read (missing, a directory, no permission, too large). */
export class ConfigFileError extends ConfigError {
  override name = 'ConfigFileError'
}
