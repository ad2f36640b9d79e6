/** Defaults and limits of the builder, each with the reason for its value. */

/**
 * Attestations per request to the orchestrator: its batch limit (MAX_BATCH_ATTESTATIONS in
 * apps/orchestrator), so a closure of any size goes in as few requests as possible.
 */
export const SUBMIT_BATCH = 1000

/** Time allowed for one submission request: the orchestrator answers after an fsync, normally in milliseconds. */
export const SUBMIT_TIMEOUT_MS = 60_000

/**
 * Time allowed for a Nix query (`nix path-info`, `nix show-derivation`, `nix-instantiate`). Builds themselves
 * have no limit: a build takes as long as it takes.
 */
export const NIX_QUERY_TIMEOUT_MS = 120_000

/** Largest stderr kept from a Nix command for an error message (the tail, where Nix puts the error). */
export const NIX_STDERR_TAIL = 4000

/** Suffix Nix gives the result of a `--check` rebuild that differs from the registered output (`--keep-failed`). */
export const CHECK_SUFFIX = '.check'

/** Exit status of `nix-store --realise --check` when a rebuild differs from the registered output. */
export const NIX_NOT_DETERMINISTIC_STATUS = 104
