/**
 * The protocols each connected peer speaks, kept in memory from libp2p's events.
 *
 * Asking the peer store costs a read of its `level` record under the store's lock and a protobuf decode; the
 * downloader asked it for every connected peer of every NAR: `findProviders` took 436 ms of an 11.5 s profile of the
 * shim on a cold closure of 500 small NARs, 59 ms with this (docs/benchmarks.md "substitute"). Identify and
 * peer-store updates tell us the same thing as they happen.
 */

import type { Libp2p, PeerId } from '@libp2p/interface'

type Node = Pick<Libp2p, 'addEventListener' | 'peerStore'>

const known = new WeakMap<Node, Map<string, readonly string[]>>()

function protocolMap(node: Node): Map<string, readonly string[]> {
  let map = known.get(node)
  if (map === undefined) {
    const m = new Map<string, readonly string[]>()
    node.addEventListener('peer:identify', (evt) => m.set(evt.detail.peerId.toString(), evt.detail.protocols))
    // Updates come for every peer the peer store learns of (DHT peers too): only connected ones are kept, so the map
    // holds no more entries than there are connections.
    node.addEventListener('peer:update', (evt) => {
      const key = evt.detail.peer.id.toString()
      if (m.has(key)) m.set(key, evt.detail.peer.protocols)
    })
    node.addEventListener('peer:disconnect', (evt) => m.delete(evt.detail.toString()))
    known.set(node, m)
    map = m
  }
  return map
}

/**
 * The protocols `peer` speaks as far as we know: from memory, else (a peer identified before we started
 * listening) from the peer store once. Empty when nothing is known yet (identify has not finished).
 */
export async function peerProtocols(node: Node, peer: PeerId): Promise<readonly string[]> {
  const map = protocolMap(node)
  const key = peer.toString()
  const held = map.get(key)
  if (held !== undefined) return held
  const record = await node.peerStore.get(peer).catch(() => undefined)
  const protocols = record?.protocols ?? []
  // Nothing known yet is not cached: identify will tell us.
  if (protocols.length > 0 && !map.has(key)) map.set(key, protocols)
  return protocols
}
