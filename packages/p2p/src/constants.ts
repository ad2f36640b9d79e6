/**
 * Every limit and default of the network layer, each with the reason for its value. docs/limits.md lists them
 * for operators; a test keeps the two in step.
 */

import { MAX_MANIFEST_BYTES as CONTENT_MAX_MANIFEST_BYTES, MAX_CHUNK_SIZE } from '@narthex/content'

const KiB = 1024
const MiB = 1024 * KiB

/** The fetch protocol. The version changes with any change of the wire format (docs/p2p.md). */
export const NAR_PROTOCOL = '/narthex/nar/1.0.0'

/** A private DHT protocol name keeps the narthex DHT apart from the public IPFS DHT. */
export const KAD_PROTOCOL = '/narthex/kad/1.0.0'

// ---------------------------------------------------------------------------------------------------------------
// Wire format

/** A length prefix is a 4-byte big-endian unsigned integer: fixed size, so a short read is always detectable. */
export const LENGTH_PREFIX_BYTES = 4

/**
 * Largest request body. The largest request is GET_CHUNKS with MAX_CHUNKS_PER_REQUEST CIDs of 36 bytes
 * (CIDv1 raw sha2-256) plus 3 bytes of header: 9,219 bytes. 16 KiB leaves room for longer multihashes.
 */
export const MAX_REQUEST_BYTES = 16 * KiB

/** CIDs per GET_CHUNKS request. 256 chunks of the average size (64 KiB) is 16 MiB of response per request. */
export const MAX_CHUNKS_PER_REQUEST = 256

/**
 * Largest chunk payload a CHUNK reply may carry: content's MAX_CHUNK_SIZE (the largest maxSize of the known
 * chunkers, 1 MiB). No valid chunk is larger, so a larger declared length is refused before it is read.
 */
export const MAX_CHUNK_BYTES: number = MAX_CHUNK_SIZE

/** Largest MANIFEST reply payload: content's MAX_MANIFEST_BYTES (16 MiB, a manifest of a ~25 GiB NAR). */
export const MAX_MANIFEST_BYTES: number = CONTENT_MAX_MANIFEST_BYTES

/** Largest CID on the wire: CIDv1 + codec + sha2-256 multihash is 36 bytes; 128 allows other hash functions. */
export const MAX_CID_BYTES = 128

// ---------------------------------------------------------------------------------------------------------------
// Streams and connections

/**
 * Inbound fetch streams one connection may hold open. The downloader uses one stream per peer per download;
 * 16 allows that many concurrent downloads from one client and stops a stream flood early.
 */
export const MAX_INBOUND_FETCH_STREAMS_PER_CONNECTION = 16

/** Outbound fetch streams per connection: the same bound seen from the client side. */
export const MAX_OUTBOUND_FETCH_STREAMS_PER_CONNECTION = 16

/** Fetch streams a server serves at once across all peers; more get BUSY and are closed. */
export const MAX_CONCURRENT_FETCH_STREAMS = 256

/**
 * Idle fetch sessions a downloader's SessionPool keeps per peer for the next download (session-pool.ts). Few: a
 * kept session holds one of the server's MAX_INBOUND_FETCH_STREAMS_PER_CONNECTION.
 */
export const SESSION_POOL_MAX_IDLE_PER_PEER = 2

/** A kept fetch session unused this long is closed: well under SERVER_STREAM_IDLE_TIMEOUT_MS, so we close first. */
export const SESSION_POOL_IDLE_MS = 5_000

/**
 * A fetch stream on which no request arrives for this long is closed by the server: an idle client holds a slot
 * and memory. Also bounds a reader that never reads (the server's write then waits for a drain that never comes).
 */
export const SERVER_STREAM_IDLE_TIMEOUT_MS = 30_000

/**
 * Unread request bytes a server stream tolerates before it is reset. An honest client pipelines a few requests of
 * at most ~9 KiB (PEER_WINDOW_BYTES / REQUEST_BATCH_BYTES of them); 1 MiB is ample and bounds a request flood.
 */
export const SERVER_READ_BUFFER_BYTES = 1 * MiB

/**
 * Chunk replies the server gathers before one send to the muxer: fewer yamux frames and drain waits per MiB, no
 * copies (a list of the stored buffers), and only ~1 MiB queued per stream whatever the window.
 */
export const SEND_COALESCE_BYTES = 1 * MiB

