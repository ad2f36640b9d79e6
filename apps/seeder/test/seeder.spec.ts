/**
 * The seeder in-process, on loopback with real libp2p nodes, real stores on disk and real NARs: the publication
 * policy (trusted keys, an orchestrator over HTTP), the peer cap, the upload cap, metrics, the mirror, a clean
 * stop, and the configuration schema.
 */
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Stream } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { ingestNar } from '@narthex/content'
import { formatNarinfo, formatPublicKey, generateSecretKey, parseNarinfo, signNarinfo } from '@narthex/nix'
import { createNode, NAR_PROTOCOL, NarDownload, type NarthexNode } from '@narthex/p2p'
import { createStore } from '@narthex/store'
import { tempDir, waitFor } from '../../../test/util/index.js'
import {
  checkSeederConfig,
  createSeeder,
  mergeSeederConfig,
  requestStatus,
  type Seeder,
  type SeederInit,
  seederInitFromConfig
} from '../src/index.js'
import {
  BUSY,
  type CacheEntry,
  clientNode,
  HAVE_YES,
  haveFrame,
  LOOPBACK,
  makeCache,
  narCid
} from './helpers.js'

const KiB = 1024

async function collect(download: NarDownload): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const b of download.bytes()) parts.push(b)
  return Buffer.concat(parts)
}

/** Download a NAR from the peers `client` is connected to (no DHT walk), into a throwaway store. */
async function downloadFromConnected(
  client: NarthexNode,
  dir: string,
  narHash: string,
  timeoutMs = 15_000
): Promise<Buffer> {
  const store = createStore({ dir, fsync: false })
  await store.start()
  try {
    const { chunkSinkFromStore } = await import('@narthex/p2p')
    const download = new NarDownload({ node: client, sink: chunkSinkFromStore(store) }, narHash, {
      providers: { connectedOnly: true },
      signal: AbortSignal.timeout(timeoutMs)
    })
    return await collect(download)
  } finally {
    await store.stop()
  }
}

/** Read exactly `n` bytes from a stream (or fewer if it ends). */
async function readBytes(stream: Stream, n: number, timeoutMs = 5000): Promise<Uint8Array> {
  const out: number[] = []
  const timer = setTimeout(() => stream.abort(new Error('read timed out')), timeoutMs)
  try {
    for await (const chunk of stream) {
      const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray()
      out.push(...bytes)
      if (out.length >= n) break
    }
  } finally {
    clearTimeout(timer)
  }
  return Uint8Array.from(out.slice(0, n))
}

