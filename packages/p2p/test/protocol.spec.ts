import assert from 'node:assert/strict'
import type { CID } from 'multiformats/cid'
import type { Uint8ArrayList } from 'uint8arraylist'
import { SERVE_READ_GROUP_CHUNKS } from '../src/constants.js'
import { type ChunkSource, FetchServer, type NarthexNode, PeerSession } from '../src/index.js'
import { loopbackNode, MemoryStore, pseudoRandomBytes, rawCid, same } from './util.js'

describe('fetch protocol over loopback TCP', () => {
  let nodes: NarthexNode[] = []
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
  })

  /** A server node for `source` and a session to it from a second node. */
  async function serve(source: ChunkSource): Promise<{ server: FetchServer; session: PeerSession }> {
    const a = await loopbackNode()
    const b = await loopbackNode()
    nodes.push(a, b)
    const server = new FetchServer({ node: a, source })
    await server.start()
    await b.dial(a.getMultiaddrs()[0]!)
    return { server, session: await PeerSession.open(b, a.peerId) }
  }

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

    const { server, session } = await serve(store)
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

  it('reads chunks from a source with getChunks a bounded group at a time, and replies in request order', async () => {
    class GroupStore extends MemoryStore {
      readonly groups: Array<{ asked: number; bytes: number; answered: number }> = []
      override async getChunk(): Promise<Uint8Array | undefined> {
        throw new Error('getChunk must not be called when getChunks exists')
      }
      async getChunks(
        cids: readonly CID[],
        opts: { maxBytes: number }
      ): Promise<Array<Uint8Array | undefined>> {
        const out: Array<Uint8Array | undefined> = []
        let bytes = 0
        for (const cid of cids) {
          const b = this.chunks.get(cid.toString())
          if (out.length > 0 && bytes + (b?.byteLength ?? 0) > opts.maxBytes) break
          out.push(b)
          bytes += b?.byteLength ?? 0
        }
        this.groups.push({ asked: cids.length, bytes, answered: out.length })
        return out
      }
    }
    const store = new GroupStore()
    const n = 2 * SERVE_READ_GROUP_CHUNKS + 3
    // Small chunks, and a run of large ones that do not fit a group together.
    const size = (i: number) => (i >= 20 && i < 24 ? 400_000 : 1000 + i)
    const chunks = Array.from({ length: n }, (_, i) => pseudoRandomBytes(size(i), i + 1))
    const cids = chunks.map((c) => rawCid(c))
    // Every fifth chunk is not held.
    chunks.forEach((c, i) => {
      if (i % 5 !== 4) store.chunks.set(cids[i]!.toString(), c)
    })
    const { server, session } = await serve(store)
    const got: Array<Uint8Array | undefined> = []
    await session.getChunks(cids, (i, bytes) => {
      assert.equal(i, got.length)
      got.push(bytes?.subarray())
    })
    await session.close()
    got.forEach((bytes, i) => {
      if (i % 5 === 4) assert.equal(bytes, undefined, `chunk ${i}`)
      else assert.ok(same(bytes, chunks[i]), `chunk ${i}`)
    })
    assert.equal(got.length, n)
    assert.equal(server.stats.notFound, Math.floor(n / 5))
    assert.equal(server.stats.chunksServed, n - Math.floor(n / 5))
    // Each group asked for at most SERVE_READ_GROUP_CHUNKS, started where the last one ended, and was cut short
    // only by the byte bound.
    assert.equal(
      store.groups.reduce((sum, g) => sum + g.answered, 0),
      n
    )
    assert.ok(store.groups.every((g) => g.asked <= SERVE_READ_GROUP_CHUNKS))
    assert.ok(
      store.groups.some((g) => g.answered < g.asked),
      'the large chunks split a group'
    )
    assert.equal(store.groups[0]!.answered, SERVE_READ_GROUP_CHUNKS)
  })
})
