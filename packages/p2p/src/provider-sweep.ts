/**
 * Announcing many NARs at once: one DHT walk per region of the key space instead of one per NAR.
 *
 * kad-dht's provide() walks the DHT towards every key (≈ 20 FIND_NODE round trips) before it sends the 20
 * ADD_PROVIDER messages; for 10,000 NARs that is 200,000 round trips of walking. The sweep (the idea of
 * go-libp2p's "sweeping reprovider") sorts the keys by their Kademlia id, walks once towards the first key of a
 * region, and sends every key of the region its ADD_PROVIDER messages directly:
 *
 * - The walk yields the k closest peers to its target T. If it found fewer than k, it found every reachable DHT
 *   server, so one walk serves every key. Otherwise, with the k-th closest at a distance sharing z leading bits
 *   with T, every peer sharing z + 1 bits with T was found; the region is the keys sharing z + 1 bits with T.
 * - For each key of the region the candidates are the walk's peers plus the k closest peers of our routing
 *   table; the k closest candidates by XOR distance get the record. Every peer sharing z + 1 bits with the key
 *   (the closest ones, where a lookup for the key ends) is among them.
 * - Messages go out with bounded concurrency, overall and per peer (kad-dht accepts 32 inbound streams per
 *   connection; more fail). An acknowledgement is a message written without error, as for provide().
 *
 * It uses kad-dht 16 internals (`network.sendMessage`, `routingTable.closestPeers`, `providers.addProvider`),
 * checked when the sweep is built: an upgrade that changes them fails loudly (DhtInternalsError), not silently.
 */
import { createHash } from 'node:crypto'
import type { PeerId } from '@libp2p/interface'
import { type KadDHT, MessageType } from '@libp2p/kad-dht'
import type { Multiaddr } from '@multiformats/multiaddr'
import debug from 'debug'
import type { CID } from 'multiformats/cid'
import {
  ANNOUNCE_MESSAGE_CONCURRENCY,
  ANNOUNCE_PEER_CONCURRENCY,
  ANNOUNCE_WALK_TIMEOUT_MS,
  DHT_K
} from './constants.js'
import { DhtInternalsError } from './errors.js'

const log = debug('narthex:p2p:sweep')

/** The parts of kad-dht 16's KadDHT class the sweep uses (not in its public types). */
interface KadInternals {
  readonly k: number
  readonly network: {
    sendMessage(
      to: PeerId,
      msg: object,
      options: { signal?: AbortSignal }
    ): AsyncIterable<{ name: string; error?: Error }>
  }
  readonly routingTable: { closestPeers(kadId: Uint8Array, options: { count: number }): PeerId[] }
  readonly providers: { addProvider(cid: CID, provider: PeerId, options?: object): Promise<void> }
}

export interface ProviderSweepInit {
  /** Messages in flight overall (default ANNOUNCE_MESSAGE_CONCURRENCY). */
  readonly messageConcurrency?: number
  /** Messages in flight to one peer (default ANNOUNCE_PEER_CONCURRENCY). */
  readonly peerConcurrency?: number
  /** One walk that takes longer than this is abandoned; its keys get no acknowledgements (default 30 s). */
  readonly walkTimeoutMs?: number
}

export interface SweepStats {
  walks: number
  messages: number
  acks: number
  errors: number
}

interface Key {
  readonly cid: CID
  readonly kadId: Uint8Array
}

interface Candidate {
  readonly id: PeerId
  readonly kadId: Uint8Array
}

function sha256(bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest()
}

/** Compare the XOR distances of `a` and `b` to `target`: negative when `a` is closer. */
function compareDistance(target: Uint8Array, a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < target.length; i++) {
    const da = a[i]! ^ target[i]!
    const db = b[i]! ^ target[i]!
    if (da !== db) return da - db
  }
  return 0
}

/** Leading bits `a` and `b` share. */
export function sharedPrefixBits(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i]! ^ b[i]!
    if (x !== 0) return i * 8 + Math.clz32(x) - 24
  }
  return a.length * 8
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return 0
}

/** A counting semaphore. */
class Limit {
  private active = 0
  private readonly waiting: Array<() => void> = []
  constructor(private readonly max: number) {}
  async acquire(): Promise<void> {
    if (this.active < this.max) {
      this.active++
      return
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve))
  }
  release(): void {
    const next = this.waiting.shift()
    if (next !== undefined) next()
    else this.active--
  }
}

export class ProviderSweep {
  readonly stats: SweepStats = { walks: 0, messages: 0, acks: 0, errors: 0 }
  private readonly dht: KadDHT & KadInternals
  private readonly kadIds = new Map<string, Uint8Array>()

  constructor(
    private readonly components: {
      readonly node: {
        readonly peerId: PeerId
        getMultiaddrs(): Multiaddr[]
        readonly services: { readonly dht: KadDHT }
      }
    },
    private readonly init: ProviderSweepInit = {}
  ) {
    const dht = components.node.services.dht as KadDHT & Partial<KadInternals>
    if (
      typeof dht.network?.sendMessage !== 'function' ||
      typeof dht.routingTable?.closestPeers !== 'function' ||
      typeof dht.providers?.addProvider !== 'function'
    ) {
      throw new DhtInternalsError('kad-dht lacks network.sendMessage, routingTable.closestPeers or providers')
    }
    this.dht = dht as KadDHT & KadInternals
  }

