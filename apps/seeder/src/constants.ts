/**
 * Seeder defaults, each with the reason it was chosen. Every one can be changed in the config file (config.ts) or
 * by a flag; docs/seeder.md and docs/limits.md list them.
 */

const KiB = 1024
const MiB = 1024 * KiB

/** Where the seeder listens when nothing is given: every IPv4 interface, the conventional libp2p port. */
export const DEFAULT_LISTEN: readonly string[] = ['/ip4/0.0.0.0/tcp/4001']

/**
 * Disk quota (chunks + manifests) when none is given: none. A volunteer sets one; the store evicts least recently
 * used unpinned NARs to fit it after every commit, and the mirror never fetches past it.
 */
export const DEFAULT_QUOTA_BYTES: number | undefined = undefined

/**
 * Upload rate cap when none is given: none (0 = unlimited). A volunteer on a home link sets one, e.g. `2M`; the cap
 * is a token bucket over chunk bytes handed to the wire, shared by every peer, with one second of burst (a
 * chunk is never split; a taker overdraws and waits the debt off at the rate).
 */
export const DEFAULT_UPLOAD_BYTES_PER_SECOND = 0

/**
 * Peers served at once. A downloader uses up to MAX_PEERS_PER_DOWNLOAD (8) seeders; 64 concurrent downloaders
 * keep a 2-core machine busy at the measured ~250 MB/s encrypted throughput without starving any of them.
 * A peer beyond the cap gets ERROR BUSY and goes to another seeder.
 */
export const DEFAULT_MAX_PEERS = 64

/**
 * Repair when none is said: on. A damaged NAR (a chunk failed its hash check) is withdrawn; re-fetching the chunk
 * from peers, verified against the manifest already held, restores it instead of letting bit rot shrink the store.
 */
export const DEFAULT_REPAIR = true

/** The control socket's file name inside the data directory (a unix socket, mode 0600: the data dir's owner only). */
export const CONTROL_SOCKET = 'seeder.sock'

/** Largest control request body: an import of a few thousand paths; anything larger is refused (413). */
export const CONTROL_MAX_BODY_BYTES = 1 * MiB

/** The metrics listener when --metrics is given without a host: loopback, so numbers are not published by accident. */
export const DEFAULT_METRICS_HOST = '127.0.0.1'

/**
 * How long a policy decision (orchestrator agreed or not) is trusted before it is asked again. Agreement is
 * monotonic in the common case; an output withdrawn upstream is withdrawn here within this time.
 */
export const POLICY_RECHECK_MS = 10 * 60 * 1000

/** Time limit of one HTTP request to the orchestrator; a slow orchestrator must not hold announcements up. */
export const ORCHESTRATOR_TIMEOUT_MS = 10_000

/** Orchestrator look-ups in flight at once (at start, every stored NAR is checked). */
export const ORCHESTRATOR_CONCURRENCY = 4

/** How often the mirror asks the orchestrator for agreed outputs it does not hold. */
export const MIRROR_INTERVAL_MS = 5 * 60 * 1000

/**
 * Outputs listed per mirror round: the orchestrator's `limit` maximum (GET /api/v1/outputs, 1-500, most recently
 * updated first; it has no offset, so older agreed outputs beyond this are not seen by the mirror).
 */
export const MIRROR_LIST_LIMIT = 500

/** Providers counted per candidate when ranking (fewest first); counting stops here, it only ranks. */
export const MIRROR_PROVIDER_COUNT_LIMIT = 8

/** Time limit of one provider count (a DHT walk). */
export const MIRROR_PROVIDER_TIMEOUT_MS = 5_000

/** Time limit of one mirrored NAR download. */
export const MIRROR_DOWNLOAD_TIMEOUT_MS = 10 * 60 * 1000

/** How long stop() waits for in-flight control requests and imports to end before closing the store anyway. */
export const STOP_GRACE_MS = 5_000

/** Candidates ranked per mirror round (each costs a provider count, a DHT walk): bounds one round's work. */
export const MIRROR_CANDIDATES_PER_ROUND = 32

/** Connected peer ids listed by `narthex status`: enough to recognise peers, short enough to read. */
export const STATUS_PEER_IDS = 20

/** Recent fetches and errors kept for `narthex status` (bounded: a flood of one error must not grow memory). */
export const RECENT_EVENTS = 50