/**
 * Chunk ids the server asks its source for at once (ChunkSource.getChunks): 16 average chunks are ~1 MiB, one
 * send. The next group is read while the previous one is sent.
 */
export const SERVE_READ_GROUP_CHUNKS = 16

/** Re-dial interval for bootstrap peers that dropped. */
export const BOOTSTRAP_REDIAL_MS = 30_000

/** Open connections in total. Each costs ~50 KiB plus its streams; 300 is libp2p's own default. */
export const MAX_CONNECTIONS = 300

/** Connections still in the handshake; bounds the memory an inbound flood of half-open TCP connections costs. */
export const MAX_INCOMING_PENDING_CONNECTIONS = 32

/** Inbound connections per second from one IP (libp2p's default is 5; seeders behind one NAT need more). */
export const INBOUND_CONNECTION_THRESHOLD = 20

/** Parallel outgoing dials; a downloader dials a handful of providers, the DHT up to alpha at once. */
export const MAX_PARALLEL_DIALS = 50

/** A dial (TCP + noise + yamux) that takes longer than this on a LAN or loopback is a dead address. */
export const DIAL_TIMEOUT_MS = 10_000

/** Streams per connection at the muxer. The protocol handlers bound their own protocols further. */
export const YAMUX_MAX_STREAMS_PER_CONNECTION = 256

/**
 * Initial yamux stream window: the yamux spec's 256 KiB, which both ends of a stream assume until a window update
 * says otherwise. It is not a tuning knob: a larger value makes a node send more than a standard peer (any libp2p
 * implementation with default settings) will take before its first update, and that peer resets the connection
 * (test/socket-tls.spec.ts moves 1 MiB each way against a default @libp2p node). Yamux doubles a stream's receive
 * window each round trip up to the maximum below, and throughput showed no difference beyond the noise: two seeders,
 * `pnpm bench p2p-throughput`, 16 MiB against 256 KiB: 246 / 254 against 286 / 321 MB/s in two runs, 239 against 223
 * in a 4-round interleaved run (rows `tls x2 win16M` and `tls x2`).
 */
export const YAMUX_INITIAL_STREAM_WINDOW = 256 * 1024

/**
 * Largest yamux stream window a stream grows to: what one stream can have in flight towards us. Throughput of one
 * stream is at most window / round trip, and on a loaded 2-core machine the round trip includes process scheduling
 * (10-40 ms measured). Yamux 8 makes a data frame as large as the free window when the writer has queued that
 * much; the fetch server hands the muxer at most ~1 MiB at a time, so frames stay small.
 */
export const YAMUX_MAX_STREAM_WINDOW = 16 * MiB

/**
 * Largest read buffer of a fetch stream. Yamux keeps granting window as data arrives, so a paused stream still
 * receives up to one window; the buffer must hold that plus our high-water mark or the stream aborts. Anything
 * beyond that is a peer sending more than it was asked for: the stream is reset.
 */
export const STREAM_MAX_READ_BUFFER = YAMUX_MAX_STREAM_WINDOW + MAX_MANIFEST_BYTES + 2 * MiB

// ---------------------------------------------------------------------------------------------------------------
// DHT and announcing

/** Kademlia replication factor k: bucket size, and how many closest peers get each provider record (kad's 20). */
export const DHT_K = 20

/** Peers queried in parallel during a DHT walk (kad-dht's default 10). */
export const DHT_ALPHA = 10

/** Disjoint paths of a DHT walk (S/Kademlia; kad-dht's default: alpha). */
export const DHT_DISJOINT_PATHS = 10

/** Provider records live this long on the peers that hold them (kad-dht's default, 48 h). */
export const PROVIDER_RECORD_VALIDITY_MS = 48 * 60 * 60 * 1000

/** Re-announce a NAR this long after its last successful announcement: half the validity, a day of margin. */
export const REANNOUNCE_AFTER_MS = PROVIDER_RECORD_VALIDITY_MS / 2

/**
 * Announcement sweeps in flight (provider-sweep.ts). Two overlap the walk of one with the messages of the other;
 * more only add walks, since one sweep already keeps a stream to every closest peer busy.
 */
export const ANNOUNCE_CONCURRENCY = 2

/**
 * NARs one sweep takes from the queue: one walk serves them all in a network smaller than k, and in a larger one
 * each walk serves the NARs whose closest peers it proves (provider-sweep.ts). The sweep holds their ids and
 * pending messages in memory (~100 bytes each).
 */
