/** The store directory of every store path narthex handles; Nix's default and what `nix-cache-info` states. */
export const DEFAULT_STORE_DIR = '/nix/store'

/** Length in characters of a store path hash part: 160 bits of nix-base32 (Nix `StorePath::HashLen`). */
export const STORE_PATH_HASH_LENGTH = 32

/** Maximum length of a store path name (Nix `StorePath::MaxPathLen` 211). */
export const STORE_PATH_NAME_MAX = 211
