/**
 * The orchestrator's libp2p node: a DHT server (`/narthex/kad/1.0.0`) that seeders and shims use as their
 * bootstrap peer; its multiaddrs are published at `GET /api/v1/p2p`. Built by `@narthex/p2p`'s `createNode`, so
 * transports, encryption and limits are the same as every other narthex node's, except the connection limits a
 * bootstrap node needs (constants.ts). Its identity and DHT datastore live in `<data>/p2p/`, so its peer id
 * survives restarts.
 *
 * Loaded lazily: libp2p is large, and only needed when `p2pListen` is not empty. Node 20 needs the
 * `Promise.withResolvers` polyfill (apps/cli/src/polyfill.ts), which the CLI and the tests load first.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { createNode, isPrivateMultiaddr, KAD_PROTOCOL } from '@narthex/p2p'
import createDebug from 'debug'
import { P2P_INBOUND_CONNECTION_THRESHOLD, P2P_MAX_CONNECTIONS } from './constants.js'
import { InvalidConfigError } from './errors.js'
import type { BootstrapNodeFactory } from './orchestrator.js'

const log = createDebug('narthex:orchestrator:p2p')

export const createBootstrapNode: BootstrapNodeFactory = async ({ listen, dataDir }) => {
  const addrs = listen.map((a) => {
    try {
      return multiaddr(a)
    } catch (err) {
      throw new InvalidConfigError(`p2p listen address ${JSON.stringify(a)}: ${(err as Error).message}`)
    }
  })
  const dir = join(dataDir, 'p2p')
  await mkdir(dir, { recursive: true })
  const node = await createNode({
    dataDir: dir,
    listen,
    dhtServer: true,
    // A network on loopback or a LAN keeps such addresses in its records; a public one strips them.
    allowPrivateAddresses: addrs.every(isPrivateMultiaddr),
    allowQueryWithZeroPeers: true,
    connections: { max: P2P_MAX_CONNECTIONS, inboundPerSecond: P2P_INBOUND_CONNECTION_THRESHOLD }
  })
  log('libp2p peer %s listening on %o', node.peerId.toString(), node.getMultiaddrs().map(String))
  return {
    info: () => ({
      peerId: node.peerId.toString(),
      multiaddrs: node.getMultiaddrs().map(String),
      protocol: KAD_PROTOCOL
    }),
    async stop() {
      await node.stop()
    }
  }
}
