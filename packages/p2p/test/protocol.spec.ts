import assert from 'node:assert/strict'
import type { CID } from 'multiformats/cid'
import type { Uint8ArrayList } from 'uint8arraylist'
import { SERVE_READ_GROUP_CHUNKS } from '../src/constants.js'
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

  it('reads chunks from a source with getChunks a group at a time, and replies in request order', async () => {
    class GroupStore extends MemoryStore {
      readonly groups: number[] = []
      override async getChunk(): Promise<Uint8Array | undefined> {
        throw new Error('getChunk must not be called when getChunks exists')
      }
      async getChunks(cids: readonly CID[]): Promise<Array<Uint8Array | undefined>> {
        this.groups.push(cids.length)
        return cids.map((c) => this.chunks.get(c.toString()))
      }
    }
    const store = new GroupStore()
    const n = 2 * SERVE_READ_GROUP_CHUNKS + 3
    const chunks = Array.from({ length: n }, (_, i) => pseudoRandomBytes(1000 + i, i + 1))
    const cids = chunks.map((c) => rawCid(c))
    // Every fifth chunk is not held.
    chunks.forEach((c, i) => {
      if (i % 5 !== 4) store.chunks.set(cids[i]!.toString(), c)
    })
    const a = await loopbackNode()
    const b = await loopbackNode()
    nodes.push(a, b)
    const server = new FetchServer({ node: a, source: store })
    await server.start()
    await b.dial(a.getMultiaddrs()[0]!)
    const session = await PeerSession.open(b, a.peerId)
    const got: Array<Uint8Array | undefined> = []
    await session.getChunks(cids, (i, bytes) => {
      assert.equal(i, got.length)
      got.push(bytes?.subarray())
    })
    await session.close()
    assert.deepEqual(store.groups, [SERVE_READ_GROUP_CHUNKS, SERVE_READ_GROUP_CHUNKS, 3])
    got.forEach((bytes, i) => {
      if (i % 5 === 4) assert.equal(bytes, undefined, `chunk ${i}`)
      else assert.ok(same(bytes, chunks[i]), `chunk ${i}`)
    })
    assert.equal(server.stats.notFound, Math.floor(n / 5))
    assert.equal(server.stats.chunksServed, n - Math.floor(n / 5))
  })
})
