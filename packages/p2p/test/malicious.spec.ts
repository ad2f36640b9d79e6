import assert from 'node:assert/strict'
import { encodeManifest, verifyChunk } from '@narthex/content'
import { CID } from 'multiformats/cid'
import { waitFor } from '../../../test/util/index.js'
import {
  MAX_CHUNK_REPEAT_FAILURES,
  MAX_INBOUND_FETCH_STREAMS_PER_CONNECTION,
  NAR_PROTOCOL
} from '../src/constants.js'
import { FetchServer, NarDownload, type NarthexNode, PeerScores } from '../src/index.js'
import { encodeRequest } from '../src/wire.js'
import { type Behaviour, type MaliciousStats, startMaliciousServer } from './malicious.js'
import { collect, loopbackNode, MemoryStore, pseudoRandomBytes, same, seedBlob } from './util.js'

describe('downloader against malicious seeders', function () {
  this.timeout(60_000)
  let nodes: NarthexNode[] = []
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
  })

  async function node(): Promise<NarthexNode> {
    const n = await loopbackNode()
    nodes.push(n)
    return n
  }

  /** Every chunk that reached the sink hashes to its CID. */
  function acceptedBad(sink: MemoryStore): number {
    let bad = 0
    for (const [key, bytes] of sink.chunks) {
      try {
        verifyChunk(CID.parse(key), bytes)
      } catch {
        bad++
      }
    }
    return bad
  }

  it('completes bit-exact from honest peers; bad chunks rejected, liars banned, honest never', async () => {
    const nar = pseudoRandomBytes(3 * 1024 * 1024 + 17, 21)
    const honestStores = [new MemoryStore(), new MemoryStore()]
    const evilStore = new MemoryStore()
    const ingest = await seedBlob(nar, [...honestStores, evilStore])
    const client = await node()
    const honest: string[] = []
    for (const s of honestStores) {
      const n = await node()
      await new FetchServer({ node: n, source: s }).start()
      honest.push(n.peerId.toString())
      await client.dial(n.getMultiaddrs()[0]!)
    }
    const behaviours: Behaviour[] = ['bitflip', 'truncate', 'stall', 'stall-mid-chunk', 'reset', 'oversize']
    const evil = new Map<string, { behaviour: Behaviour; stats: MaliciousStats }>()
    for (const b of behaviours) {
      const n = await node()
      evil.set(n.peerId.toString(), { behaviour: b, stats: await startMaliciousServer(n, evilStore, b) })
      await client.dial(n.getMultiaddrs()[0]!)
    }
    const sink = new MemoryStore()
    const scores = new PeerScores()
    const dl = new NarDownload({ node: client, sink, scores }, ingest.narHash, {
      manifestRoot: ingest.root,
      requestBatchBytes: 128 * 1024,
      stallTimeoutMs: 1500,
      maxPeers: 8
    })
    const got = await collect(dl.bytes())
    assert.ok(same(got, nar), 'bit-exact')
    const injected = [...evil.values()].reduce((n, e) => n + e.stats.injected, 0)
    const banned = scores.banned().map((b) => b.peer)
    const honestBanned = banned.filter((p) => honest.includes(p))
    const bitflipPeer = [...evil].find(([, e]) => e.behaviour === 'bitflip')![0]
    console.log(
      `      chunks injected ${injected}, detected ${dl.stats.badChunks}, accepted ${acceptedBad(sink)}; ` +
        `stalls ${dl.stats.stalls}, resets ${dl.stats.resets}, re-requests ${dl.stats.rerequests}; ` +
        `banned ${banned.length} (honest ${honestBanned.length})`
    )
    assert.equal(acceptedBad(sink), 0)
    assert.equal(dl.stats.badChunksAccepted, 0)
    assert.equal(honestBanned.length, 0)
    assert.ok(dl.stats.badChunks > 0, 'the bit-flipping peer was asked and caught')
    assert.ok(banned.includes(bitflipPeer), 'the bit-flipping peer is banned')
    // Stalls, truncation, resets and oversized frames are penalised, never banned.
    for (const [id, e] of evil)
      if (e.behaviour !== 'bitflip') assert.ok(!banned.includes(id), `${e.behaviour} banned`)
  })

  it('without a trusted root: a self-consistent wrong manifest is caught at the end and its peer banned', async () => {
    const nar = pseudoRandomBytes(600_000, 31)
    const other = pseudoRandomBytes(500_000, 32)
    const honestStore = new MemoryStore()
    const evilStore = new MemoryStore()
    const ingest = await seedBlob(nar, [honestStore])
    const otherIngest = await seedBlob(other, [evilStore])
    // The liar's manifest claims our NarHash but lists the chunks of another NAR it really holds.
    const fake = encodeManifest({ ...otherIngest.manifest, narHash: ingest.narHash })
    const client = await node()
    const liar = await node()
    await startMaliciousServer(liar, evilStore, 'wrong-manifest', { fakeManifest: fake })
    await client.dial(liar.getMultiaddrs()[0]!)
    const scores = new PeerScores()
    const sink = new MemoryStore()
    await assert.rejects(
      collect(
        new NarDownload({ node: client, sink, scores }, ingest.narHash, {
          providers: { connectedOnly: true }
        }).bytes()
      ),
      { name: 'NarHashMismatchError' }
    )
    assert.deepEqual(
      scores.banned().map((b) => b.peer),
      [liar.peerId.toString()]
    )
    assert.equal(sink.nars.size, 0, 'nothing committed')

    // Once an honest peer is there, the next attempt skips the banned liar and succeeds.
    const good = await node()
    await new FetchServer({ node: good, source: honestStore }).start()
    await client.dial(good.getMultiaddrs()[0]!)
    const dl = new NarDownload({ node: client, sink, scores }, ingest.narHash, {
      providers: { connectedOnly: true }
    })
    assert.ok(same(await collect(dl.bytes()), nar))
    assert.ok(!scores.isBanned(good.peerId))
  })

  it('with only misbehaving peers fails with DownloadFailedError naming each peer and what it did', async () => {
    const nar = pseudoRandomBytes(300_000, 51)
    const evilStore = new MemoryStore()
    const ingest = await seedBlob(nar, [evilStore])
    const client = await node()
    const evil = new Map<string, Behaviour>()
    for (const b of ['bitflip', 'reset'] as const) {
      const n = await node()
      await startMaliciousServer(n, evilStore, b)
      evil.set(n.peerId.toString(), b)
      await client.dial(n.getMultiaddrs()[0]!)
    }
    const dl = new NarDownload({ node: client, sink: new MemoryStore() }, ingest.narHash, {
      manifestRoot: ingest.root,
      providers: { connectedOnly: true }
    })
    const err = await collect(dl.bytes()).then(
      () => assert.fail('the download completed'),
      (e: Error) => e
    )
    assert.equal(err.name, 'DownloadFailedError')
    for (const [id, b] of evil) {
      const said = new RegExp(`${id}: ${b === 'bitflip' ? 'banned: bad chunk' : '.*reset'}`)
      assert.match(err.message, said, `the message names ${b} peer ${id} and what it did`)
    }
  })

  it('more misbehaving peers than MAX_CHUNK_REPEAT_FAILURES do not make it give up while an honest one is left', async () => {
    const nar = pseudoRandomBytes(20_000, 52) // one chunk: every misbehaving peer fails that same chunk
    const store = new MemoryStore()
    const ingest = await seedBlob(nar, [store])
    const client = await node()
    // connected first, so asked first: each takes the whole NAR and resets its stream
    for (let i = 0; i < MAX_CHUNK_REPEAT_FAILURES + 2; i++) {
      const n = await node()
      await startMaliciousServer(n, store, i % 2 === 0 ? 'reset' : 'truncate')
      await client.dial(n.getMultiaddrs()[0]!)
    }
    const honest = await node()
    await new FetchServer({ node: honest, source: store }).start()
    await client.dial(honest.getMultiaddrs()[0]!)
    const dl = new NarDownload({ node: client, sink: new MemoryStore() }, ingest.narHash, {
      manifestRoot: ingest.root,
      providers: { connectedOnly: true }
    })
    assert.ok(same(await collect(dl.bytes()), nar))
    assert.ok(
      dl.stats.resets >= MAX_CHUNK_REPEAT_FAILURES,
      `${dl.stats.resets} peers failed before the honest one`
    )
  })

  it('with a trusted root: a wrong manifest is refused before any chunk is fetched', async () => {
    const nar = pseudoRandomBytes(400_000, 41)
    const other = pseudoRandomBytes(400_000, 42)
    const honestStore = new MemoryStore()
    const evilStore = new MemoryStore()
    const ingest = await seedBlob(nar, [honestStore])
    const otherIngest = await seedBlob(other, [evilStore])
    const client = await node()
    const liar = await node()
    // A manifest of another NAR altogether (its own NarHash).
    await startMaliciousServer(liar, evilStore, 'wrong-manifest', { fakeManifest: otherIngest.manifestBytes })
    await client.dial(liar.getMultiaddrs()[0]!)
    const good = await node()
    await new FetchServer({ node: good, source: honestStore }).start()
    await client.dial(good.getMultiaddrs()[0]!)
    const scores = new PeerScores()
    const dl = new NarDownload({ node: client, sink: new MemoryStore(), scores }, ingest.narHash, {
      manifestRoot: ingest.root,
      providers: { connectedOnly: true }
    })
    assert.ok(same(await collect(dl.bytes()), nar))
    assert.ok(!scores.isBanned(good.peerId))
    assert.equal(dl.stats.bytesByPeer[liar.peerId.toString()], undefined, 'nothing fetched from the liar')
  })
  it('a flood of streams that never read leaves the seeder within its limits and serving honest peers', async () => {
    const nar = pseudoRandomBytes(12 * 1024 * 1024, 51)
    const store = new MemoryStore()
    const ingest = await seedBlob(nar, [store])
    const seeder = await node()
    const server = new FetchServer({ node: seeder, source: store }, { idleTimeoutMs: 2000 })
    await server.start()
    const flooder = await node()
    await flooder.dial(seeder.getMultiaddrs()[0]!)
    // Streams on one connection, each asking for every chunk and never reading a byte: first up to the
    // per-connection limit, then a burst of 84 more at once.
    const cids = ingest.manifest.chunks.map((c) => c.cid).slice(0, 256)
    let opened = 0
    let refused = 0
    const flood = async () => {
      try {
        const stream = await flooder.dialProtocol(seeder.peerId, NAR_PROTOCOL)
        stream.send(encodeRequest({ type: 'GET_CHUNKS', cids }))
        opened++
      } catch {
        refused++
      }
    }
    let peak = 0
    const sampler = setInterval(() => {
      peak = Math.max(peak, server.stats.activeStreams)
    }, 5)
    for (let i = 0; i < MAX_INBOUND_FETCH_STREAMS_PER_CONNECTION; i++) await flood()
    await Promise.all(Array.from({ length: 84 }, flood))
    // An honest client is served meanwhile.
    const client = await node()
    await client.dial(seeder.getMultiaddrs()[0]!)
    const dl = new NarDownload({ node: client, sink: new MemoryStore() }, ingest.narHash, {
      manifestRoot: ingest.root,
      providers: { connectedOnly: true }
    })
    assert.ok(same(await collect(dl.bytes()), nar))
    // The stuck streams are closed by the idle timeout.
    await waitFor('idle flood streams closed', () => server.stats.activeStreams === 0, 10_000)
    clearInterval(sampler)
    assert.ok(peak <= MAX_INBOUND_FETCH_STREAMS_PER_CONNECTION + 1, `peak ${peak} active streams`)
    console.log(
      `      flood: ${opened} streams opened and left unread, ${refused} refused at the limit; peak active streams ${peak}; honest download ok`
    )
    assert.ok(opened >= MAX_INBOUND_FETCH_STREAMS_PER_CONNECTION)
  })
})
