import assert from 'node:assert/strict'
import { narCidFromNarHash } from '@narthex/content'
import { downloadNar, FetchServer, NarDownload, type NarthexNode, PeerScores } from '../src/index.js'
import { collect, loopbackNode, MemoryStore, pseudoRandomBytes, same, seedBlob } from './util.js'

describe('swarm downloader (in-process nodes on loopback)', function () {
  this.timeout(60_000)
  let nodes: NarthexNode[] = []
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
  })

  async function seeders(n: number, stores: MemoryStore[]): Promise<NarthexNode[]> {
    const out: NarthexNode[] = []
    for (let i = 0; i < n; i++) {
      const node = await loopbackNode()
      nodes.push(node)
      await new FetchServer({ node, source: stores[i]! }).start()
      out.push(node)
    }
    return out
  }

  it('downloads a NAR bit-exact from three connected seeders, with a trusted root', async () => {
    const nar = pseudoRandomBytes(5 * 1024 * 1024 + 123, 7)
    const stores = [new MemoryStore(), new MemoryStore(), new MemoryStore()]
    const ingest = await seedBlob(nar, stores)
    const seeds = await seeders(3, stores)
    const client = await loopbackNode()
    nodes.push(client)
    for (const s of seeds) await client.dial(s.getMultiaddrs()[0]!)
    const sink = new MemoryStore()
    const dl = new NarDownload({ node: client, sink }, ingest.narHash, {
      manifestRoot: ingest.root,
      requestBatchBytes: 256 * 1024
    })
    const got = await collect(dl.bytes())
    assert.ok(same(got, nar))
    assert.equal(dl.stats.badChunks, 0)
    assert.equal(dl.stats.peersUsed, 3)
    assert.ok(Object.keys(dl.stats.bytesByPeer).length >= 2, 'chunks came from several peers')
    assert.ok(await sink.hasNar(narCidFromNarHash(ingest.narHash)), 'committed to the sink')
  })

  it('resumes: chunks already in the sink are not fetched again', async () => {
    const nar = pseudoRandomBytes(2 * 1024 * 1024, 9)
    const stores = [new MemoryStore()]
    const ingest = await seedBlob(nar, stores)
    const [seed] = await seeders(1, stores)
    const client = await loopbackNode()
    nodes.push(client)
    await client.dial(seed!.getMultiaddrs()[0]!)
    const sink = new MemoryStore()
    // Half the chunks are already local (an earlier, interrupted download).
    const manifestChunks = ingest.manifest.chunks
    for (const c of manifestChunks.slice(0, Math.floor(manifestChunks.length / 2))) {
      sink.chunks.set(c.cid.toString(), stores[0]!.chunks.get(c.cid.toString())!)
    }
    const dl = new NarDownload({ node: client, sink }, ingest.narHash, { manifestRoot: ingest.root })
    const got = await collect(dl.bytes())
    assert.ok(same(got, nar))
    assert.equal(dl.stats.chunksLocal, Math.floor(manifestChunks.length / 2))
    assert.equal(dl.stats.chunksFetched, manifestChunks.length - dl.stats.chunksLocal)
  })

  it('without a manifest root checks the NarHash at the end', async () => {
    const nar = pseudoRandomBytes(300_000, 11)
    const stores = [new MemoryStore()]
    const ingest = await seedBlob(nar, stores)
    const [seed] = await seeders(1, stores)
    const client = await loopbackNode()
    nodes.push(client)
    await client.dial(seed!.getMultiaddrs()[0]!)
    const got = await collect(downloadNar({ node: client, sink: new MemoryStore() }, ingest.narHash))
    assert.ok(same(got, nar))
  })

  it('fails with NoProvidersError when no peer has the NAR', async () => {
    const nar = pseudoRandomBytes(1000, 12)
    const stores = [new MemoryStore()]
    const ingest = await seedBlob(nar, [new MemoryStore()])
    const [seed] = await seeders(1, stores)
    const client = await loopbackNode()
    nodes.push(client)
    await client.dial(seed!.getMultiaddrs()[0]!)
    const scores = new PeerScores()
    await assert.rejects(
      collect(
        downloadNar({ node: client, sink: new MemoryStore(), scores }, ingest.narHash, {
          providers: { connectedOnly: true }
        })
      ),
      { name: 'NoProvidersError' }
    )
    assert.equal(scores.banned().length, 0)
  })
})