describe('seeder (in-process, loopback)', function () {
  this.timeout(60_000)
  let dir: { path: string; cleanup: () => Promise<void> }
  let boot: NarthexNode
  const nodes: NarthexNode[] = []
  const seeders: Seeder[] = []
  const servers: Server[] = []

  beforeEach(async () => {
    dir = await tempDir('narthex-seeder-')
    boot = await createNode({ ...LOOPBACK, listen: ['/ip4/127.0.0.1/tcp/0'], dhtServer: true })
    nodes.push(boot)
  })

  afterEach(async () => {
    await Promise.all(seeders.splice(0).map((s) => s.stop()))
    await Promise.all(nodes.splice(0).map((n) => n.stop()))
    for (const s of servers.splice(0)) {
      s.closeAllConnections()
      await new Promise((r) => s.close(r))
    }
    await dir.cleanup()
  })

  async function startSeeder(name: string, init: Partial<SeederInit>): Promise<Seeder> {
    const seeder = createSeeder({
      dataDir: join(dir.path, name),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap: [boot.getMultiaddrs()[0]!.toString()],
      allowPrivateAddresses: true,
      fsync: false,
      announcer: { maxAttempts: 2, retryBaseMs: 100 },
      ...init
    })
    await seeder.start()
    seeders.push(seeder)
    return seeder
  }

  async function connectedClient(seeder: Seeder): Promise<NarthexNode> {
    const client = await clientNode()
    nodes.push(client)
    await client.dial(multiaddr(seeder.multiaddrs[0]!))
    return client
  }

  async function providersOf(narHash: string): Promise<string[]> {
    const client = await clientNode([boot.getMultiaddrs()[0]!.toString()])
    nodes.push(client)
    await waitFor('client connected to bootstrap', () => client.getConnections().length > 0)
    const found: string[] = []
    try {
      // Stops at the first provider; a NAR nobody announced is looked for until the (bounded) walk ends.
      for await (const ev of client.services.dht.findProviders(narCid(narHash), {
        signal: AbortSignal.timeout(2000)
      })) {
        if (ev.name === 'PROVIDER') found.push(...ev.providers.map((p) => p.id.toString()))
        if (found.length > 0) break
      }
    } catch {}
    return found
  }

  it('publishes a NAR signed by a trusted key and never announces or serves an unsigned private one', async () => {
    const key = generateSecretKey('trusted-1')
    const other = generateSecretKey('someone-else')
    const [pub, priv, wrongKey] = (await makeCache(join(dir.path, 'cache'), [
      { name: 'public-pkg', size: 300 * KiB, seed: 1, sign: key },
      { name: 'my-secret', size: 2 * KiB, seed: 2 },
      { name: 'other-signed', size: 2 * KiB, seed: 3, sign: other }
    ])) as [CacheEntry, CacheEntry, CacheEntry]
    const seeder = await startSeeder('s', { trustedKeys: [formatPublicKey(key.publicKey)] })
    await seeder.importSources({ sources: [pathToFileURL(join(dir.path, 'cache')).toString()] })
    const st = await seeder.status()
    assert.equal(st.nars.stored, 3)
    assert.equal(st.nars.published, 1)
    await seeder.onAnnounced()
    assert.equal((await seeder.status()).announcements.announced, 1)

    // The DHT knows the seeder for the public NAR only.
    assert.deepEqual(await providersOf(pub.narHash), [seeder.peerId])
    assert.deepEqual(await providersOf(priv.narHash), [])
    assert.deepEqual(await providersOf(wrongKey.narHash), [])

    // Serving: the public NAR downloads bit-exact; the private one is refused (HAVE false, chunks NOT_FOUND).
    const client = await connectedClient(seeder)
    const bytes = await downloadFromConnected(client, join(dir.path, 'c1'), pub.narHash)
    assert.ok(bytes.equals(pub.nar))
    await assert.rejects(downloadFromConnected(client, join(dir.path, 'c2'), priv.narHash, 5000), {
      name: 'NoProvidersError'
    })
    // Even asked for a private chunk by its id (a one-chunk NAR: the chunk is the NAR), the seeder says NOT_FOUND.
    const { root, manifest } = await ingestNar(
      (async function* () {
        yield priv.nar
      })()
    )
    assert.ok(root)
    const chunk = manifest.chunks[0]!.cid
    const stream = await client.dialProtocol(multiaddr(seeder.multiaddrs[0]!), NAR_PROTOCOL)
    const req = new Uint8Array(7 + chunk.bytes.length)
    new DataView(req.buffer).setUint32(0, 3 + chunk.bytes.length)
    req[4] = 0x03
    new DataView(req.buffer).setUint16(5, 1)
    req.set(chunk.bytes, 7)
    stream.send(req)
    assert.deepEqual(await readBytes(stream, 5), Uint8Array.of(0, 0, 0, 1, 0x84))
    await stream.close()
  })

  it('publishes what the orchestrator agreed on (same NarHash), over its real HTTP API', async () => {
    const orchestratorKey = generateSecretKey('orchestrator-1')
    const [agreed, priv, mismatch] = (await makeCache(join(dir.path, 'cache'), [
      { name: 'agreed-pkg', size: 20 * KiB, seed: 4 },
      { name: 'private-pkg', size: 20 * KiB, seed: 5 },
      { name: 'mismatch-pkg', size: 20 * KiB, seed: 6 }
    ])) as [CacheEntry, CacheEntry, CacheEntry]
    // The orchestrator agreed on `agreed` and on another NAR for `mismatch`'s store path.
    const served = new Map<string, string>()
    const sign = (e: CacheEntry, narHash = e.narHash) =>
      formatNarinfo(signNarinfo({ ...parseNarinfo(e.narinfo), narHash }, orchestratorKey))
    served.set(agreed.hashPart, sign(agreed))
    served.set(mismatch.hashPart, sign(mismatch, priv.narHash))
    const url = await orchestrator({ narinfos: served })
    const seeder = await startSeeder('s', { orchestrator: url })
    await seeder.importSources({ sources: [pathToFileURL(join(dir.path, 'cache')).toString()] })
    const st = await seeder.status()
    assert.equal(st.nars.stored, 3)
    assert.equal(st.nars.published, 1)
    const client = await connectedClient(seeder)
    assert.ok((await downloadFromConnected(client, join(dir.path, 'c1'), agreed.narHash)).equals(agreed.nar))
    for (const e of [priv, mismatch]) {
      await assert.rejects(
        downloadFromConnected(client, join(dir.path, `c-${e.hashPart}`), e.narHash, 5000),
        {
          name: 'NoProvidersError'
        }
      )
    }
  })

  it('refuses to start without a policy, and a second seeder on the same data directory', async () => {
    assert.throws(() => createSeeder({ dataDir: join(dir.path, 'x') }), { name: 'InvalidSeederConfigError' })
    await startSeeder('s', { serveUnverified: true })
    await assert.rejects(
      createSeeder({ dataDir: join(dir.path, 's'), serveUnverified: true, listen: [] }).start(),
      { name: 'StoreLockedError' }
    )
  })

  it('caps concurrent peers: a further peer gets BUSY, and is served once a slot frees', async () => {
    const [e] = (await makeCache(join(dir.path, 'cache'), [{ name: 'p', size: 4 * KiB, seed: 7 }])) as [
      CacheEntry
    ]
    const seeder = await startSeeder('s', { serveUnverified: true, maxPeers: 1 })
    await seeder.importSources({ sources: [pathToFileURL(join(dir.path, 'cache')).toString()] })
    const addr = multiaddr(seeder.multiaddrs[0]!)
    const a = await clientNode()
    const b = await clientNode()
    nodes.push(a, b)
    const sa = await a.dialProtocol(addr, NAR_PROTOCOL)
    sa.send(haveFrame(narCid(e.narHash)))
    assert.deepEqual(await readBytes(sa, 6), HAVE_YES)
    // A second stream of the same peer is not another peer.
    const sa2 = await a.dialProtocol(addr, NAR_PROTOCOL)
    sa2.send(haveFrame(narCid(e.narHash)))
    assert.deepEqual(await readBytes(sa2, 6), HAVE_YES)
    const sb = await b.dialProtocol(addr, NAR_PROTOCOL)
    assert.deepEqual(await readBytes(sb, 6), BUSY)
    const st = await seeder.status()
    assert.equal(st.peers.serving, 1)
    assert.equal(st.peers.rejected, 1)
    await sa.close()
    await sa2.close()
    await waitFor('slot freed', async () => (await seeder.status()).peers.serving === 0)
    const sb2 = await b.dialProtocol(addr, NAR_PROTOCOL)
    sb2.send(haveFrame(narCid(e.narHash)))
    assert.deepEqual(await readBytes(sb2, 6), HAVE_YES)
    await sb2.close()
  })

  it('caps the upload rate, and reports bytes served in status and Prometheus metrics', async () => {
    const size = 1536 * KiB
    const rate = 512 * KiB
    const [e] = (await makeCache(join(dir.path, 'cache'), [{ name: 'big', size, seed: 8 }])) as [CacheEntry]
    const seeder = await startSeeder('s', {
      serveUnverified: true,
      uploadBytesPerSecond: rate,
      metrics: '127.0.0.1:0'
    })
    await seeder.importSources({ sources: [pathToFileURL(join(dir.path, 'cache')).toString()] })
    const client = await connectedClient(seeder)
    const started = Date.now()
    const bytes = await downloadFromConnected(client, join(dir.path, 'c'), e.narHash, 30_000)
    const elapsed = Date.now() - started
    assert.ok(bytes.equals(e.nar))
    // One second of burst, then the rate: at least (size - rate) / rate seconds.
    const floor = ((e.narSize - rate) / rate) * 1000
    console.log(
      `      upload cap ${rate / KiB} KiB/s: ${(e.narSize / KiB).toFixed(0)} KiB in ${elapsed} ms (floor ${floor.toFixed(0)} ms)`
    )
    assert.ok(elapsed >= floor * 0.95, `took ${elapsed} ms, floor ${floor} ms`)
    const st = await seeder.status()
    assert.ok(st.upload.bytesServed >= e.narSize)
    const { host, port } = seeder.metricsAddress!
    const text = await (await fetch(`http://${host}:${port}/metrics`)).text()
    const served = Number(/^narthex_seeder_bytes_served_total (\d+)$/m.exec(text)?.[1])
    assert.ok(served >= e.narSize, text)
    assert.match(text, /^narthex_seeder_nars_published 1$/m)
    assert.match(text, /^narthex_seeder_upload_cap_bytes_per_second 524288$/m)
    assert.equal((await fetch(`http://${host}:${port}/other`)).status, 404)
  })

  it('mirrors agreed NARs it lacks from peers, within its disk quota', async () => {
    const [small, large] = (await makeCache(join(dir.path, 'cache'), [
      { name: 'small-pkg', size: 40 * KiB, seed: 9 },
      { name: 'large-pkg', size: 600 * KiB, seed: 10 }
    ])) as [CacheEntry, CacheEntry]
    const source = await startSeeder('source', { serveUnverified: true })
    await source.importSources({ sources: [pathToFileURL(join(dir.path, 'cache')).toString()] })
    await source.onAnnounced()
    const key = generateSecretKey('orchestrator-1')
    const agreements = new Map<string, unknown>()
    const narinfos = new Map<string, string>()
    for (const e of [small, large]) {
      const { root } = await ingestNar(
        (async function* () {
          yield e.nar
        })()
      )
      const narinfo = formatNarinfo(signNarinfo(parseNarinfo(e.narinfo), key))
      narinfos.set(e.hashPart, narinfo)
      agreements.set(e.hashPart, {
        agreement: {
          outPath: e.storePath,
          narHash: e.narHash,
          narSize: e.narSize,
          manifestRoot: root.toString()
        },
        narinfo
      })
    }
    const url = await orchestrator({ narinfos, agreements })
    const mirror = await startSeeder('mirror', {
      orchestrator: url,
      mirror: true,
      quotaBytes: 300 * KiB,
      mirrorProviderTimeoutMs: 1000
    })
    await waitFor(
      'the mirror round',
      async () =>
        (await mirror.status()).mirror?.rounds === 1 && (await mirror.status()).mirror!.mirrored >= 1,
      30_000
    )
    await waitFor('published', async () => (await mirror.status()).nars.published === 1)
    const st = await mirror.status()
    assert.equal(st.mirror!.mirrored, 1)
    assert.equal(st.mirror!.skippedQuota, 1, 'the large NAR does not fit the quota')
    const client = await connectedClient(mirror)
    assert.ok((await downloadFromConnected(client, join(dir.path, 'c'), small.narHash)).equals(small.nar))
  })

  it('stops cleanly: socket removed, store released, restart keeps the peer id', async () => {
    const seeder = await startSeeder('s', { serveUnverified: true })
    const id = seeder.peerId
    assert.equal(((await requestStatus(join(dir.path, 's'))) as { peerId: string }).peerId, id)
    await seeder.stop()
    seeders.splice(seeders.indexOf(seeder), 1)
    await assert.rejects(requestStatus(join(dir.path, 's')), { name: 'SeederNotRunningError' })
    const again = await startSeeder('s', { serveUnverified: true })
    assert.equal(again.peerId, id)
  })

  it('keeps to its disk quota: an evicted NAR is unpublished and withdrawn', async () => {
    const [first, second] = (await makeCache(join(dir.path, 'cache'), [
      { name: 'first-pkg', size: 120 * KiB, seed: 11 },
      { name: 'second-pkg', size: 120 * KiB, seed: 12 }
    ])) as [CacheEntry, CacheEntry]
    const seeder = await startSeeder('s', { serveUnverified: true, quotaBytes: 200 * KiB })
    const url = pathToFileURL(join(dir.path, 'cache')).toString()
    await seeder.importSources({ sources: [`${url}/${first.hashPart}.narinfo`] })
    await seeder.importSources({ sources: [`${url}/${second.hashPart}.narinfo`] })
    await waitFor(
      'first evicted and withdrawn',
      async () => (await seeder.status()).announcements.withdrawn === 1
    )
    const st = await seeder.status()
    assert.equal(st.nars.stored, 1)
    assert.equal(st.nars.published, 1)
    assert.ok(st.disk.storedBytes <= 200 * KiB)
    const client = await connectedClient(seeder)
    assert.ok((await downloadFromConnected(client, join(dir.path, 'c'), second.narHash)).equals(second.nar))
    await assert.rejects(downloadFromConnected(client, join(dir.path, 'c2'), first.narHash, 5000), {
      name: 'NoProvidersError'
    })
  })

  it('answers hostile control requests with 4xx and keeps working', async () => {
    const seeder = await startSeeder('s', { serveUnverified: true })
    const socketPath = seeder.controlSocket!
    const { request } = await import('node:http')
    const call = (method: string, path: string, body?: string | Buffer) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ socketPath, method, path }, (res) => {
          let text = ''
          res.setEncoding('utf8').on('data', (d: string) => {
            text += d
          })
          res.on('end', () => resolve({ status: res.statusCode!, body: text }))
        })
        req.on('error', reject)
        req.end(body)
      })
    assert.equal((await call('GET', '/nope')).status, 404)
    assert.equal((await call('DELETE', '/v1/status')).status, 405)
    const notJson = await call('POST', '/v1/import', '{not json')
    assert.equal(notJson.status, 400)
    assert.equal(JSON.parse(notJson.body).error.name, 'InvalidImportSourceError')
    const badSource = await call('POST', '/v1/import', JSON.stringify({ sources: ['../etc/passwd'] }))
    assert.equal(badSource.status, 400)
    const unknownKey = await call(
      'POST',
      '/v1/import',
      JSON.stringify({ sources: ['/nix/store/x'], force: true })
    )
    assert.equal(unknownKey.status, 400)
    const huge = await call('POST', '/v1/import', Buffer.alloc(2 * 1024 * 1024, 0x20)).catch(() => ({
      status: 413,
      body: ''
    }))
    assert.equal(huge.status, 413)
    // A failing import reports its error by name, and the seeder goes on.
    const missing = await call(
      'POST',
      '/v1/import',
      JSON.stringify({ sources: ['file:///nonexistent-cache-dir'] })
    )
    assert.equal(missing.status, 200)
    const last = JSON.parse(missing.body.trim().split('\n').at(-1)!)
    assert.equal(last.ok, false)
    assert.equal(last.error.name, 'CacheUnreachableError')
    assert.equal(((await requestStatus(join(dir.path, 's'))) as { nars: { stored: number } }).nars.stored, 0)
  })

  /** A real HTTP server answering the orchestrator routes the seeder uses, from the maps given. */
  async function orchestrator(data: {
    narinfos: Map<string, string>
    agreements?: Map<string, unknown>
  }): Promise<string> {
    const server = createServer((req, res) => {
      const url = req.url ?? '/'
      const narinfo = /^\/([0-9a-z]{32})\.narinfo$/.exec(url)
      const agreement = /^\/api\/v1\/agreements\/([0-9a-z]{32})$/.exec(url)
      const notFound = () => {
        res.writeHead(404, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ error: { name: 'NotFoundError', message: 'not found' } }))
      }
      if (narinfo) {
        const text = data.narinfos.get(narinfo[1]!)
        if (text === undefined) return notFound()
        res.writeHead(200, { 'content-type': 'text/x-nix-narinfo' })
        return res.end(text)
      }
      if (url.startsWith('/api/v1/outputs?')) {
        const outputs = [...(data.agreements ?? new Map()).entries()].map(([hashPart, v]) => {
          const a = (v as { agreement: { outPath: string; narHash: string } }).agreement
          return { outPath: a.outPath, hashPart, status: 'agreed', served: true, narHash: a.narHash }
        })
        res.writeHead(200, { 'content-type': 'application/json' })
        return res.end(JSON.stringify({ total: outputs.length, outputs }))
      }
      if (agreement) {
        const v = data.agreements?.get(agreement[1]!)
        if (v === undefined) return notFound()
        res.writeHead(200, { 'content-type': 'application/json' })
        return res.end(JSON.stringify(v))
      }
      notFound()
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    servers.push(server)
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  }
})

