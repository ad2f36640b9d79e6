/**
 * The orchestrator's libp2p node: a DHT server (`/narthex/kad/1.0.0`) that seeders and shims use as their
 * bootstrap peer; its multiaddrs are published at `GET /api/v1/p2p`. TCP, noise, yamux, identify, ping.
 * Its identity (an Ed25519 key) and DHT datastore live in `<data>/p2p/`, so its peer id survives restarts.
 *
 * A minimal direct libp2p configuration, written while @narthex/p2p's node factory was not on main yet; it speaks
 * the same protocols (noise is offered by every narthex node). Loaded lazily: libp2p is large, and only needed
 * when `p2pListen` is not empty. Node 20 needs the `Promise.withResolvers` polyfill (apps/cli/src/polyfill.ts),
 * which the CLI and the tests load first.
 */
import { mkdir, open, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import type { PrivateKey } from '@libp2p/interface'
import { kadDHT, passthroughMapper, removePrivateAddressesMapper } from '@libp2p/kad-dht'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { LevelDatastore } from 'datastore-level'
import createDebug from 'debug'
import { createLibp2p } from 'libp2p'
import {
  KAD_PROTOCOL,
  P2P_INBOUND_CONNECTION_THRESHOLD,
  P2P_MAX_CONNECTIONS,
  PEER_KEY_FILE
} from './constants.js'
import { InvalidConfigError } from './errors.js'
import type { BootstrapNodeFactory } from './orchestrator.js'

const log = createDebug('narthex:orchestrator:p2p')

/** Load the node's key, or create it (0600, never overwritten). */
async function peerKey(dir: string): Promise<PrivateKey> {
  const file = join(dir, PEER_KEY_FILE)
  try {
    return privateKeyFromProtobuf(await readFile(file))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new InvalidConfigError(`cannot read the libp2p key ${file}: ${(err as Error).message}`)
    }
  }
  const key = await generateKeyPair('Ed25519')
  const handle = await open(file, 'wx', 0o600)
  try {
    await handle.writeFile(privateKeyToProtobuf(key))
    await handle.sync()
  } finally {
    await handle.close()
  }
  return key
}

const PRIVATE_HOST =
  /^(127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|169\.254\.|::1$|f[cd]|fe80:|localhost$)/i

/** True when every listen address is loopback or private: the DHT is then a local one and keeps such addresses. */
function localOnly(listen: readonly string[]): boolean {
  return listen.every((a) => {
    const host = multiaddr(a)
      .getComponents()
      .find((c) => c.name === 'ip4' || c.name === 'ip6' || c.name === 'dns4' || c.name === 'dns6')?.value
    return host !== undefined && PRIVATE_HOST.test(host)
  })
}

export const createBootstrapNode: BootstrapNodeFactory = async ({ listen, dataDir }) => {
  for (const a of listen) {
    try {
      multiaddr(a)
    } catch (err) {
      throw new InvalidConfigError(`p2p listen address ${JSON.stringify(a)}: ${(err as Error).message}`)
    }
  }
  const dir = join(dataDir, 'p2p')
  await mkdir(dir, { recursive: true })
  const privateKey = await peerKey(dir)
  const datastore = new LevelDatastore(join(dir, 'datastore'))
  await datastore.open()
  const local = localOnly(listen)
  try {
    const node = await createLibp2p({
      privateKey,
      datastore,
      addresses: { listen: [...listen] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionManager: {
        maxConnections: P2P_MAX_CONNECTIONS,
        inboundConnectionThreshold: P2P_INBOUND_CONNECTION_THRESHOLD
      },
      services: {
        identify: identify(),
        ping: ping(),
        dht: kadDHT({
          protocol: KAD_PROTOCOL,
          clientMode: false,
          // A local network keeps loopback and LAN addresses in its records; a public one strips them.
          peerInfoMapper: local ? passthroughMapper : removePrivateAddressesMapper,
          allowQueryWithZeroPeers: true
        })
      }
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
        await datastore.close().catch(() => {})
      }
    }
  } catch (err) {
    await datastore.close().catch(() => {})
    throw err
  }
}
