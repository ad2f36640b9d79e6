/**
 * Which peers get which provider records in a sweep, and which keys need a walk of their own (the reasoning is in
 * provider-sweep.ts). Pure: the DHT walk and the routing table come in as functions, so the rule can be tested on a
 * simulated key space of thousands of peers.
 */

import { compareDistance, KadIdSet, KeySpaceCover, xorDistance } from './key-space.js'

export interface PlanKey {
  readonly kadId: Uint8Array
}

export interface PlanPeer {
  readonly id: { toString(): string }
  readonly kadId: Uint8Array
}

export interface WalkResult<P extends PlanPeer> {
  /** The closest peers to the target that answered, closest first. */
  readonly peers: readonly P[]
  /** Whether the walk ran to its end (a walk cut short proves nothing about the peers it did not reach). */
  readonly complete: boolean
}

export interface SweepPlanInit<K extends PlanKey, P extends PlanPeer> {
  /** Kademlia's replication count: the records each key gets. */
  readonly k: number
  /** Our own peer id (as a string): never a candidate. */
  readonly self: string
  /** A DHT walk towards a key. */
  walk(target: K): Promise<WalkResult<P>>
  /** Up to `count` peers of our routing table closest to a Kademlia id. */
  routingClosest(kadId: Uint8Array, count: number): readonly P[]
}

export interface PlanStep<K, P> {
  /** How many peers the step's walk found. */
  readonly walked: number
  /** The keys served after this walk, each with the peers that get its record (closest first). */
  readonly served: ReadonlyArray<{ readonly key: K; readonly closest: readonly P[] }>
}

/**
 * Walk and assign, in Kademlia-id order of `keys`: each step walks towards the first key not yet served, then
 * serves it and every following key whose k closest peers the walks so far have proven.
 */
export async function* planSweep<K extends PlanKey, P extends PlanPeer>(
  keys: readonly K[],
  init: SweepPlanInit<K, P>
): AsyncGenerator<PlanStep<K, P>> {
  const { k } = init
  const sorted = [...keys].sort((a, b) => Buffer.compare(a.kadId, b.kadId))
  const cover = new KeySpaceCover()
  const known = new KadIdSet<P>()
  const closestTo = (key: K): P[] => {
    const candidates = new Map<string, P>()
    for (const p of known.closest(key.kadId, k + 1)) candidates.set(p.id.toString(), p)
    for (const p of init.routingClosest(key.kadId, k)) {
      if (!candidates.has(p.id.toString())) candidates.set(p.id.toString(), p)
    }
    candidates.delete(init.self)
    return [...candidates.values()].sort((a, b) => compareDistance(key.kadId, a.kadId, b.kadId)).slice(0, k)
  }
  for (let i = 0; i < sorted.length; ) {
    const target = sorted[i]!
    const walk = await init.walk(target)
    for (const peer of walk.peers) known.add(peer)
    if (walk.complete) {
      // Fewer than k found: the walk reached every DHT server there is.
      if (walk.peers.length < k) cover.coverAll()
      else cover.addBall(target.kadId, xorDistance(target.kadId, walk.peers[k - 1]!.kadId))
    }
    // The target is served whatever its walk proved: the closest peers known are the best there are.
    const served = [{ key: target, closest: closestTo(target) }]
    for (i++; i < sorted.length; i++) {
      const key = sorted[i]!
      const closest = closestTo(key)
      const proven =
        closest.length < k
          ? cover.coversAll()
          : cover.coversBall(key.kadId, xorDistance(key.kadId, closest[k - 1]!.kadId))
      if (!proven) break
      served.push({ key, closest })
    }
    yield { walked: walk.peers.length, served }
  }
}