  private peerKadId(id: PeerId): Uint8Array {
    const key = id.toString()
    let kadId = this.kadIds.get(key)
    if (kadId === undefined) {
      kadId = sha256(id.toMultihash().bytes)
      if (this.kadIds.size > 10_000) this.kadIds.clear()
      this.kadIds.set(key, kadId)
    }
    return kadId
  }

  /**
   * Announce every CID: our own provider record, then ADD_PROVIDER to the k closest peers of each. Resolves with
   * the acknowledgements per CID (its string form); a CID missing from the map got none.
   */
  async provide(cids: readonly CID[], options: { signal?: AbortSignal } = {}): Promise<Map<string, number>> {
    const acks = new Map<string, number>()
    const keys: Key[] = cids.map((cid) => ({ cid, kadId: sha256(cid.multihash.bytes) }))
    keys.sort((a, b) => compareBytes(a.kadId, b.kadId))
    const k = this.dht.k ?? DHT_K
    for (let i = 0; i < keys.length; ) {
      options.signal?.throwIfAborted()
      const target = keys[i]!
      const walk = await this.walk(target, options.signal)
      // Fewer than k found: the walk saw every reachable server, one walk serves every key.
      const bits = walk.length < k ? 0 : sharedPrefixBits(target.kadId, walk[k - 1]!.kadId) + 1
      let j = i + 1
      while (j < keys.length && sharedPrefixBits(target.kadId, keys[j]!.kadId) >= bits) j++
      log('walk towards key %d found %d peers; region of %d bits holds %d keys', i, walk.length, bits, j - i)
      await this.sendRegion(keys.slice(i, j), walk, k, acks, options.signal)
      i = j
    }
    return acks
  }

  /** The closest peers to the key that answered a walk, closest first. */
  private async walk(target: Key, signal: AbortSignal | undefined): Promise<Candidate[]> {
    this.stats.walks++
    const timeout = AbortSignal.timeout(this.init.walkTimeoutMs ?? ANNOUNCE_WALK_TIMEOUT_MS)
    const found: Candidate[] = []
    try {
      for await (const ev of this.dht.getClosestPeers(target.cid.multihash.bytes, {
        signal: signal !== undefined ? AbortSignal.any([signal, timeout]) : timeout
      })) {
        if (ev.name === 'FINAL_PEER') found.push({ id: ev.peer.id, kadId: this.peerKadId(ev.peer.id) })
      }
    } catch (err) {
      signal?.throwIfAborted()
      log('walk ended early: %s', (err as Error).message)
    }
    found.sort((a, b) => compareDistance(target.kadId, a.kadId, b.kadId))
    return found
  }

  private async sendRegion(
    keys: Key[],
    walk: Candidate[],
    k: number,
    acks: Map<string, number>,
    signal: AbortSignal | undefined
  ): Promise<void> {
    const self = this.components.node.peerId
    const addrs = this.components.node.getMultiaddrs()
    const provider = { id: self.toMultihash().bytes, multiaddrs: addrs.map((m) => m.bytes) }
    const concurrency = this.init.messageConcurrency ?? ANNOUNCE_MESSAGE_CONCURRENCY
    const global = new Limit(concurrency)
    // Sends created but not finished; bounds the memory of a large region.
    const queued = new Limit(concurrency * 4)
    const perPeer = new Map<string, Limit>()
    const peerLimit = (id: string): Limit => {
      let l = perPeer.get(id)
      if (l === undefined) {
        l = new Limit(this.init.peerConcurrency ?? ANNOUNCE_PEER_CONCURRENCY)
        perPeer.set(id, l)
      }
      return l
    }
    const sends: Array<Promise<void>> = []
    for (const key of keys) {
      signal?.throwIfAborted()
      const candidates = new Map<string, Candidate>()
      for (const c of walk) candidates.set(c.id.toString(), c)
      for (const id of this.dht.routingTable.closestPeers(key.kadId, { count: k })) {
        if (!candidates.has(id.toString())) candidates.set(id.toString(), { id, kadId: this.peerKadId(id) })
      }
      candidates.delete(self.toString())
      const closest = [...candidates.values()]
        .sort((a, b) => compareDistance(key.kadId, a.kadId, b.kadId))
        .slice(0, k)
      await this.dht.providers.addProvider(key.cid, self)
      const msg = {
        type: MessageType.ADD_PROVIDER,
        key: key.cid.multihash.bytes,
        providers: [provider]
      }
      const cidKey = key.cid.toString()
      for (const peer of closest) {
        const lane = peerLimit(peer.id.toString())
        await queued.acquire()
        sends.push(
          (async () => {
            await lane.acquire()
            await global.acquire()
            try {
              if (await this.send(peer.id, msg, signal)) acks.set(cidKey, (acks.get(cidKey) ?? 0) + 1)
            } finally {
              global.release()
              lane.release()
              queued.release()
            }
          })()
        )
      }
    }
    await Promise.all(sends)
  }

  private async send(peer: PeerId, msg: object, signal: AbortSignal | undefined): Promise<boolean> {
    this.stats.messages++
    let ok = false
    try {
      for await (const ev of this.dht.network.sendMessage(
        peer,
        msg,
        signal !== undefined ? { signal } : {}
      )) {
        if (ev.name === 'PEER_RESPONSE') ok = true
        else if (ev.name === 'QUERY_ERROR') ok = false
      }
    } catch (err) {
      log('ADD_PROVIDER to %s failed: %s', peer.toString(), (err as Error).message)
      ok = false
    }
    if (ok) this.stats.acks++
    else this.stats.errors++
    return ok
  }
}
