/**
 * Every default and limit of the orchestrator, each with the reason for its value. The typed configuration
 * (config.ts) takes its defaults from here; docs/orchestrator.md lists them.
 */

/** Default HTTP address: loopback, so a fresh orchestrator is not exposed until its operator says so. */
export const DEFAULT_HOST = '127.0.0.1'

/** Default HTTP port: unassigned by IANA, easy to remember, clear of the seeder's and shim's defaults. */
export const DEFAULT_PORT = 7420

/**
 * Default libp2p listen address: loopback with a port the OS picks. A bootstrap peer reachable only on loopback is
 * useful for a demo or a test; a real deployment names a public address (`--p2p-listen /ip4/0.0.0.0/tcp/4001`).
 */
export const DEFAULT_P2P_LISTEN = ['/ip4/127.0.0.1/tcp/0']

/**
 * `Priority` in /nix-cache-info. cache.nixos.org says 40, nix-serve and harmonia 30; 40 keeps the orchestrator from
 * being tried before a local cache the user already has.
 */
export const DEFAULT_CACHE_PRIORITY = 40

/** Largest accepted request body. A single attestation with the maximum 10,000 references is ~0.7 MB; a batch of
 * typical attestations (~1 KB each) fits 1,000 with room. Larger bodies get 413 before they are read. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024

/** Most attestations in one batch submission: bounds the work (and the response) of one request. */
export const MAX_BATCH_ATTESTATIONS = 1000

/**
 * How far in the future an attestation's `time` may be, in milliseconds. Builders' clocks drift; ten minutes
 * tolerates a badly synchronised clock while refusing statements dated for later use.
 */
export const MAX_CLOCK_SKEW_MS = 10 * 60 * 1000

/** Node's `server.headersTimeout`: a client has 10 s to send its headers (slowloris protection). */
export const HEADERS_TIMEOUT_MS = 10_000

/** Node's `server.requestTimeout`: a whole request (headers and a body of at most MAX_BODY_BYTES) within 30 s. */
export const REQUEST_TIMEOUT_MS = 30_000

/**
 * Keep-alive idle timeout. Nix keeps its 25 connections open between narinfo requests; 65 s outlasts the common
 * 60 s proxy idle timeouts so a proxy in front never reuses a connection the orchestrator just closed.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000

/** Largest request header block. Node's default (16 KiB) is more than any legitimate client sends; 431 above. */
export const MAX_HEADER_BYTES = 16 * 1024

/** Interval of the comment line sent on idle event streams, so proxies and browsers keep them open. */
export const SSE_HEARTBEAT_MS = 15_000

/** Events kept for `Last-Event-ID` resumption: a dashboard that reconnects within a few seconds misses nothing. */
export const SSE_REPLAY_EVENTS = 1000

/** Concurrent event-stream clients; each costs a socket and a little memory. More get 503. */
export const MAX_SSE_CLIENTS = 256

/**
 * Bytes an event-stream client may have unsent before it is dropped: a stalled reader must not make the
 * orchestrator buffer without bound. 1 MiB is thousands of events.
 */
export const MAX_SSE_BUFFER_BYTES = 1024 * 1024

/** Recent attestations kept in memory for the dashboard and `GET /api/v1/attestations`. */
export const RECENT_ATTESTATIONS = 200

/** Default and largest page size of list endpoints: a dashboard page, and a bound on one response. */
export const DEFAULT_LIST_LIMIT = 50
export const MAX_LIST_LIMIT = 500

/** Longest accepted search string: store paths are at most 256 characters; more is a mistake. */
export const MAX_SEARCH_LENGTH = 300

/** Time given to open requests and streams to finish when the orchestrator stops. */
export const SHUTDOWN_GRACE_MS = 2_000

/** Store-path directory of every path narthex serves (what /nix-cache-info states). */
export const STORE_DIR = '/nix/store'

/** Version of the level database layout; a different stored version refuses to start rather than misread. */
export const DB_LAYOUT_VERSION = 1

/**
 * Connections the bootstrap node keeps. Every seeder and shim connects to it first; 500 is far above a small
 * network and bounded (each idle connection costs a few KiB).
 */
export const P2P_MAX_CONNECTIONS = 500

/**
 * New inbound connections accepted per second from one IP. libp2p's default (5) makes many nodes behind one
 * address (a test, a NAT) get ECONNRESET when they start together; 50 keeps a bound against floods.
 */
export const P2P_INBOUND_CONNECTION_THRESHOLD = 50
