/**
 * Announcing many NARs at once: DHT walks shared among the NARs instead of one walk per NAR.
 *
 * kad-dht's provide() walks the DHT towards every key (≈ 20 FIND_NODE round trips) before it sends the 20
 * ADD_PROVIDER messages; for 10,000 NARs that is 200,000 round trips of walking. The sweep (the idea of
 * go-libp2p's "sweeping reprovider") sorts the keys by their Kademlia id, walks towards the first, sends every key
 * the walks have proven its ADD_PROVIDER messages directly, and walks again towards the first key not proven
 * (sweep-plan.ts):
 *
 * - A walk towards a target T yields the k closest peers to T: every peer within d_k of T (the distance of the
 *   k-th) was found, so the walk covers that ball of the key space completely (key-space.ts). If it found fewer
 *   than k, it found every reachable DHT server and covers the whole key space.
 * - For a key K the candidates are every peer the sweep's walks found plus the k closest of our routing table, and
 *   r_K is the distance from K to its k-th closest candidate. When the ball of radius r_K around K lies within the
 *   balls the walks covered, no peer we do not know is as close to K as that k-th candidate: the k closest
 *   candidates are K's k closest peers, where a lookup for K ends, and they get its record. Keys go in Kademlia-id
 *   order; the first key not covered is the next walk's target, and the walks add up, so keys between two targets
 *   are often covered by both together. On a simulated network of 2,000 peers (k = 20), 1,024 keys took 412 walks
 *   and every record went to exactly its key's 20 closest peers (test/sweep-plan.spec.ts).
 *   (An earlier rule, "keys sharing z + 1 leading bits with T, z being what T shares with its k-th peer", was
 *   unsound: such keys' closest peers outside that subtree need not be T's, and the simulation catches it.)
 * - A walk cut short (its deadline passed, or the DHT query failed) proves nothing about the peers it did not reach:
 *   it serves its own key alone, and the next key gets a walk of its own.
 * - Each peer gets all its messages of a walk's keys on one stream (kad-dht's handler reads messages until the stream
 *   ends), instead of one stream per message as provide() opens: a stream open costs a multistream-select round
 *   trip. The messages end with a PING; kad-dht handles a stream's messages in order, so its echo acknowledges
 *   every ADD_PROVIDER before it. provide() counts a message written without error.
 *
 * It uses kad-dht 16 internals (`protocol`, `routingTable.closestPeers`, `providers.addProvider`) and writes its
 * wire format (dht.proto's Message) itself;
 * checked when the sweep is built: an upgrade that changes them fails loudly (DhtInternalsError), not silently.
 */

import { createHash } from 'node:crypto'
import type { PeerId, Stream } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import type { Multiaddr } from '@multiformats/multiaddr'
import { deadline } from '@narthex/abort'
import debug from 'debug'
import type { CID } from 'multiformats/cid'
import {
  ANNOUNCE_STREAM_CONCURRENCY,
  ANNOUNCE_STREAM_TIMEOUT_MS,
  ANNOUNCE_WALK_TIMEOUT_MS,
  DHT_K
} from './constants.js'
import { DhtInternalsError } from './errors.js'
import { compareDistance } from './key-space.js'
import { planSweep } from './sweep-plan.js'

const log = debug('narthex:p2p:sweep')

/** The parts of kad-dht 16's KadDHT class the sweep uses (not in its public types). */
interface KadInternals {
  readonly k: number
  readonly protocol: string
  readonly routingTable: { closestPeers(kadId: Uint8Array, options: { count: number }): PeerId[] }
  readonly providers: { addProvider(cid: CID, provider: PeerId, options?: object): Promise<void> }
}

export interface ProviderSweepInit {
  /** Peers sent their messages at once, one stream each (default ANNOUNCE_STREAM_CONCURRENCY). */
  readonly streamConcurrency?: number
  /** One peer's stream of messages that has not been closed by the peer in this long failed (default 60 s). */
  readonly streamTimeoutMs?: number
  /**
   * One walk that takes longer than this is abandoned (default 30 s): its key is sent to the closest peers found
   * so far and in the routing table, and the next key gets a walk of its own.
   */
  readonly walkTimeoutMs?: number
}