export const ANNOUNCE_BATCH = 1024

/**
 * Peers a sweep sends its ADD_PROVIDER messages to at once, one stream each carrying all of that peer's messages
 * for the walk's NARs: k = 20 sends to every closest peer of those NARs in parallel.
 */
export const ANNOUNCE_STREAM_CONCURRENCY = 20

/**
 * A peer's stream of ADD_PROVIDER messages (up to ANNOUNCE_BATCH of them, each a datastore write on the peer)
 * that the peer has not closed in this long has failed; its CIDs are retried.
 */
export const ANNOUNCE_STREAM_TIMEOUT_MS = 60_000

/** One walk of a sweep that has not finished in this long is abandoned (the DHT's own default is 180 s). */
export const ANNOUNCE_WALK_TIMEOUT_MS = 30_000

/** Acknowledged ADD_PROVIDER messages that count as announced. kad's replication is k=20; 3 survives churn. */
export const ANNOUNCE_MIN_ACKS = 3

/** Attempts per announcement before it is reported failed (and retried at the next re-announce). */
export const ANNOUNCE_MAX_ATTEMPTS = 4

/** First retry delay; doubles per attempt. */
export const ANNOUNCE_RETRY_BASE_MS = 1_000

/** How long a downloader waits for the DHT to name providers before giving up. */
export const FIND_PROVIDERS_TIMEOUT_MS = 30_000

/** Providers taken from one lookup: caps dials a Sybil flood of records can cause. */
export const MAX_PROVIDERS_PER_LOOKUP = 20

// ---------------------------------------------------------------------------------------------------------------
// Downloader

/**
 * Bytes requested but not yet received from one peer. Throughput per peer is at most this / round trip: 8 MiB
 * carries 1 Gbit/s over a 65 ms round trip, and several peers add up. Deeper is not free: what a deep window
 * brings in waits longer at the receiver (yamux buffers, the reorder queue), long enough to reach V8's old
 * generation, and then costs major garbage collections. Measured from two seeders on loopback (bench/p2p,
 * 2026-11-23): 8 MiB in 2 MiB requests gave 1.3x the throughput of 32 MiB in 4 MiB requests, with 25-30 % less
 * CPU per byte at the receiver and no major collection in its profile. MAX_AHEAD_BYTES still caps the total in
 * flight.
 */
export const PEER_WINDOW_BYTES = 8 * MiB

/** Bytes one GET_CHUNKS request asks for at most: large enough to amortise the request, small enough to rebalance. */
export const REQUEST_BATCH_BYTES = 2 * MiB

/**
 * How far past the next byte to hand out the downloader fetches. Bounds downloader memory (chunks wait in memory
 * until yielded) whatever the consumer's speed.
 */
export const MAX_AHEAD_BYTES = 64 * MiB

/** A peer with requests outstanding that delivers nothing for this long is stalled: its work moves elsewhere. */
export const STALL_TIMEOUT_MS = 10_000

/** A peer that must answer HAVE or GET_MANIFEST within this long, or is treated as stalled. */
export const REQUEST_TIMEOUT_MS = 10_000

/** Score lost per stall or reset. Stalls are not proof of malice: they only lower the peer's priority. */
export const STALL_PENALTY = 10

/**
 * How long a download that connected peers are serving waits before it also asks the DHT for more providers. Most
 * NARs are small and done well before; a large one then spreads over more peers.
 */
export const DHT_DEFER_MS = 500

/**
 * NAR bytes per connected peer probed at the start of a download: a NAR of up to this size starts with one peer
 * (the next connected one is asked only when it fails or says no), a 256 MiB one with MAX_PEERS_PER_DOWNLOAD.
 */
export const BYTES_PER_PEER = 4 * 1024 * 1024

/** Peers used at once for one download. More add CPU cost (one noise session each) without more bandwidth. */
export const MAX_PEERS_PER_DOWNLOAD = 8

/**
 * Failures of one chunk on peers it had already failed on (a peer asked again when no other was left) before the
 * download fails. Failures on peers it had not failed on do not count: each peer fails a chunk once at most that
 * way, so they are bounded by the providers found, and an honest provider after many bad ones is still reached.
 */
export const MAX_CHUNK_REPEAT_FAILURES = 8

/** How long a banned peer stays banned in this process (bans are also recorded by the caller as it likes). */
export const BAN_DURATION_MS = 24 * 60 * 60 * 1000
