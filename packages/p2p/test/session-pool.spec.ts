import assert from 'node:assert/strict'
import {
  FetchServer,
  NarDownload,
  type NarthexNode,
  PeerScores,
  PeerSession,
  SessionPool
} from '../src/index.js'
import { collect, loopbackNode, MemoryStore, pseudoRandomBytes, same, seedBlob } from './util.js'

describe('fetch sessions kept between downloads (SessionPool)', () => {
  let nodes: NarthexNode[] = []
  let pools: SessionPool[] = []
  afterEach(async () => {
    await Promise.all(pools.map((p) => p.stop()))
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
    pools = []
  })

  /** A seeder holding `nars` (sizes; pseudo-random contents) and a client connected to it. */
  async function network(sizes: number[], serverInit: { idleTimeoutMs?: number } = {}) {
    const store = new MemoryStore()
    const nars = []
    for (const [i, size] of sizes.entries()) {
      const bytes = pseudoRandomBytes(size, 700 + i)
      nars.push({ bytes, ingest: await seedBlob(bytes, [store]) })
    }
    const seeder = await loopbackNode()
    const client = await loopbackNode()
    nodes.push(seeder, client)
    const server = new FetchServer({ node: seeder, source: store }, serverInit)
    await server.start()
    await client.dial(seeder.getMultiaddrs()[0]!)
    return { seeder, client, server, nars }
  }

  function pool(init: ConstructorParameters<typeof SessionPool>[0] = {}): SessionPool {
    const p = new SessionPool(init)
    pools.push(p)
    return p
  }

  const download = (
    client: NarthexNode,
    nar: { ingest: { narHash: string; root: unknown; narSize: number } },
    extra: { sessions?: SessionPool; scores?: PeerScores; signal?: AbortSignal } = {}
  ) =>
    new NarDownload(
      {
        node: client,
        sink: new MemoryStore(),
        ...(extra.sessions ? { sessions: extra.sessions } : {}),
        ...(extra.scores ? { scores: extra.scores } : {})
      },
      nar.ingest.narHash,
      {
        manifestRoot: nar.ingest.root as string,
        narSize: nar.ingest.narSize,
        providers: { connectedOnly: true },
        ...(extra.signal ? { signal: extra.signal } : {})
      }
    )

  it('runs a series of downloads from one peer on one stream, bit-exact', async () => {
    const { client, server, nars } = await network([300, 5_000, 200_000, 1_500_000, 700])
    const sessions = pool()
    for (const nar of nars)
      assert.ok(same(await collect(download(client, nar, { sessions }).bytes()), nar.bytes))
    assert.equal(server.stats.streams, 1, 'one fetch stream for five downloads')
    assert.equal(sessions.reused, nars.length - 1)
    assert.equal(sessions.idle, 1)
    // Without a pool: a stream per download, as before.
    for (const nar of nars) assert.ok(same(await collect(download(client, nar).bytes()), nar.bytes))
    assert.equal(server.stats.streams, 1 + nars.length)
  })

  it('asks again on a new stream, blaming nobody, when the peer closed a kept session', async () => {
    const { client, seeder, server, nars } = await network([400, 900], { idleTimeoutMs: 150 })
    const sessions = pool({ idleTimeoutMs: 60_000 })
    const scores = new PeerScores()
    assert.ok(same(await collect(download(client, nars[0]!, { sessions, scores }).bytes()), nars[0]!.bytes))
    assert.equal(sessions.idle, 1)
    // The server's idle timer closes the kept stream; the pool does not know yet.
    const t = Date.now()
    while (server.stats.activeStreams > 0 && Date.now() - t < 5000)
      await new Promise((r) => setTimeout(r, 20))
    assert.equal(server.stats.activeStreams, 0)
    const dl = download(client, nars[1]!, { sessions, scores })
    assert.ok(same(await collect(dl.bytes()), nars[1]!.bytes))
    assert.equal(scores.score(seeder.peerId.toString()), new PeerScores().score(seeder.peerId.toString()))
    assert.equal(dl.stats.resets + dl.stats.stalls, 0)
    assert.equal(server.stats.streams, 2)
  })

  it('asks again on a new stream when a kept session fails under its first request', async () => {
    const { client, seeder, server, nars } = await network([400, 900])
    const sessions = pool()
    const scores = new PeerScores()
    assert.ok(same(await collect(download(client, nars[0]!, { sessions, scores }).bytes()), nars[0]!.bytes))
    assert.equal(sessions.idle, 1)
    // The server resets its end; in this same turn of the event loop the client cannot have heard of it yet, so
    // the next download takes the kept session as usable and its HAVE meets the reset.
    for (const stream of (server as unknown as { active: Set<{ abort(err: Error): void }> }).active)
      stream.abort(new Error('server gave the stream up'))
    const dl = download(client, nars[1]!, { sessions, scores })
    assert.ok(same(await collect(dl.bytes()), nars[1]!.bytes))
    assert.equal(sessions.reused, 1, 'the kept session was taken')
    assert.equal(server.stats.streams, 2, 'and the HAVE asked again on a new stream')
    assert.equal(scores.score(seeder.peerId.toString()), new PeerScores().score(seeder.peerId.toString()))
    assert.equal(dl.stats.resets + dl.stats.stalls, 0)
  })

  it('does not keep a session whose replies were not all read', async () => {
    const { client, nars } = await network([8 * 1024 * 1024])
    const sessions = pool()
    const controller = new AbortController()
    const dl = download(client, nars[0]!, { sessions, signal: controller.signal })
    let got = 0
    await assert.rejects(async () => {
      for await (const piece of dl.bytes()) {
        got += piece.byteLength
        // Chunks are still on their way: stop in the middle.
        if (got > 0) controller.abort(new Error('enough'))
      }
    })
    assert.equal(sessions.idle, 0, 'an out-of-step session is closed, not kept')
  })

  it('keeps at most maxIdlePerPeer sessions and closes them after idleTimeoutMs', async () => {
    const { client, seeder, server } = await network([100])
    const sessions = pool({ maxIdlePerPeer: 2, idleTimeoutMs: 200 })
    const opened = await Promise.all([1, 2, 3].map(() => PeerSession.open(client, seeder.peerId)))
    for (const s of opened) sessions.release(s)
    assert.equal(sessions.idle, 2)
    const t = Date.now()
    while (sessions.idle > 0 && Date.now() - t < 5000) await new Promise((r) => setTimeout(r, 20))
    assert.equal(sessions.idle, 0)
    assert.ok(Date.now() - t >= 150, 'not before the idle time')
    while (server.stats.activeStreams > 0 && Date.now() - t < 5000)
      await new Promise((r) => setTimeout(r, 20))
    assert.equal(server.stats.activeStreams, 0, 'the server sees the streams closed')
    assert.equal(sessions.take(seeder.peerId), undefined)
  })

  it('closes what is released after stop', async () => {
    const { client, seeder } = await network([100])
    const sessions = pool()
    const s = await PeerSession.open(client, seeder.peerId)
    await sessions.stop()
    sessions.release(s)
    assert.equal(sessions.idle, 0)
    assert.equal(s.reusable, false)
  })
})