export interface SweepStats {
  walks: number
  /** Walks that hit their deadline or failed (each then served its own key only). */
  walksCutShort: number
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

/** A PING Message (type = 5), varint-length-prefixed; kad-dht echoes it. */
const PING_FRAME = Uint8Array.of(2, 0x08, 5)

/** Frames concatenated into one write (each ~100 bytes). */
const FRAMES_PER_SEND = 256

function varint(n: number): number[] {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80)
    n >>>= 7
  }
  out.push(n)
  return out
}

function field(tag: number, bytes: Uint8Array): Uint8Array {
  const head = [tag, ...varint(bytes.byteLength)]
  const out = new Uint8Array(head.length + bytes.byteLength)
  out.set(head)
  out.set(bytes, head.length)
  return out
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.byteLength
  }
  return out
}

/** kad-dht's PeerInfo message: id = 1, multiaddrs = 2 (dht.proto). */
function encodePeerInfo(id: Uint8Array, multiaddrs: Uint8Array[]): Uint8Array {
  return concat([field(0x0a, id), ...multiaddrs.map((m) => field(0x12, m))])
}

/**
 * One varint-length-prefixed ADD_PROVIDER Message, as kad-dht writes it: type = 1 (ADD_PROVIDER = 2), key = 2
 * (the multihash), providers = 9 (one PeerInfo: us).
 */
function encodeAddProvider(key: Uint8Array, provider: Uint8Array): Uint8Array {
  const body = concat([Uint8Array.of(0x08, 2), field(0x12, key), field(0x4a, provider)])
  return concat([Uint8Array.from(varint(body.byteLength)), body])
}

