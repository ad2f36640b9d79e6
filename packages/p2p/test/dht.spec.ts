import assert from 'node:assert/strict'
import { waitFor } from '../../../test/util/index.js'
import { Announcer, findProviders, type NarthexNode } from '../src/index.js'
import { loopbackNode, pseudoRandomBytes, rawCid } from './util.js'

/** A DHT of `n` server nodes on loopback, all bootstrapped from the first. */
export async function dhtNetwork(n: number): Promise<NarthexNode[]> {
  const first = await loopbackNode({ dhtServer: true })
  const boot = first.getMultiaddrs().map((m) => m.toString())
  const rest = await Promise.all(
    Array.from({ length: n - 1 }, () => loopbackNode({ dhtServer: true, bootstrap: boot }))
  )
  const all = [first, ...rest]
  const size = (node: NarthexNode) =>
    (node.services.dht as unknown as { routingTable: { size: number } }).routingTable.size
  await waitFor('routing tables', () => all.every((node) => size(node) >= 1), 15_000)
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

    // A node that is not connected to the seeder finds it through the DHT.
    const finder = nodes[6]!
    await finder.hangUp(seeder.peerId).catch(() => {})
    const found: string[] = []
    for await (const p of findProviders(finder, cids[17]!, { timeoutMs: 10_000 })) {
      found.push(p.toString())
      if (p.equals(seeder.peerId)) break
    }
    assert.ok(found.includes(seeder.peerId.toString()), `providers found: ${found.join(', ')}`)

    // Withdrawn NARs are no longer re-announced.
    await announcer.withdraw(cids[0]!)
    assert.equal(announcer.holds(cids[0]!), false)
    assert.equal(announcer.stats.held, 29)
    announcer.stop()
  })
})
