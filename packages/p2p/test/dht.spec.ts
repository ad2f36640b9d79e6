import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { waitFor } from '../../../test/util/index.js'
import { Announcer, DHT_K, findProviders, type NarthexNode, type NodeInit } from '../src/index.js'
import { sharedPrefixBits, xorDistance } from '../src/key-space.js'
import { ProviderSweep } from '../src/provider-sweep.js'
import { loopbackNode, pseudoRandomBytes, rawCid } from './util.js'

/** kad-dht's provider records (not in its public types). */
interface DhtProviders {
  readonly providers: { getProviders(cid: CID): Promise<PeerId[]> }
}

/** A node's routing table (kad-dht internals, not in its public types). */
function routingTable(node: NarthexNode): {
  closestPeers(kadId: Uint8Array, o: { count: number }): PeerId[]
} {
  return (node.services.dht as unknown as { routingTable: ReturnType<typeof routingTable> }).routingTable
}

function kadIdOf(node: NarthexNode): Uint8Array {
  return createHash('sha256').update(node.peerId.toMultihash().bytes).digest()
}

/**
 * Whether `node`'s routing table has converged, the condition under which lookups end at the true closest peers:
 * of the other nodes sharing exactly b leading bits with it, for every b, it knows min(k, how many there are).
 */
function converged(node: NarthexNode, all: readonly NarthexNode[], k: number): boolean {
  const self = kadIdOf(node)
  const known = new Set(routingTable(node).closestPeers(self, { count: all.length }).map(String))
  const groups = new Map<number, NarthexNode[]>()
  for (const other of all) {
    if (other === node) continue
    const b = sharedPrefixBits(self, kadIdOf(other))
    groups.set(b, [...(groups.get(b) ?? []), other])
  }
  for (const group of groups.values()) {
    const held = group.filter((o) => known.has(o.peerId.toString())).length
    if (held < Math.min(k, group.length)) return false
  }
  return true
}

/**
 * A DHT of `n` server nodes on loopback, every pair connected, waited on until every routing table has converged.
 * (Bootstrapping all from one node is not enough with a small k: the tables can settle into cliques that never
 * learn of each other, and every walk from one of them stays inside it.)
 */
export async function dhtNetwork(n: number, init: NodeInit = {}): Promise<NarthexNode[]> {
  const first = await loopbackNode({ dhtServer: true, ...init })
  const boot = first.getMultiaddrs().map((m) => m.toString())
  const rest = await Promise.all(
    Array.from({ length: n - 1 }, () => loopbackNode({ dhtServer: true, bootstrap: boot, ...init }))
  )
  const all = [first, ...rest]
  await Promise.all(all.flatMap((a, i) => all.slice(i + 1).map((b) => a.dial(b.getMultiaddrs()[0]!))))
  const k = init.dht?.kBucketSize ?? DHT_K
  const t0 = Date.now()
  await waitFor('routing tables converged', () => all.every((node) => converged(node, all, k)), 30_000)
  console.log(`      routing tables of ${n} nodes converged after ${Date.now() - t0} ms`)
  return all
}

