/**
 * Finding peers that may hold a NAR: peers we are already connected to first (no DHT walk, no dial), then the
 * DHT. The DHT is a hint, not an authority: every candidate is asked HAVE before it is used, and a lookup yields
 * at most MAX_PROVIDERS_PER_LOOKUP peers so a flood of Sybil records cannot make us dial without bound.
 */

import type { PeerId } from '@libp2p/interface'
import { deadline } from '@narthex/abort'
import debug from 'debug'
import type { CID } from 'multiformats/cid'
import { FIND_PROVIDERS_TIMEOUT_MS, MAX_PROVIDERS_PER_LOOKUP, NAR_PROTOCOL } from './constants.js'
import type { NarthexNode } from './node.js'
import { peerProtocols } from './peer-protocols.js'

const log = debug('narthex:p2p:providers')

export interface FindProvidersOptions {
  readonly signal?: AbortSignal
  /** Give up on the DHT after this long (default FIND_PROVIDERS_TIMEOUT_MS). */
  readonly timeoutMs?: number
  /** Most peers yielded from the DHT (default MAX_PROVIDERS_PER_LOOKUP). */
  readonly maxProviders?: number
  /** Skip the DHT (connected peers only). */
  readonly connectedOnly?: boolean
}

/** Candidate providers of `narCid`, connected peers first, each yielded once. */
export async function* findProviders(
  node: NarthexNode,
  narCid: CID,
  options: FindProvidersOptions = {}
): AsyncGenerator<PeerId> {
  const seen = new Set<string>()
  const self = node.peerId.toString()
  seen.add(self)
  // Connected peers that speak the fetch protocol (identify has told us), or whose protocols are not known yet.
  for (const conn of node.getConnections()) {
    const id = conn.remotePeer.toString()
    if (seen.has(id) || conn.status !== 'open') continue
    const protocols = await peerProtocols(node, conn.remotePeer)
    if (protocols.length > 0 && !protocols.includes(NAR_PROTOCOL)) continue
    seen.add(id)
    yield conn.remotePeer
  }
  if (options.connectedOnly) return
  const signal = deadline(options.timeoutMs ?? FIND_PROVIDERS_TIMEOUT_MS, options.signal)
  const max = options.maxProviders ?? MAX_PROVIDERS_PER_LOOKUP
  let fromDht = 0
  try {
    for await (const ev of node.services.dht.findProviders(narCid, { signal })) {
      if (ev.name !== 'PROVIDER') continue
      for (const p of ev.providers) {
        const id = p.id.toString()
        if (seen.has(id)) continue
        seen.add(id)
        if (p.multiaddrs.length > 0) {
          await node.peerStore.merge(p.id, { multiaddrs: p.multiaddrs }).catch(() => {})
        }
        yield p.id
        if (++fromDht >= max) return
      }
    }
  } catch (err) {
    if (options.signal?.aborted) throw err
    log('DHT lookup for %s ended: %s', narCid.toString(), (err as Error).message)
  }
}
