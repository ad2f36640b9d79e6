/**
 * The libp2p node factory: TCP, noise (and optionally TLS), yamux, identify, ping and the private Kademlia DHT,
 * with a persistent identity and datastore, bootstrap peers, and every connection and stream limit set on purpose
 * (constants.ts, docs/limits.md).
 *
 * Private addresses: by default (production) the node never dials a private or loopback address except an
 * explicitly configured bootstrap address, and strips private addresses from DHT records it learns. Loopback and
 * LAN networks set `allowPrivateAddresses: true`.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import { type KadDHT, kadDHT, passthroughMapper, removePrivateAddressesMapper } from '@libp2p/kad-dht'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { tls } from '@libp2p/tls'
import { isPrivateIp } from '@libp2p/utils'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { LevelDatastore } from 'datastore-level'
import { createLibp2p } from 'libp2p'
import { Bootstrap, type BootstrapComponents } from './bootstrap.js'
import {
  DHT_ALPHA,
  DHT_DISJOINT_PATHS,
  DHT_K,
  DIAL_TIMEOUT_MS,
  INBOUND_CONNECTION_THRESHOLD,
  KAD_PROTOCOL,
  MAX_CONNECTIONS,
  MAX_INCOMING_PENDING_CONNECTIONS,
  MAX_PARALLEL_DIALS,
  PROVIDER_RECORD_VALIDITY_MS,
  YAMUX_INITIAL_STREAM_WINDOW,
  YAMUX_MAX_STREAM_WINDOW,
  YAMUX_MAX_STREAMS_PER_CONNECTION
} from './constants.js'
import { InvalidNodeConfigError, ListenError } from './errors.js'
import { loadOrCreatePeerKey } from './identity.js'
import { socketTls } from './socket-tls.js'

/** Offered connection encryption, in order of preference (see NodeInit.encryption). */
export const DEFAULT_ENCRYPTION: readonly Encryption[] = ['tls', 'noise']

/**
 * 'tls': libp2p's TLS 1.3 with OpenSSL on the TCP socket (socket-tls.ts); 'noise': `@chainsafe/libp2p-noise`;
 * 'libp2p-tls': `@libp2p/tls` as published, TLS over a JavaScript stream. 'tls' and 'libp2p-tls' are the same
 * protocol on the wire (both answer `/tls/1.0.0`), so a node offers one of them; 'libp2p-tls' is there to compare
 * the two in benchmarks, and as a fallback should the socket-level one misbehave somewhere.
 */
export type Encryption = 'noise' | 'tls' | 'libp2p-tls'

const ENCRYPTERS = { noise, tls: socketTls, 'libp2p-tls': tls } as const

export interface NodeInit {
  /** Directory for the peer key and the DHT datastore (level). Without it the node is ephemeral (in memory). */
  readonly dataDir?: string
  /** A fixed identity (overrides the one in dataDir). */
  readonly privateKey?: PrivateKey
  /** Listen multiaddrs. Default: none (a pure client). A seeder listens, e.g. '/ip4/0.0.0.0/tcp/4001'. */
  readonly listen?: readonly string[]
  /**
   * Addresses to advertise besides the listen addresses, e.g. a router's public IP with a forwarded port, or a
   * DNS name. libp2p advertises a public address only once something verified it (AutoNAT, which narthex does not
   * run); an address the operator states is taken as verified, so peers across the Internet can dial it.
   */
  readonly announce?: readonly string[]
  /** Bootstrap peers (multiaddrs with /p2p/<peer id>), kept connected. */
  readonly bootstrap?: readonly string[]
  /** Dial and keep private/loopback addresses (loopback tests, LANs). Default false: production. */
  readonly allowPrivateAddresses?: boolean
  /**
   * Answer DHT queries (a DHT server). Seeders and bootstrap nodes set it; a node with only private addresses
   * otherwise stays a DHT client forever and provide() hangs. Default false.
   */
  readonly dhtServer?: boolean
  /**
   * Connection encryption offered, in order of preference (see Encryption). Default ['tls', 'noise']: TLS 1.3
   * beat noise at equal settings in most interleaved pairs and costs both ends less CPU; docs/benchmarks.md
   * "p2p". Noise stays for peers without TLS.
   */
  readonly encryption?: readonly Encryption[]
  /** Yamux tuning (benchmarks). */
  readonly yamux?: {
    readonly initialStreamWindowSize?: number
    readonly maxStreamWindowSize?: number
    readonly maxMessageSize?: number
  }
  /** IP ranges (multiaddr prefixes) exempt from connection limits, e.g. ['/ip4/127.0.0.1'] in tests. */
  readonly allow?: readonly string[]
  /** DHT query tuning (benchmarks); defaults from constants.ts. */
  readonly dht?: { readonly alpha?: number; readonly disjointPaths?: number; readonly kBucketSize?: number }
  /** Let a DHT query run with an empty routing table (a lone node). Default false. */
  readonly allowQueryWithZeroPeers?: boolean
  /**
   * Connection limits for nodes whose role differs from a seeder's (a bootstrap node that every peer dials
   * first). Defaults: MAX_CONNECTIONS and INBOUND_CONNECTION_THRESHOLD (docs/limits.md).
   */
  readonly connections?: { readonly max?: number; readonly inboundPerSecond?: number }
}

export type NarthexServices = {
  identify: unknown
  ping: unknown
  dht: KadDHT
  bootstrap: Bootstrap
}

export type NarthexNode = Libp2p<NarthexServices>

/** Is the multiaddr's host a private, loopback or link-local IP? DNS names count as public. */
export function isPrivateMultiaddr(ma: Multiaddr): boolean {
  const host = ma.getComponents().find((c) => c.name === 'ip4' || c.name === 'ip6')?.value
  return host !== undefined && isPrivateIp(host) === true
}

