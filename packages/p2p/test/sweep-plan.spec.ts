import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { compareDistance, sharedPrefixBits } from '../src/key-space.js'
import { type PlanPeer, planSweep, type SweepPlanInit } from '../src/sweep-plan.js'

/** A deterministic Kademlia id. */
function id(label: string): Uint8Array {
  return createHash('sha256').update(label).digest()
}

function peers(n: number, seed: string): PlanPeer[] {
  return Array.from({ length: n }, (_, i) => ({ id: `${seed}-${i}`, kadId: id(`${seed}-${i}`) }))
}

function closest<T extends { kadId: Uint8Array }>(all: readonly T[], target: Uint8Array, k: number): T[] {
  return [...all].sort((a, b) => compareDistance(target, a.kadId, b.kadId)).slice(0, k)
}

/**
 * A simulated DHT as seen by `self`: walks find exactly the k closest peers (a converged network), and the
 * routing table holds, for each number of leading bits shared with self, the first k peers sharing that many.
 */
function simulated(network: readonly PlanPeer[], self: PlanPeer, k: number, walkPeers = k) {
  const others = network.filter((p) => p !== self)
  const buckets = new Map<number, PlanPeer[]>()
  for (const p of others) {
    const b = sharedPrefixBits(self.kadId, p.kadId)
    const bucket = buckets.get(b) ?? []
    if (bucket.length < k) bucket.push(p)
    buckets.set(b, bucket)
  }
  const table = [...buckets.values()].flat()
  let walks = 0
  const init: SweepPlanInit<{ kadId: Uint8Array; name: string }, PlanPeer> = {
    k,
    self: String(self.id),
    walk: async (target) => {
      walks++
      const found = closest(others, target.kadId, walkPeers)
      return { peers: found, complete: walkPeers >= k || found.length < walkPeers }
    },
    routingClosest: (kadId, count) => closest(table, kadId, count)
  }
  return { init, others, table, walks: () => walks }
}

describe('sweep plan on a simulated key space', () => {
  it("gives every key's record to exactly its k closest peers, with far fewer walks than keys", async () => {
    const k = 20
    const network = peers(2000, 'peer')
    const self = network[0]!
    const sim = simulated(network, self, k)
    const keys = Array.from({ length: 1024 }, (_, i) => ({ kadId: id(`nar-${i}`), name: `nar-${i}` }))
    const seen = new Set<string>()
    for await (const step of planSweep(keys, sim.init)) {
      for (const { key, closest: got } of step.served) {
        assert.equal(seen.has(key.name), false, `${key.name} served twice`)
        seen.add(key.name)
        assert.deepEqual(
          got.map((p) => p.id),
          closest(sim.others, key.kadId, k).map((p) => p.id),
          `${key.name} sent to its ${k} closest peers`
        )
      }
    }
    assert.equal(seen.size, keys.length)
    // The routing table alone knows a fraction of the network: the walks did the work.
    assert.ok(sim.table.length < network.length / 4, `${sim.table.length} peers in the routing table`)
    console.log(`      1024 keys, 2000 peers, k = 20: ${sim.walks()} walks`)
    assert.ok(sim.walks() < keys.length / 2, `${sim.walks()} walks`)
  })

  it('serves every key after one walk when the network is smaller than k', async () => {
    const network = peers(12, 'small')
    const sim = simulated(network, network[0]!, 20)
    const keys = Array.from({ length: 50 }, (_, i) => ({ kadId: id(`s-${i}`), name: `s-${i}` }))
    const steps = []
    for await (const step of planSweep(keys, sim.init)) steps.push(step)
    assert.equal(steps.length, 1)
    assert.equal(steps[0]!.served.length, 50)
    for (const { closest: got } of steps[0]!.served) assert.equal(got.length, 11)
  })

  it('serves only its own key after a walk cut short', async () => {
    const network = peers(300, 'cut')
    const sim = simulated(network, network[0]!, 20, 5)
    const keys = Array.from({ length: 30 }, (_, i) => ({ kadId: id(`c-${i}`), name: `c-${i}` }))
    let steps = 0
    for await (const step of planSweep(keys, sim.init)) {
      steps++
      assert.equal(step.served.length, 1)
    }
    assert.equal(steps, 30)
  })
})
