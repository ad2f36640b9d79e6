/**
 * Defaults of the shim, each with the reason it has this value. Timeouts and limits of the HTTP server are set on
 * purpose (reliability.md items 13–17): the only legitimate client is Nix on this machine, whose requests are
 * small, complete GETs sent in one write.
 */

/** Where the shim listens unless told otherwise: loopback only (a substituter for this machine's Nix). */
export const DEFAULT_LISTEN_HOST = '127.0.0.1'

/** Default port: unassigned by IANA, easy to remember in nix.conf (`substituters = http://127.0.0.1:37515`). */
export const DEFAULT_LISTEN_PORT = 37515

/**
 * `Priority` in nix-cache-info. Nix tries substituters lowest first; cache.nixos.org is 40, so 30 makes Nix ask
 * the shim first (the same value nix-serve and harmonia use).
 */
export const DEFAULT_PRIORITY = 30

/**
 * Time for a client to send all request headers. curl (Nix) sends them in one write within microseconds; five
 * seconds is generous on a loaded machine and bounds slow-header (slowloris) connections.
 */
export const HEADERS_TIMEOUT_MS = 5_000

/** Time to receive the whole request. GET and HEAD have no body, so this is the header time plus slack. */
export const REQUEST_TIMEOUT_MS = 10_000

/**
 * How long an idle keep-alive connection stays open between requests. Nix reuses connections across the
 * narinfo and NAR requests of one substitution run; 30 s covers its pauses without hoarding sockets.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 30_000

/**
 * A socket with no traffic either way for this long is closed, also while a response is being sent: a client
 * that stops reading (or a stalled source) does not hold a connection and its file handles for ever.
 */
export const SOCKET_IDLE_TIMEOUT_MS = 120_000

/**
 * How often Node checks headersTimeout/requestTimeout. Node's default (30 s) would let a slow client keep a
 * connection six times longer than HEADERS_TIMEOUT_MS says.
 */
export const CONNECTIONS_CHECKING_INTERVAL_MS = 500

/**
 * Largest request head accepted; larger gets 431. curl's requests are well under 1 KiB; 8 KiB leaves room for
 * proxies' extra headers and keeps per-connection parse memory small.
 */
export const MAX_HEADER_SIZE = 8 * 1024

/** Most header lines accepted in a request (Node's default is 2000); Nix sends about five. */
export const MAX_HEADERS_COUNT = 64

/**
 * Longest request target accepted (414 above). The longest route is `/nar/<52 characters>.nar` (61); a
 * little more is allowed so too-long targets are still answered with a clear status, not parsed.
 */
export const MAX_URL_LENGTH = 256

/** Simultaneous connections. Nix opens at most 25 (http-connections); the rest is headroom for tools. */
export const MAX_CONNECTIONS = 256

/**
 * How long "the orchestrator does not know this path" is remembered. Short, so a path that becomes agreed is
 * served soon after; long enough that Nix's burst of queries for one closure costs one round trip per path.
 */
export const NEGATIVE_TTL_MS = 5_000

/**
 * How long "the NAR of this narinfo can be delivered (providers or an upstream have it)" is trusted before it is
 * checked again. A NAR in the local cache is always deliverable.
 */
export const DELIVERABLE_TTL_MS = 10 * 60_000

/**
 * Limit for one narinfo lookup at the orchestrator or an upstream. Nix waits for the narinfo before anything
 * else; past this the shim answers 404 (served again from its cache once the orchestrator answers).
 */
export const LOOKUP_TIMEOUT_MS = 5_000

/** Largest narinfo accepted from the orchestrator or an upstream (a narinfo with 5,000 references is ~200 KiB). */
export const MAX_NARINFO_BYTES = 1024 * 1024

/**
 * Longest a NAR request waits for its first verified byte with nothing sent (then 504). Upstream NARs are held
 * until their whole NarHash is checked, so this bounds the size × slowness of an upstream fetch a request waits
 * for. It stays below Nix's `stalled-download-timeout` (300 s), after which Nix would give up on a silent
 * response anyway; the fetch itself carries on into the local cache.
 */
