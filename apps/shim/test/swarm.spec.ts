/**
 * The shim fetching from the swarm for real: a seeder (chunk store + libp2p node on loopback + fetch server)
 * holds a NAR; the shim's own node is bootstrapped to it, the agreement record gives the manifest root, and the
 * NAR reaches the HTTP client byte-exact from the peer, with no upstream configured. Then it is in the shim's
 * store, ready to re-seed.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { chunkSourceFromStore, createNode, FetchServer, type NarthexNode } from '@narthex/p2p'
import { createStore, type Store } from '@narthex/store'
import { type CacheServer, startCacheServer } from '../../../test/util/cache-server.js'
import { collectGarbage, tempDir, waitFor } from '../../../test/util/index.js'
import { LOOKUP_TIMEOUT_MS } from '../src/constants.js'
import { createShim, type Shim, SwarmSource } from '../src/index.js'
import { fakePath, get } from './fixtures.js'

describe('shim fetching from the swarm', function () {
  this.timeout(60_000)
  let dir: { path: string; cleanup: () => Promise<void> }
  let orch: CacheServer
  let seederStore: Store
  let seeder: NarthexNode
  let server: FetchServer
  let shimStore: Store
  let node: NarthexNode
  let shim: Shim

  before(async () => {
    dir = await tempDir('narthex-shim-swarm-')
    orch = await startCacheServer()
    seederStore = createStore({ dir: join(dir.path, 'seeder'), fsync: false })
    await seederStore.start()
    seeder = await createNode({
      listen: ['/ip4/127.0.0.1/tcp/0'],
      allowPrivateAddresses: true,
      allow: ['/ip4/127.0.0.1']
    })
    server = new FetchServer({ node: seeder, source: chunkSourceFromStore(seederStore) })
    await server.start()
    shimStore = createStore({ dir: join(dir.path, 'shim', 'store'), fsync: false })
    await shimStore.start()
    node = await createNode({
      bootstrap: seeder.getMultiaddrs().map((a) => a.toString()),
      allowPrivateAddresses: true,
      allow: ['/ip4/127.0.0.1']
    })
    await waitFor('the bootstrap connection', () => node.getConnections().length > 0)
    shim = createShim({
      data: join(dir.path, 'shim'),
      listen: { host: '127.0.0.1', port: 0 },
      orchestrator: orch.url,
      store: shimStore,
      swarm: new SwarmSource({ node, store: shimStore }),
      prefetch: false
    })
    await shim.start()
  })

  after(async () => {
    await shim?.stop()
    await node?.stop()
    await server?.stop()
    await seeder?.stop()
    await shimStore?.stop()
    await seederStore?.stop()
    await orch?.close()
    await dir?.cleanup()
  })

  it('streams a NAR from a peer, checked against the agreed manifest root, and keeps it for re-seeding', async () => {
    const p = fakePath('from-peer', 3 * 1024 * 1024 + 5)
    const imported = await seederStore.importNar(
      (async function* () {
        yield p.bytes
      })(),
      { narinfo: p.narinfo }
    )
    orch.files.set(`/${p.hashPart}.narinfo`, p.narinfo)
    orch.files.set(
      `/api/v1/agreements/${p.hashPart}`,
      JSON.stringify({
        agreement: {
          outPath: p.storePath,
          narHash: p.narHash,
          narSize: p.bytes.length,
          manifestRoot: imported.root.toString()
        }
      })
    )
    const info = await get(shim.url, `/${p.hashPart}.narinfo`)
    assert.equal(info.status, 200)
    assert.equal(info.body.toString(), p.narinfo)
    const r = await get(shim.url, `/nar/${p.narKey}.nar`)
    assert.equal(r.status, 200)
    assert.ok(r.body.equals(p.bytes))
    assert.equal(shim.stats().nar.fetches, 1)
    await waitFor('the NAR in the shim store', () => shimStore.hasNar(p.narHash), 20_000)
    assert.ok(server.stats.chunksServed > 0)
  })

  it('answers 404 for an agreed path no peer has', async () => {
    const q = fakePath('nobody', 1000)
    orch.files.set(`/${q.hashPart}.narinfo`, q.narinfo)
    // The lookup waits for DHT peers until its deadline (the shim's routing table is empty here). A garbage
    // collection meanwhile must not lose the deadline: on Node 20 a timeout inside AbortSignal.any() is only weakly
    // held, and a CI run hung here for 60 s.
    const cached = shim.stats().cachedNarinfos
    const started = Date.now()
    const reply = get(shim.url, `/${q.hashPart}.narinfo`)
    // The narinfo is cached just before the swarm is asked; collect while the lookup waits.
    await waitFor('the narinfo from the orchestrator', () => shim.stats().cachedNarinfos > cached)
    await new Promise((resolve) => setImmediate(resolve))
    collectGarbage()
    assert.equal((await reply).status, 404)
    assert.ok(Date.now() - started < 3 * LOOKUP_TIMEOUT_MS, `404 after ${Date.now() - started} ms`)
  })
})