describe('seeder configuration', () => {
  it('rejects unknown keys and wrong types by name', () => {
    assert.throws(() => checkSeederConfig({ data: '/x', quotaa: '1G' }), { name: 'InvalidSeederConfigError' })
    assert.throws(() => checkSeederConfig({ maxPeers: -1 }), { name: 'InvalidSeederConfigError' })
    assert.throws(() => checkSeederConfig({ quota: 'lots' }), { name: 'InvalidSeederConfigError' })
    assert.throws(() => checkSeederConfig({ listen: '/ip4/0.0.0.0/tcp/1' }), {
      name: 'InvalidSeederConfigError'
    })
    assert.throws(() => checkSeederConfig([]), { name: 'InvalidSeederConfigError' })
    assert.throws(() => seederInitFromConfig({}), { name: 'InvalidSeederConfigError' })
  })

  it('turns sizes into bytes, and flags override the file key by key', () => {
    const init = seederInitFromConfig(
      mergeSeederConfig(
        { data: '/a', quota: '1.5G', uploadRate: '4M', maxPeers: 10, serveUnverified: true },
        { data: '/b', maxPeers: 3 }
      )
    )
    assert.equal(init.dataDir, '/b')
    assert.equal(init.quotaBytes, 1.5 * 2 ** 30)
    assert.equal(init.uploadBytesPerSecond, 4 * 2 ** 20)
    assert.equal(init.maxPeers, 3)
    assert.equal(init.serveUnverified, true)
  })
})
