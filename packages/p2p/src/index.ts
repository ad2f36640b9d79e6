/**
 * @narthex/p2p: the narthex network layer. A libp2p node (TCP, noise, yamux, a private Kademlia DHT), the
 * `/narthex/nar/1.0.0` fetch protocol (server and client), announcing held NARs in the DHT, and the swarm
 * downloader that fetches one NAR from several peers at once, verifying every chunk.
 *
 * @example
 * ```ts
 * import { createNode, FetchServer, Announcer, downloadNar } from '@narthex/p2p'
 *
 * // a seeder
 * const node = await createNode({ dataDir, listen: ['/ip4/0.0.0.0/tcp/4001'], dhtServer: true, bootstrap })
 * const server = new FetchServer({ node, source: store })          // store implements ChunkSource
 * await server.start()
 * const announcer = new Announcer({ node })
 * announcer.start()
 * announcer.announce(narCid)
 *
 * // a client
 * for await (const bytes of downloadNar({ node, sink: store }, narHash, { manifestRoot })) out.write(bytes)
 * ```
 */

export { type AnnounceOutcome, Announcer, type AnnouncerInit, type AnnouncerStats } from './announcer.js'
export * from './constants.js'
export {
  type DownloadComponents,
  type DownloadOptions,
  type DownloadProgress,
  type DownloadStats,
  downloadNar,
  NarDownload
} from './downloader.js'
export * from './errors.js'
export { FetchServer, type FetchServerInit, type FetchServerStats } from './fetch-server.js'
export { loadOrCreatePeerKey, PEER_KEY_FILE } from './identity.js'
export type { ChunkSink, ChunkSource } from './interfaces.js'
export {
  createNode,
  type Encryption,
  isPrivateMultiaddr,
  type NarthexNode,
  type NarthexServices,
  type NodeInit
} from './node.js'
export { type BanRecord, PeerScores } from './peer-scores.js'
export { PeerSession, type PeerSessionInit } from './peer-session.js'
export { type FindProvidersOptions, findProviders } from './providers.js'
export { SessionPool, type SessionPoolInit } from './session-pool.js'
export { chunkSinkFromStore, chunkSourceFromStore } from './store-adapter.js'
