import assert from 'node:assert/strict'
import type { Uint8ArrayList } from 'uint8arraylist'
import { FetchServer, type NarthexNode, PeerSession } from '../src/index.js'
import { loopbackNode, MemoryStore, pseudoRandomBytes, rawCid, same } from './util.js'

describe('fetch protocol over loopback TCP', () => {
  let nodes: NarthexNode[] = []
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
  })

  it('answers HAVE, GET_MANIFEST and pipelined GET_CHUNKS in order', async () => {
    const store = new MemoryStore()
    const chunks = [1, 2, 3, 4, 5].map((i) => pseudoRandomBytes(100_000 + i * 7, i))
    const cids = chunks.map((c) => rawCid(c))
    chunks.forEach((c, i) => {
      store.chunks.set(cids[i]!.toString(), c)
    })
    const narCid = rawCid(pseudoRandomBytes(10, 99))
    store.manifests.set(narCid.toString(), Uint8Array.of(1, 2, 3))
    store.nars.add(narCid.toString())

    const a = await loopbackNode()
    const b = await loopbackNode()
    nodes.push(a, b)
    const server = new FetchServer({ node: a, source: store })
    await server.start()
    await b.dial(a.getMultiaddrs()[0]!)
    const session = await PeerSession.open(b, a.peerId)
    assert.equal(await session.have(narCid), true)
    assert.equal(await session.have(cids[0]!), false)
    assert.ok(same(await session.getManifest(narCid), Uint8Array.of(1, 2, 3)))
    assert.equal(await session.getManifest(cids[0]!), undefined)

    const got: Array<[number, number, Uint8Array | undefined]> = []
    const missing = rawCid(Uint8Array.of(7))
    const collect = (batch: number) => (i: number, bytes: Uint8ArrayList | undefined) => {
      got.push([batch, i, bytes?.subarray()])
    }
    await Promise.all([
      session.getChunks(cids.slice(0, 3), collect(0)),
      session.getChunks([cids[3]!, missing, cids[4]!], collect(1))
    ])
    assert.deepEqual(
      got.map(([b, i]) => [b, i]),
      [
        [0, 0],
        [0, 1],
        [0, 2],
        [1, 0],
        [1, 1],
        [1, 2]
      ]
    )
    assert.ok(same(got[0]![2], chunks[0]))
    assert.ok(same(got[3]![2], chunks[3]))
    assert.equal(got[4]![2], undefined)
    assert.ok(same(got[5]![2], chunks[4]))
    await session.close()
    assert.equal(server.stats.chunksServed, 5)
    assert.equal(server.stats.notFound, 2)
  })
})