describe('DHT announcing on loopback', function () {
  this.timeout(60_000)
  let nodes: NarthexNode[] = []
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
  })

  it('announces 30 NARs with acknowledgements and a fresh lookup finds the announcer', async () => {
    nodes = await dhtNetwork(8)
    const seeder = nodes[3]!
    const announcer = new Announcer({ node: seeder })
    const outcomes: boolean[] = []
    announcer.onOutcome((o) => outcomes.push(o.ok))
    announcer.start()
    const cids = Array.from({ length: 30 }, (_, i) => rawCid(pseudoRandomBytes(64, i + 1)))
    const t0 = Date.now()
    for (const cid of cids) announcer.announce(cid)
    await announcer.onIdle()
    const ms = Date.now() - t0
    console.log(
      `      announced ${cids.length} NARs in ${ms} ms (${(ms / cids.length).toFixed(1)} ms each), acks ${announcer.stats.acks}, retries ${announcer.stats.retries}`
    )
    assert.equal(announcer.stats.announced, 30)
    assert.equal(announcer.stats.failed, 0)
    assert.equal(outcomes.filter(Boolean).length, 30)

    // One sweep (and one more per retry): a walk finds every reachable server in a network smaller than k.
    assert.ok(announcer.sweep.stats.walks <= 3, `${announcer.sweep.stats.walks} walks`)
    // A fresh node that knows only the bootstrap node finds the seeder for random samples.
    const sample = [2, 9, 17, 23, 29].map((i) => cids[i]!)
    assert.equal(await freshLookups(nodes[0]!, seeder, sample), sample.length)

    // Withdrawn NARs are no longer re-announced.
    await announcer.withdraw(cids[0]!)
    assert.equal(announcer.holds(cids[0]!), false)
    assert.equal(announcer.stats.held, 29)
    announcer.stop()
  })

  /** A node that knows only the bootstrap node looks up `cids`: how many name `seeder`. */
  async function freshLookups(boot: NarthexNode, seeder: NarthexNode, cids: CID[], init: NodeInit = {}) {
    const fresh = await loopbackNode({ bootstrap: [boot.getMultiaddrs()[0]!.toString()], ...init })
    nodes.push(fresh)
    await waitFor('fresh node connected', () => fresh.getConnections().length > 0)
    let found = 0
    for (const cid of cids) {
      for await (const p of findProviders(fresh, cid, { timeoutMs: 10_000 })) {
        if (p.equals(seeder.peerId)) {
          found++
          break
        }
      }
    }
    return found
  }

  it('shares walks across keys when the network is larger than k; each record lands on its k closest nodes', async () => {
    // k = 3 in a network of 10 makes the sweep split the key space into regions (one walk each) and send
    // each key's records to the 3 closest peers it knows, as it would with k = 20 in a network of hundreds.
    const init = { dht: { kBucketSize: 3 } }
    nodes = await dhtNetwork(10, init)
    const seeder = nodes[4]!
    const announcer = new Announcer({ node: seeder }, { minAcks: 2 })
    announcer.start()
    const cids = Array.from({ length: 40 }, (_, i) => rawCid(pseudoRandomBytes(64, 100 + i)))
    for (const cid of cids) announcer.announce(cid)
    await announcer.onIdle()
    const { walks, messages, errors } = announcer.sweep.stats
    console.log(`      40 NARs, k = 3, 10 nodes: ${walks} walks, ${messages} messages, ${errors} errors`)
    assert.equal(announcer.stats.failed, 0)
    assert.ok(walks > 1, 'the key space was split into regions')
    assert.ok(walks < 40, 'fewer walks than NARs')
    // Every NAR's record is on its 3 closest nodes of the whole network (the sweep knew only what its walks found).
    for (const cid of cids) {
      const key = createHash('sha256').update(cid.multihash.bytes).digest()
      const closest = nodes
        .filter((n) => n !== seeder)
        .map((n) => ({ n, d: Buffer.from(xorDistance(key, kadIdOf(n))) }))
        .sort((a, b) => Buffer.compare(a.d, b.d))
        .slice(0, 3)
      for (const { n } of closest) {
        const held = await (n.services.dht as unknown as DhtProviders).providers.getProviders(cid)
        assert.ok(
          held.some((p) => p.equals(seeder.peerId)),
          `${cid} on ${n.peerId} (one of its 3 closest nodes)`
        )
      }
    }
    // Random samples, looked up by a node that never talked to the seeder.
    const sample = [3, 11, 19, 27, 35].map((i) => cids[i]!)
    assert.equal(await freshLookups(nodes[0]!, seeder, sample, init), sample.length)
    announcer.stop()

    // Walks cut short by their deadline prove nothing about the key space: one walk per key, each key still
    // sent to the closest peers known.
    const hasty = new ProviderSweep({ node: nodes[6]! }, { walkTimeoutMs: 0 })
    const more = Array.from({ length: 8 }, (_, i) => rawCid(pseudoRandomBytes(64, 200 + i)))
    const acks = await hasty.provide(more)
    assert.equal(hasty.stats.walks, more.length)
    assert.equal(hasty.stats.walksCutShort, more.length)
    for (const cid of more) assert.ok((acks.get(cid.toString()) ?? 0) > 0, `${cid} acknowledged`)
  })
})