function sha256(bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest()
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
  readonly stats: SweepStats = { walks: 0, walksCutShort: 0, messages: 0, acks: 0, errors: 0 }
  private readonly dht: KadDHT & KadInternals
  private readonly kadIds = new Map<string, Uint8Array>()
  private readonly protocol: string

  constructor(
    private readonly components: {
      readonly node: {
        readonly peerId: PeerId
        getMultiaddrs(): Multiaddr[]
        dialProtocol(peer: PeerId, protocol: string, options?: { signal?: AbortSignal }): Promise<Stream>
        readonly services: { readonly dht: KadDHT }
      }
    },
    private readonly init: ProviderSweepInit = {}
  ) {
    const dht = components.node.services.dht as KadDHT & Partial<KadInternals>
    if (
      typeof dht.protocol !== 'string' ||
      typeof dht.routingTable?.closestPeers !== 'function' ||
      typeof dht.providers?.addProvider !== 'function'
    ) {
      throw new DhtInternalsError(
        'kad-dht lacks protocol, routingTable.closestPeers or providers.addProvider'
      )
    }
    this.dht = dht as KadDHT & KadInternals
    this.protocol = this.dht.protocol
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
    const plan = planSweep(keys, {
      k: this.dht.k ?? DHT_K,
      self: this.components.node.peerId.toString(),
      walk: (target) => this.walk(target, options.signal),
      routingClosest: (kadId, count) =>
        this.dht.routingTable.closestPeers(kadId, { count }).map((id) => ({ id, kadId: this.peerKadId(id) }))
    })
    for await (const { walked, served } of plan) {
      options.signal?.throwIfAborted()
      log('walk found %d peers; it serves %d keys', walked, served.length)
      await this.sendRecords(served, acks, options.signal)
    }
    return acks
  }

  /** The closest peers to the key that answered a walk, closest first, and whether the walk ran to its end. */
  private async walk(
    target: Key,
    signal: AbortSignal | undefined
  ): Promise<{ peers: Candidate[]; complete: boolean }> {
    this.stats.walks++
    const found: Candidate[] = []
    let complete = false
    try {
      for await (const ev of this.dht.getClosestPeers(target.cid.multihash.bytes, {
        signal: deadline(this.init.walkTimeoutMs ?? ANNOUNCE_WALK_TIMEOUT_MS, signal)
      })) {
        if (ev.name === 'FINAL_PEER') found.push({ id: ev.peer.id, kadId: this.peerKadId(ev.peer.id) })
      }
      complete = true
    } catch (err) {
      signal?.throwIfAborted()
      this.stats.walksCutShort++
      log('walk cut short after %d peers: %s', found.length, (err as Error).message)
    }
    found.sort((a, b) => compareDistance(target.kadId, a.kadId, b.kadId))
    return { peers: found, complete }
  }

  private async sendRecords(
    served: ReadonlyArray<{ readonly key: Key; readonly closest: readonly Candidate[] }>,
    acks: Map<string, number>,
    signal: AbortSignal | undefined
  ): Promise<void> {
    const self = this.components.node.peerId
    const provider = encodePeerInfo(
      self.toMultihash().bytes,
      this.components.node.getMultiaddrs().map((m) => m.bytes)
    )
    // The ADD_PROVIDER messages each peer gets, as encoded frames, and the CIDs they announce.
    const perPeer = new Map<string, { id: PeerId; frames: Uint8Array[]; cids: string[] }>()
    for (const { key, closest } of served) {
      signal?.throwIfAborted()
      await this.dht.providers.addProvider(key.cid, self)
      const frame = encodeAddProvider(key.cid.multihash.bytes, provider)
      const cid = key.cid.toString()
      for (const peer of closest) {
        const id = peer.id.toString()
        let entry = perPeer.get(id)
        if (entry === undefined) {
          entry = { id: peer.id, frames: [], cids: [] }
          perPeer.set(id, entry)
        }
        entry.frames.push(frame)
        entry.cids.push(cid)
      }
    }
    // One stream per peer carries all its messages (kad-dht's handler reads messages until the stream ends).
    const limit = new Limit(this.init.streamConcurrency ?? ANNOUNCE_STREAM_CONCURRENCY)
    await Promise.all(
      [...perPeer.values()].map(async (p) => {
        await limit.acquire()
        try {
          this.stats.messages += p.frames.length
          if (await this.sendAll(p.id, p.frames, signal)) {
            this.stats.acks += p.frames.length
            for (const cid of p.cids) acks.set(cid, (acks.get(cid) ?? 0) + 1)
          } else {
            this.stats.errors += p.frames.length
          }
        } finally {
          limit.release()
        }
      })
    )
  }

  /**
   * Write every frame on one DHT stream, then a PING, and wait for the PING's echo: kad-dht's handler handles
   * the messages of a stream one after another, so the echo means every ADD_PROVIDER before it was stored. A
   * reset, an error or a timeout acknowledges none.
   */
  private async sendAll(
    peer: PeerId,
    frames: Uint8Array[],
    signal: AbortSignal | undefined
  ): Promise<boolean> {
    const s = deadline(this.init.streamTimeoutMs ?? ANNOUNCE_STREAM_TIMEOUT_MS, signal)
    let stream: Stream | undefined
    const onAbort = (): void => stream?.abort(new Error('announce stream timed out'))
    s.addEventListener('abort', onAbort, { once: true })
    try {
      stream = await this.components.node.dialProtocol(peer, this.protocol, { signal: s })
      for (let i = 0; i < frames.length; i += FRAMES_PER_SEND) {
        const batch = concat(frames.slice(i, i + FRAMES_PER_SEND))
        if (!stream.send(batch)) await stream.onDrain({ signal: s })
      }
      stream.send(PING_FRAME)
      const reply = await stream[Symbol.asyncIterator]().next()
      if (reply.done === true) return false
      await stream.close({ signal: s }).catch((err: Error) => stream?.abort(err))
      return true
    } catch (err) {
      log('ADD_PROVIDER stream to %s failed: %s', peer.toString(), (err as Error).message)
      stream?.abort(err as Error)
      return false
    } finally {
      s.removeEventListener('abort', onAbort)
    }
  }
}