export const FIRST_BYTE_TIMEOUT_MS = 240_000

/**
 * A source that delivers no byte for this long is abandoned (the next source is tried if nothing was sent yet).
 * Peers and caches that work deliver continuously; 30 s tolerates a congested link.
 */
export const STALL_TIMEOUT_MS = 30_000

/** Local NAR cache size unless configured: enough for a desktop closure, small for a laptop disk. */
export const DEFAULT_QUOTA_BYTES = 10 * 1024 ** 3

/** Closure prefetch: NAR fetches running at once, so prefetch does not crowd out what Nix asks for now. */
export const PREFETCH_CONCURRENCY = 4

/** Closure prefetch: paths queued at most (a large closure's tail is fetched on demand instead). */
export const PREFETCH_QUEUE_MAX = 10_000

/** Bytes read from a file per step when streaming a NAR: large enough for ~GiB/s, small enough to stay flat. */
export const READ_CHUNK_BYTES = 256 * 1024

/**
 * Bytes gathered from a source before one write to the spool file: fewer, larger writes (network chunks are
 * 16–64 KiB); small enough that memory stays flat (verified bytes are readable before they are written: see
 * SPOOL_RECENT_BYTES).
 */
export const WRITE_BATCH_BYTES = 1024 * 1024

/**
 * A file-spooled NAR keeps its latest verified bytes (at least this many) in memory as well, and a request reading
 * at the edge of the download (Nix, which reads faster than the swarm delivers) is sent those buffers instead of
 * reading the file back: no read into a fresh buffer per step (a third allocation of every byte), no trip through
 * the thread pool. A request further behind reads the file.
 */
export const SPOOL_RECENT_BYTES = 4 * 1024 * 1024

/**
 * A NAR up to this size is fetched into memory instead of a spool file (most store paths are small), saving the
 * spool's open, write, read, close, reopen for the import and unlink: ~5 % of the shim's CPU on a cold closure of
 * 500 small paths (docs/benchmarks.md, "substitute").
 */
export const MEMORY_SPOOL_BYTES = 1024 * 1024

/** NAR bytes fetched into memory at once, over all fetches; beyond it, small NARs spool to files too. */
export const MEMORY_SPOOL_TOTAL_BYTES = 64 * 1024 * 1024

/**
 * A fetched NAR is imported into the chunk store only once the shim has neither fetched nor streamed a NAR for
 * this long: serving Nix comes first, filling the cache after. In a cold closure of 500 small paths the imports
 * (an fsync'd chunk file, manifest and index entry each) took ~1.5 CPU-s of the shim's ~4.4 while Nix waited
 * (docs/benchmarks.md, "substitute"). Until a NAR is imported, requests for it read its spool.
 */
export const IMPORT_QUIET_MS = 250

/** The longest a fetched NAR waits for a quiet moment before it is imported anyway (a shim that never rests). */
export const IMPORT_MAX_DEFER_MS = 10_000

/** Nix's store directory; `nix-cache-info` must state the client's. */
export const STORE_DIR = '/nix/store'

/**
 * Re-seed what the shim fetched unless told otherwise: on. Every machine that fetched a NAR can serve it to the
 * next, which is what makes the network hold up as it grows; `--no-seed` is for machines that must not upload.
 */
export const DEFAULT_SEED = true

/**
 * Fetch a path's closure when Nix asks for its narinfo unless told otherwise: on. Nix asks for the closure's
 * narinfos first and the NARs after; fetching while it asks hides the network's latency from the whole build.
 */
export const DEFAULT_PREFETCH = true

/** The shim's control socket in its data directory (`narthex status --data DIR` asks it). */
export const CONTROL_SOCKET = 'shim.sock'

/**
 * Recent fetches `narthex status` shows: enough to see the last substitution run (a closure is tens of paths),
 * small enough (~200 bytes each) that memory does not matter.
 */
export const RECENT_FETCHES = 50

/** Recent errors kept for `narthex status`: the newest matter; a flood of one error must not grow memory. */
export const RECENT_ERRORS = 50
