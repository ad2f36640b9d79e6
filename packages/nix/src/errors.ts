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