function parseAddrs(addrs: readonly string[] | undefined, what: string): Multiaddr[] {
  return (addrs ?? []).map((a) => {
    try {
      return multiaddr(a)
    } catch (err) {
      throw new InvalidNodeConfigError(
        `bad ${what} multiaddr ${JSON.stringify(a)}: ${(err as Error).message}`
      )
    }
  })
}

/** Create and start a narthex libp2p node. Call `node.stop()` to stop it (closes the datastore too). */
export async function createNode(init: NodeInit = {}): Promise<NarthexNode> {
  const bootstrap = parseAddrs(init.bootstrap, 'bootstrap')
  parseAddrs(init.listen, 'listen')
  parseAddrs(init.announce, 'announce')
  const allowPrivate = init.allowPrivateAddresses ?? false
  const bootstrapStrings = new Set(bootstrap.map((m) => m.toString()))
  const encryption = init.encryption ?? DEFAULT_ENCRYPTION
  if (encryption.includes('tls') && encryption.includes('libp2p-tls')) {
    throw new InvalidNodeConfigError(
      "encryption: 'tls' and 'libp2p-tls' are the same protocol; offer one of them"
    )
  }
  const encrypters = encryption.map((e) => ENCRYPTERS[e]())

  const privateKey =
    init.privateKey ?? (init.dataDir !== undefined ? await loadOrCreatePeerKey(init.dataDir) : undefined)
  const datastore = init.dataDir !== undefined ? new LevelDatastore(`${init.dataDir}/datastore`) : undefined
  if (datastore !== undefined) await datastore.open()

  try {
    const node = await createLibp2p({
      ...(privateKey !== undefined ? { privateKey } : {}),
      ...(datastore !== undefined ? { datastore } : {}),
      addresses: { listen: [...(init.listen ?? [])], appendAnnounce: [...(init.announce ?? [])] },
      transports: [tcp()],
      connectionEncrypters: encrypters as never,
      streamMuxers: [
        yamux({
          maxInboundStreams: YAMUX_MAX_STREAMS_PER_CONNECTION,
          maxOutboundStreams: YAMUX_MAX_STREAMS_PER_CONNECTION,
          ...(init.yamux?.maxMessageSize !== undefined ? { maxMessageSize: init.yamux.maxMessageSize } : {}),
          streamOptions: {
            initialStreamWindowSize: init.yamux?.initialStreamWindowSize ?? YAMUX_INITIAL_STREAM_WINDOW,
            maxStreamWindowSize: init.yamux?.maxStreamWindowSize ?? YAMUX_MAX_STREAM_WINDOW
          }
        })
      ],
      connectionManager: {
        maxConnections: init.connections?.max ?? MAX_CONNECTIONS,
        maxIncomingPendingConnections: MAX_INCOMING_PENDING_CONNECTIONS,
        inboundConnectionThreshold: init.connections?.inboundPerSecond ?? INBOUND_CONNECTION_THRESHOLD,
        maxParallelDials: MAX_PARALLEL_DIALS,
        dialTimeout: DIAL_TIMEOUT_MS,
        ...(init.allow !== undefined ? { allow: [...init.allow] } : {})
      },
      connectionGater: allowPrivate
        ? {}
        : {
            // Production: never dial a private address learnt from the network; configured bootstrap
            // addresses are the operator's explicit choice and stay dialable.
            denyDialMultiaddr: (ma: Multiaddr) =>
              isPrivateMultiaddr(ma) && !bootstrapStrings.has(ma.toString())
          },
      services: {
        identify: identify(),
        ping: ping(),
        dht: kadDHT({
          protocol: KAD_PROTOCOL,
          clientMode: !(init.dhtServer ?? false),
          peerInfoMapper: allowPrivate ? passthroughMapper : removePrivateAddressesMapper,
          allowQueryWithZeroPeers: init.allowQueryWithZeroPeers ?? false,
          alpha: init.dht?.alpha ?? DHT_ALPHA,
          disjointPaths: init.dht?.disjointPaths ?? DHT_DISJOINT_PATHS,
          kBucketSize: init.dht?.kBucketSize ?? DHT_K,
          // The Announcer re-announces (with acknowledgements counted); kad's own reprovider would repeat that
          // work at a concurrency that loses records, so its interval is pushed out of the way.
          reprovide: {
            validity: PROVIDER_RECORD_VALIDITY_MS,
            threshold: PROVIDER_RECORD_VALIDITY_MS / 2,
            interval: 2 ** 31 - 1,
            concurrency: 1
          }
        }),
        bootstrap: (components) => new Bootstrap(components as unknown as BootstrapComponents, bootstrap)
      }
    })
    if (datastore !== undefined) {
      node.addEventListener('stop', () => {
        datastore.close().catch(() => {})
      })
    }
    return node as unknown as NarthexNode
  } catch (err) {
    await datastore?.close().catch(() => {})
    throw listenError(err) ?? err
  }
}

/**
 * libp2p reports a taken listen address as one long message with a stack trace per address; this says which
 * address and why in one line.
 */
function listenError(err: unknown): ListenError | undefined {
  const text = (err as Error)?.message ?? ''
  const m = /(\/\S+): Error: listen (EADDRINUSE|EADDRNOTAVAIL)/.exec(text)
  if (m === null) return undefined
  const why = m[2] === 'EADDRINUSE' ? 'address already in use' : 'not an address of this machine'
  return new ListenError(`cannot listen on ${m[1]}: ${why}`, m[2]!, { cause: err })
}
