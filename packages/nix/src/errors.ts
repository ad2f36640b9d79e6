/**
 * Errors of the Nix formats. One class per condition; each has a stable `name` that callers and tests match on
 * (never the message text) and that the apps map to HTTP statuses in one table.
 */

/** Base class of every error this package throws. */
export class NixFormatError extends Error {
  override name: string = 'NixFormatError'
}

/** A string is not valid nix-base32 (bad character, wrong length, or non-zero padding bits). */
export class InvalidBase32Error extends NixFormatError {
  override name = 'InvalidBase32Error'
}

/** A hash string is not in a form Nix prints (`sha256:<nix32|base16|base64>` or SRI `sha256-<base64>`). */
export class InvalidHashError extends NixFormatError {
  override name = 'InvalidHashError'
}

/** A store path or store path base name breaks Nix's rules (store dir, hash part, name characters, length). */
export class InvalidStorePathError extends NixFormatError {
  override name = 'InvalidStorePathError'
}

/** A key file or key string is not `name:base64` of the right length, or its name is empty. */
export class InvalidKeyError extends NixFormatError {
  override name = 'InvalidKeyError'
}

/** A `Sig:` value is not `keyname:base64(64 bytes)`. */
export class InvalidSignatureError extends NixFormatError {
  override name = 'InvalidSignatureError'
}

/** Where in a `Key: value` text a parse error is: 1-based line and the field name as written. */
export interface ParseErrorLocation {
  /** 1-based line number; absent when the error is about the text as a whole (a required field is missing). */
  readonly line?: number
  /** The field (`NarSize`, `Sig`, ...); absent when the line has no recognisable field name. */
  readonly field?: string
  /** The underlying error (an `InvalidHashError`, `InvalidStorePathError`, ...) when there is one. */
  readonly cause?: unknown
}

function locate(what: string, message: string, at: ParseErrorLocation): string {
  const where = [
    at.line !== undefined ? `line ${at.line}` : undefined,
    at.field !== undefined ? `field ${at.field}` : undefined
  ].filter(Boolean)
  return where.length > 0 ? `${what} ${where.join(', ')}: ${message}` : `${what}: ${message}`
}

/** A narinfo text is malformed: a bad line, a bad or duplicated field, or a missing required field. */
export class NarinfoParseError extends NixFormatError {
  override name = 'NarinfoParseError'
  readonly line: number | undefined
  readonly field: string | undefined
  constructor(message: string, at: ParseErrorLocation = {}) {
    super(locate('narinfo', message, at), at.cause !== undefined ? { cause: at.cause } : undefined)
    this.line = at.line
    this.field = at.field
  }
}

/** A narinfo value cannot be written: formatting it would give text that Nix reads differently or rejects. */
export class InvalidNarinfoError extends NixFormatError {
  override name = 'InvalidNarinfoError'
  readonly field: string | undefined
  constructor(message: string, at: Omit<ParseErrorLocation, 'line'> = {}) {
    super(locate('narinfo', message, at), at.cause !== undefined ? { cause: at.cause } : undefined)
    this.field = at.field
  }
}

/** A `nix-cache-info` text is malformed: a line that is not `Key: value`, a bad value, or a duplicated field. */
export class CacheInfoParseError extends NixFormatError {
  override name = 'CacheInfoParseError'
  readonly line: number | undefined
  readonly field: string | undefined
  constructor(message: string, at: ParseErrorLocation = {}) {
    super(locate('nix-cache-info', message, at), at.cause !== undefined ? { cause: at.cause } : undefined)
    this.line = at.line
    this.field = at.field
  }
}

/** A `nix-cache-info` value cannot be written (it would not parse back to the same value). */
export class InvalidCacheInfoError extends NixFormatError {
  override name = 'InvalidCacheInfoError'
  readonly field: string | undefined
  constructor(message: string, at: Omit<ParseErrorLocation, 'line'> = {}) {
    super(locate('nix-cache-info', message, at), at.cause !== undefined ? { cause: at.cause } : undefined)
    this.field = at.field
  }
}
