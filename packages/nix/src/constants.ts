/** The store directory of every store path narthex handles; Nix's default and what `nix-cache-info` states. */
export const DEFAULT_STORE_DIR = '/nix/store'

/** Length in characters of a store path hash part: 160 bits of nix-base32 (Nix `StorePath::HashLen`). */
export const STORE_PATH_HASH_LENGTH = 32

/** Maximum length of a store path name (Nix `StorePath::MaxPathLen` 211). */
export const STORE_PATH_NAME_MAX = 211

/** First string of every NAR (Nix `narVersionMagic1`). */
export const NAR_MAGIC = 'nix-archive-1'

/** Longest entry name a NAR may hold: Linux NAME_MAX. Nix relies on the kernel refusing longer names. */
export const NAR_NAME_MAX = 255

/** Longest symlink target a NAR may hold: Linux PATH_MAX (4096) less the NUL; `symlink(2)` refuses longer. */
export const NAR_TARGET_MAX = 4095

/**
 * Deepest directory nesting the NAR reader accepts by default (the root is depth 0). Nix itself has no limit but
 * recurses once per level; no store path comes near 64 levels, and the limit bounds the reader's state.
 */
export const NAR_DEFAULT_MAX_DEPTH = 64

/**
 * Size of the chunks the NAR writer yields and reads files into. 1 MiB: large enough that per-chunk overhead
 * (a promise, a syscall, a hash update) is negligible next to copying the bytes, small enough to stay in cache
 * and to bound memory per stream.
 */
export const NAR_CHUNK_SIZE = 1024 * 1024

/**
 * How many directory entries the non-blocking NAR source starts reading ahead of the writer. 32 keeps libuv's 4
 * pool threads busy through hand-off latencies of tens of microseconds, while holding at most 32 `Stats`.
 */
export const NAR_READ_AHEAD_ENTRIES = 32

/** Largest file whose contents the non-blocking NAR source reads ahead (64 KiB, Nix's own read size). */
export const NAR_READ_AHEAD_FILE_MAX = 64 * 1024

/** Most bytes of read-ahead file contents held at once per source: 8 MiB, 8 chunks' worth. */
export const NAR_READ_AHEAD_BYTES = 8 * 1024 * 1024

/** The compression a narinfo without a `Compression:` line means (Nix `nar-info.cc`: `compression = "bzip2"`). */
export const NARINFO_DEFAULT_COMPRESSION = 'bzip2'

/**
 * Largest NarSize/FileSize narthex reads: 2^53 - 1 bytes (8 PiB), the largest integer a JS number holds exactly.
 * Nix stores sizes as uint64, but no real NAR comes near this, and a number (not bigint) keeps every caller simple.
 */
export const NARINFO_MAX_SIZE = Number.MAX_SAFE_INTEGER
