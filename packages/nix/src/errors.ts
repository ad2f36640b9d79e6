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

/**
 * A NAR breaks the format. Every NAR rejection is a subclass, so callers can catch them all with this class and
 * tell them apart by `name`. `offset` is the byte offset in the NAR of the item that broke the rule (the start of
 * the offending string, or the end of input when truncated); `path` is the NAR path being read (`""` is the root,
 * `/a/b` an entry), with names decoded as UTF-8 for display only.
 */
export class InvalidNarError extends NixFormatError {
  override name = 'InvalidNarError'
  readonly offset: number
  readonly path: string
  constructor(reason: string, offset: number, path = '') {
    super(`invalid NAR at byte ${offset}${path === '' ? '' : ` (in ${JSON.stringify(path)})`}: ${reason}`)
    this.offset = offset
    this.path = path
  }
}

/** The input ended before the NAR did. */
export class NarTruncatedError extends InvalidNarError {
  override name = 'NarTruncatedError'
}

/** The input does not start with the `nix-archive-1` magic string. */
export class NarBadMagicError extends InvalidNarError {
  override name = 'NarBadMagicError'
}

/** A token other than the grammar allows here (e.g. `"types"` for `"type"`, or an unknown node type). */
export class NarUnexpectedTokenError extends InvalidNarError {
  override name = 'NarUnexpectedTokenError'
}

/** A string's padding to 8 bytes is not all zero bytes (Nix: "non-zero padding"). */
export class NarBadPaddingError extends InvalidNarError {
  override name = 'NarBadPaddingError'
}

/** A file's size does not fit a JavaScript safe integer (2^53 - 1 bytes). */
export class NarFileTooLargeError extends InvalidNarError {
  override name = 'NarFileTooLargeError'
}

/** An entry name is empty, `.`, `..`, or contains `/` or a NUL byte. */
export class NarInvalidNameError extends InvalidNarError {
  override name = 'NarInvalidNameError'
}

/** An entry name is longer than 255 bytes (NAME_MAX). */
export class NarNameTooLongError extends InvalidNarError {
  override name = 'NarNameTooLongError'
}

/** A directory's entries are not in strictly increasing byte order of their names. */
export class NarUnsortedEntriesError extends InvalidNarError {
  override name = 'NarUnsortedEntriesError'
}

/** A directory has two entries with the same name. */
export class NarDuplicateEntryError extends InvalidNarError {
  override name = 'NarDuplicateEntryError'
}

/** Directories are nested deeper than the reader's limit (64 by default). */
export class NarTooDeepError extends InvalidNarError {
  override name = 'NarTooDeepError'
}

/** A symlink target is empty or contains a NUL byte. */
export class NarInvalidSymlinkTargetError extends InvalidNarError {
  override name = 'NarInvalidSymlinkTargetError'
}

/** A symlink target is longer than 4095 bytes (PATH_MAX - 1). */
export class NarSymlinkTargetTooLongError extends InvalidNarError {
  override name = 'NarSymlinkTargetTooLongError'
}

/** Bytes follow the end of the NAR's root node. */
export class NarTrailingDataError extends InvalidNarError {
  override name = 'NarTrailingDataError'
}

/** A name, target or file given to the NAR writer cannot be put in a NAR (it would be rejected on reading). */
export class NarUnencodableError extends NixFormatError {
  override name = 'NarUnencodableError'
}

/** A file to serialise is neither a regular file, a directory nor a symlink (a socket, FIFO or device). */
export class UnsupportedFileTypeError extends NixFormatError {
  override name = 'UnsupportedFileTypeError'
}

/** A file changed size while it was being serialised, so the NAR would not describe any one state of it. */
export class FileChangedError extends NixFormatError {
  override name = 'FileChangedError'
}

/** `restoreNar` was given a target path that already exists; a restore never writes into an existing path. */
export class RestoreTargetExistsError extends NixFormatError {
  override name = 'RestoreTargetExistsError'
}

/** A restored path would be longer than the file system allows (ENAMETOOLONG): the NAR nests too many long names. */
export class RestorePathTooLongError extends NixFormatError {
  override name = 'RestorePathTooLongError'
}

/** A NAR entry's contents were read after the reader had moved past that entry. */
export class NarEntryConsumedError extends NixFormatError {
  override name = 'NarEntryConsumedError'
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
