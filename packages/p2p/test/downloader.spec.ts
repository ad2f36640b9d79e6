import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { multiaddr } from '@multiformats/multiaddr'
import { narCidFromNarHash } from '@narthex/content'
import { waitFor } from '../../../test/util/index.js'
import {
  downloadNar,
  FetchServer,
  NarDownload,
  type NarthexNode,
  PeerScores,
  PeerSession
} from '../src/index.js'
import { collect, loopbackNode, MemoryStore, pseudoRandomBytes, same, seedBlob } from './util.js'

/** A seeder in a process of its own (bench/p2p/seeder-process.ts), for the test that pauses it. */
const SEEDER_PROCESS = new URL('../../../bench/p2p/seeder-process.ts', import.meta.url)

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

  /** A fresh node, connected to each of `seeds`. */
  async function clientOf(seeds: NarthexNode[]): Promise<NarthexNode> {
    const client = await loopbackNode()
    nodes.push(client)
    for (const s of seeds) await client.dial(s.getMultiaddrs()[0]!)
    return client
  }

  it('downloads a NAR bit-exact from three connected seeders, with a trusted root', async () => {
    const nar = pseudoRandomBytes(5 * 1024 * 1024 + 123, 7)
    const stores = [new MemoryStore(), new MemoryStore(), new MemoryStore()]
    const ingest = await seedBlob(nar, stores)
    const seeds = await seeders(3, stores)
    const client = await clientOf(seeds)
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

  it('asks the DHT only when no connected peer has the NAR, or once the download has run for dhtDeferMs', async () => {
    const stores = [new MemoryStore()]
    const bytes = pseudoRandomBytes(200_000, 21)
    const small = await seedBlob(bytes, stores)
    const large = await seedBlob(pseudoRandomBytes(8 * 1024 * 1024, 23), stores)
    const [seed] = await seeders(1, stores)
    const client = await clientOf([seed!])
    const dht = client.services.dht
    const findProviders = dht.findProviders.bind(dht)
    let queries = 0
    dht.findProviders = (...args: Parameters<typeof findProviders>) => {
      queries++
      return findProviders(...args)
    }
    // The connected seeder has it: done long before the default deferral, no DHT query.
    const sink = () => new MemoryStore()
    assert.ok(same(await collect(downloadNar({ node: client, sink: sink() }, small.narHash)), bytes))
    assert.equal(queries, 0)
    // With no deferral the DHT is asked for more providers while the connected seeder serves (8 MiB take longer
    // than a 0 ms timer).
    const dl = new NarDownload({ node: client, sink: sink() }, large.narHash, { dhtDeferMs: 0 })
    await collect(dl.bytes())
    assert.equal(queries, 1)
    // Nobody connected has this one: the DHT is asked at once (and has nobody either).
    const orphan = await seedBlob(pseudoRandomBytes(1000, 22), [new MemoryStore()])
    await assert.rejects(
      collect(downloadNar({ node: client, sink: sink() }, orphan.narHash, { providers: { timeoutMs: 500 } })),
      { name: 'NoProvidersError' }
    )
    assert.equal(queries, 2)
  })

  it('probes one connected peer for a NAR known to be small, every connected one otherwise', async () => {
    const bytes = pseudoRandomBytes(300_000, 24)
    const stores = [new MemoryStore(), new MemoryStore(), new MemoryStore()]
    const ingest = await seedBlob(bytes, stores)
    const seeds = await seeders(3, stores)
    const client = await clientOf(seeds)
    const open = PeerSession.open
    let probes = 0
    PeerSession.open = (...args: Parameters<typeof open>) => {
      probes++
      return open(...args)
    }
    try {
      const small = new NarDownload({ node: client, sink: new MemoryStore() }, ingest.narHash, {
        narSize: bytes.length
      })
      assert.ok(same(await collect(small.bytes()), bytes))
      assert.equal(probes, 1)
      assert.equal(small.stats.peersUsed, 1)
      // Discovery, which waited for room for a second peer, ends with the download (it held the download).
      const internals = small as unknown as { discoveryDone: boolean }
      await waitFor('discovery to end', () => internals.discoveryDone, 2000)
      probes = 0
      const unknown = new NarDownload({ node: client, sink: new MemoryStore() }, ingest.narHash)
      assert.ok(same(await collect(unknown.bytes()), bytes))
      assert.equal(probes, 3)
    } finally {
      PeerSession.open = open
    }
  })

  it('resumes: chunks already in the sink are not fetched again', async () => {
    const nar = pseudoRandomBytes(2 * 1024 * 1024, 9)
    const stores = [new MemoryStore()]
    const ingest = await seedBlob(nar, stores)
    const [seed] = await seeders(1, stores)
    const client = await clientOf([seed!])
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

  it('does not blame a peer for a pause of its own process (a blocked event loop is not a stall)', async () => {
    const nar = pseudoRandomBytes(8 * 1024 * 1024, 10)
    const stores = [new MemoryStore()]
    const ingest = await seedBlob(nar, stores)
    const [seed] = await seeders(1, stores)
    const client = await clientOf([seed!])
    const scores = new PeerScores()
    const stallTimeoutMs = 300
    const dl = new NarDownload({ node: client, sink: new MemoryStore(), scores }, ingest.narHash, {
      manifestRoot: ingest.root,
      stallTimeoutMs,
      // only what is asked of the seeder is in flight when the process pauses
      maxAheadBytes: 1024 * 1024
    })
    const got: Uint8Array[] = []
    for await (const b of dl.bytes()) {
      if (got.length === 0) {
        // a long GC, a swapped-out process, a suspended VM: nothing in this process runs, the seeder's data waits
        // in the socket, and the stall watchdog runs before the data is read
        const until = Date.now() + 2 * stallTimeoutMs
        while (Date.now() < until) {}
      }
      got.push(b)
    }
    assert.ok(same(Buffer.concat(got), nar))
    assert.equal(dl.stats.stalls, 0)
    assert.equal(scores.score(seed!.peerId), 0)
  })

  it('asks a dropped peer again when discovery ends with no one else left (a seeder process paused and resumed)', async () => {
    // A real stall: the seeder process is stopped (SIGSTOP) for longer than the stall timeout, and the download
    // drops it while the DHT is still being asked. When that query ends with no provider, the dropped peer is
    // asked again; the download used to wait here until its caller gave up.
    const dir = await mkdtemp(join(tmpdir(), 'narthex-dl-pause-'))
    const file = join(dir, 'nar')
    const nar = pseudoRandomBytes(8 * 1024 * 1024, 11)
    await writeFile(file, nar)
    const seeder = spawn(
      process.execPath,
      ['--import', 'tsx', '--conditions', 'source', fileURLToPath(SEEDER_PROCESS), 'libp2p', file],
      { stdio: ['pipe', 'pipe', 'inherit'] }
    )
    try {
      const [line] = (await once(createInterface({ input: seeder.stdout! }), 'line')) as [string]
      const info = JSON.parse(line) as { multiaddr: string; narHash: string; root: string }
      const client = await loopbackNode()
      nodes.push(client)
      await client.dial(multiaddr(info.multiaddr))
      const stallTimeoutMs = 300
      const dl = new NarDownload({ node: client, sink: new MemoryStore() }, info.narHash, {
        manifestRoot: info.root,
        stallTimeoutMs,
        maxAheadBytes: 1024 * 1024,
        providers: { timeoutMs: 1500 },
        signal: AbortSignal.timeout(20_000)
      })
      const got: Uint8Array[] = []
      for await (const b of dl.bytes()) {
        if (got.length === 0) {
          seeder.kill('SIGSTOP')
          setTimeout(() => seeder.kill('SIGCONT'), 4 * stallTimeoutMs)
        }
        got.push(b)
      }
      assert.ok(same(Buffer.concat(got), nar))
      assert.ok(dl.stats.stalls >= 1, 'the paused seeder was dropped as stalled')
    } finally {
      seeder.kill('SIGCONT')
      seeder.stdin!.end()
      await once(seeder, 'exit')
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('without a manifest root checks the NarHash at the end', async () => {
    const nar = pseudoRandomBytes(300_000, 11)
    const stores = [new MemoryStore()]
    const ingest = await seedBlob(nar, stores)
    const [seed] = await seeders(1, stores)
    const client = await clientOf([seed!])
    const got = await collect(downloadNar({ node: client, sink: new MemoryStore() }, ingest.narHash))
    assert.ok(same(got, nar))
  })

  it('fails with NoProvidersError when no peer has the NAR', async () => {
    const nar = pseudoRandomBytes(1000, 12)
    const stores = [new MemoryStore()]
    const ingest = await seedBlob(nar, [new MemoryStore()])
    const [seed] = await seeders(1, stores)
    const client = await clientOf([seed!])
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
