/** The store directory of every store path narthex handles; Nix's default and what `nix-cache-info` states. */
export const DEFAULT_STORE_DIR = '/nix/store'

/** Length in characters of a store path hash part: 160 bits of nix-base32 (Nix `StorePath::HashLen`). */
export const STORE_PATH_HASH_LENGTH = 32

/** Maximum length of a store path name (Nix `StorePath::MaxPathLen` 211). */
export const STORE_PATH_NAME_MAX = 211

/** The compression a narinfo without a `Compression:` line means (Nix `nar-info.cc`: `compression = "bzip2"`). */
export const NARINFO_DEFAULT_COMPRESSION = 'bzip2'

/**
 * Largest NarSize/FileSize narthex reads: 2^53 - 1 bytes (8 PiB), the largest integer a JS number holds exactly.
 * Nix stores sizes as uint64, but no real NAR comes near this, and a number (not bigint) keeps every caller simple.
 */
export const NARINFO_MAX_SIZE = Number.MAX_SAFE_INTEGER
