/**
 * The shim's HTTP surface against real TCP on loopback (reliability.md items 13–17): routes, request hygiene,
 * narinfo pass-through and caching, NAR delivery with single flight, ranges, fail-before-headers, restarts.
 * The orchestrator and the upstream cache are real HTTP servers (test/util/cache-server.ts).
 */
import assert from 'node:assert/strict'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { type CacheServer, startCacheServer } from '../../../test/util/cache-server.js'
import { tempDir, waitFor } from '../../../test/util/index.js'
import { createShim, type Shim, type ShimInit } from '../src/index.js'
import { type FakePath, fakePath, get, raw, TEST_PUBLIC_KEY } from './fixtures.js'

describe('shim HTTP surface', function () {
  this.timeout(30_000)
  let orch: CacheServer
  let up: CacheServer
  let data: { path: string; cleanup: () => Promise<void> }
  let shim: Shim
  const extra: Shim[] = []

  async function startShim(init: Partial<ShimInit> = {}): Promise<Shim> {
    const s = createShim({
      data: data.path,
      listen: { host: '127.0.0.1', port: 0 },
      orchestrator: orch.url,
      upstream: [up.url],
      prefetch: false,
      fsync: false, // tests only: crash safety against power loss is not what these tests are about
      // Spool files, whose removal these tests check (nar-service.spec.ts runs both kinds of spool).
      memorySpoolBytes: 0,
      ...init
    })
    await s.start()
    return s
  }

  /** Make a path agreed (orchestrator) and available upstream (narinfo + NAR). */
  function publish(p: FakePath, where: { orch?: boolean; up?: boolean } = {}): void {
    if (where.orch !== false) orch.files.set(`/${p.hashPart}.narinfo`, p.narinfo)
    if (where.up !== false) {
      up.files.set(`/${p.hashPart}.narinfo`, p.narinfo)
      up.files.set(`/nar/${p.narKey}.nar`, p.bytes)
    }
  }

  beforeEach(async () => {
    orch = await startCacheServer()
    up = await startCacheServer()
    data = await tempDir('narthex-shim-')
    shim = await startShim()
  })

  afterEach(async () => {
    await shim.stop()
    for (const s of extra.splice(0)) await s.stop()
    await orch.close()
    await up.close()
    await data.cleanup()
  })

  it('serves nix-cache-info with StoreDir, WantMassQuery and a Priority ahead of cache.nixos.org', async () => {
    const r = await get(shim.url, '/nix-cache-info')
    assert.equal(r.status, 200)
    const text = r.body.toString()
    assert.match(text, /^StoreDir: \/nix\/store$/m)
    assert.match(text, /^WantMassQuery: 1$/m)
    const priority = Number(/^Priority: (\d+)$/m.exec(text)![1])
    assert.ok(priority < 40)
    const h = await get(shim.url, '/nix-cache-info', { method: 'HEAD' })
    assert.equal(h.status, 200)
    assert.equal(h.body.length, 0)
  })

  it('passes the signed narinfo through unchanged and answers repeats from memory', async () => {
    const p = fakePath('hello', 1000)
    publish(p)
    const r = await get(shim.url, `/${p.hashPart}.narinfo`)
    assert.equal(r.status, 200)
    assert.equal(r.body.toString(), p.narinfo)
    assert.equal(r.headers['content-type'], 'text/x-nix-narinfo')
    for (let i = 0; i < 20; i++) assert.equal((await get(shim.url, `/${p.hashPart}.narinfo`)).status, 200)
    assert.equal((await get(shim.url, `/${p.hashPart}.narinfo`, { method: 'HEAD' })).status, 200)
    assert.equal(orch.count(`/${p.hashPart}.narinfo`), 1)
  })

  it('answers unknown paths 404 and remembers the miss briefly (one orchestrator lookup)', async () => {
    const p = fakePath('unknown', 10)
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => get(shim.url, `/${p.hashPart}.narinfo`)))
    assert.deepEqual([a!.status, b!.status, c!.status], [404, 404, 404])
    assert.equal((await get(shim.url, `/${p.hashPart}.narinfo`)).status, 404)
    assert.equal(orch.count(`/${p.hashPart}.narinfo`), 1)
  })

  it('serves a path soon after it becomes agreed (short negative cache)', async () => {
    await shim.stop()
    shim = await startShim({ timing: { negativeTtlMs: 200 } })
    const p = fakePath('later', 10)
    assert.equal((await get(shim.url, `/${p.hashPart}.narinfo`)).status, 404)
    publish(p)
    await waitFor(
      'the path to be served',
      async () => (await get(shim.url, `/${p.hashPart}.narinfo`)).status === 200
    )
  })

  it('refuses narinfos not signed by the configured orchestrator key', async () => {
    const { formatPublicKey, generateSecretKey } = await import('@narthex/nix')
    const p = fakePath('signed', 100)
    publish(p)
    await shim.stop()
    shim = await startShim({ orchestratorKeys: [formatPublicKey(generateSecretKey('other-1').publicKey)] })
    assert.equal((await get(shim.url, `/${p.hashPart}.narinfo`)).status, 404)
    await shim.stop()
    shim = await startShim({ orchestratorKeys: [TEST_PUBLIC_KEY] })
    assert.equal((await get(shim.url, `/${p.hashPart}.narinfo`)).status, 200)
  })

  it('refuses a narinfo whose URL is not its NAR route (it is served unchanged, so it must be)', async () => {
    const p = fakePath('compressed', 100)
    publish(p)
    orch.files.set(
      `/${p.hashPart}.narinfo`,
      p.narinfo.replace(
        `URL: nar/${p.narKey}.nar\nCompression: none`,
        `URL: nar/${p.narKey}.nar.xz\nCompression: xz`
      )
    )
    assert.equal((await get(shim.url, `/${p.hashPart}.narinfo`)).status, 404)
  })

  it('answers 404 for an agreed narinfo whose NAR nobody can deliver', async () => {
    const p = fakePath('nowhere', 10)
    publish(p, { up: false })
    assert.equal((await get(shim.url, `/${p.hashPart}.narinfo`)).status, 404)
    assert.equal((await get(shim.url, `/nar/${p.narKey}.nar`)).status, 404)
  })

  it('refuses an upstream whose narinfo names a different NAR than the agreed one', async () => {
    const p = fakePath('agreed', 100)
    const other = fakePath('other', 100)
    publish(p, { up: false })
    up.files.set(`/${p.hashPart}.narinfo`, other.narinfo.replace(other.storePath, p.storePath))
    up.files.set(`/nar/${other.narKey}.nar`, other.bytes)
    assert.equal((await get(shim.url, `/${p.hashPart}.narinfo`)).status, 404)
  })

  it('streams the NAR byte-exact, fetching it once and then from the local cache', async () => {
    const p = fakePath('nar', 3 * 1024 * 1024 + 17)
    publish(p)
    assert.equal((await get(shim.url, `/${p.hashPart}.narinfo`)).status, 200)
    const r = await get(shim.url, `/nar/${p.narKey}.nar`)
    assert.equal(r.status, 200)
    assert.equal(r.headers['content-length'], String(p.bytes.length))
    assert.equal(r.headers['accept-ranges'], 'bytes')
    assert.ok(r.body.equals(p.bytes))
    const again = await get(shim.url, `/nar/${p.narKey}.nar`)
    assert.ok(again.body.equals(p.bytes))
    const head = await get(shim.url, `/nar/${p.narKey}.nar`, { method: 'HEAD' })
    assert.equal(head.status, 200)
    assert.equal(head.headers['content-length'], String(p.bytes.length))
    assert.equal(up.count(`/nar/${p.narKey}.nar`), 1)
    await waitFor('the NAR in the local store', () => shim.stats().cachedNars === 1, 25_000)
    // The spool file is removed once the import that read it has finished, just after the store announces the NAR.
    await waitFor(
      'the spool file to be removed',
      async () => (await readdir(join(data.path, 'tmp'))).length === 0
    )
  })

  it('keeps the local cache within its quota (least recently used out)', async () => {
    await shim.stop()
    shim = await startShim({ quota: 700_000 })
    const paths = [1, 2, 3, 4].map((i) => fakePath(`q${i}`, 300_000))
    for (const p of paths) {
      publish(p)
      await get(shim.url, `/${p.hashPart}.narinfo`)
      assert.ok((await get(shim.url, `/nar/${p.narKey}.nar`)).body.equals(p.bytes))
    }
    await waitFor(
      'every import to finish',
      async () => (await readdir(join(data.path, 'tmp'))).length === 0,
      25_000
    )
    assert.ok(shim.stats().cachedNarBytes <= 700_000, `${shim.stats().cachedNarBytes} bytes cached`)
    assert.ok(shim.stats().cachedNars >= 1)
    // The most recent one is still cached: no second fetch.
    const last = paths[3]!
    assert.ok((await get(shim.url, `/nar/${last.narKey}.nar`)).body.equals(last.bytes))
    assert.equal(up.count(`/nar/${last.narKey}.nar`), 1)
  })

  it('makes one network fetch for 100 simultaneous requests of the same NAR', async () => {
    const p = fakePath('popular', 2 * 1024 * 1024)
    publish(p)
    assert.equal((await get(shim.url, `/${p.hashPart}.narinfo`)).status, 200)
    up.hold()
    const replies = Promise.all(Array.from({ length: 100 }, () => get(shim.url, `/nar/${p.narKey}.nar`)))
    await waitFor('the upstream fetch', () => up.count('/nar/') === 1)
    up.release()
    for (const r of await replies) {
      assert.equal(r.status, 200)
      assert.ok(r.body.equals(p.bytes))
    }
    assert.equal(up.count('/nar/'), 1)
    assert.equal(shim.stats().nar.fetches, 1)
  })

  it('answers ranges byte-exact (206) and bad ranges 416 with the size', async () => {
    const p = fakePath('ranged', 100_000)
    publish(p)
    await get(shim.url, `/${p.hashPart}.narinfo`)
    const cases: [string, number, number][] = [
      ['bytes=0-0', 0, 1],
      ['bytes=10-19', 10, 20],
      ['bytes=99990-', 99990, 100_000],
      ['bytes=-7', 99993, 100_000],
      ['bytes=50000-200000', 50000, 100_000]
    ]
    for (const [range, start, end] of cases) {
      const r = await get(shim.url, `/nar/${p.narKey}.nar`, { headers: { Range: range } })
      assert.equal(r.status, 206, range)
      assert.equal(r.headers['content-range'], `bytes ${start}-${end - 1}/100000`)
      assert.ok(r.body.equals(p.bytes.subarray(start, end)), range)
    }
    for (const range of ['bytes=100000-', 'bytes=5-1', 'bytes=0-1,3-4', 'lines=1-2', 'bytes=x']) {
      const r = await get(shim.url, `/nar/${p.narKey}.nar`, { headers: { Range: range } })
      assert.equal(r.status, 416, range)
      assert.equal(r.headers['content-range'], 'bytes */100000')
    }
  })

  it('fails before sending headers when the upstream NAR does not match NarHash, and caches nothing', async () => {
    const p = fakePath('corrupt', 500_000)
    publish(p)
    await get(shim.url, `/${p.hashPart}.narinfo`)
    const bad = Buffer.from(p.bytes)
    bad[250_000]! ^= 1
    up.files.set(`/nar/${p.narKey}.nar`, bad)
    assert.equal((await get(shim.url, `/nar/${p.narKey}.nar`)).status, 502)
    up.files.set(`/nar/${p.narKey}.nar`, p.bytes.subarray(0, 400_000))
    assert.equal((await get(shim.url, `/nar/${p.narKey}.nar`)).status, 502)
    assert.equal(shim.stats().cachedNars, 0)
    await waitFor(
      'the failed spool files to be removed',
      async () => (await readdir(join(data.path, 'tmp'))).length === 0
    )
    up.files.set(`/nar/${p.narKey}.nar`, p.bytes)
    const ok = await get(shim.url, `/nar/${p.narKey}.nar`)
    assert.equal(ok.status, 200)
    assert.ok(ok.body.equals(p.bytes))
  })

  it('keeps serving cached narinfos and NARs across a restart while orchestrator and upstream are down', async () => {
    const p = fakePath('durable', 4096)
    publish(p)
    await get(shim.url, `/${p.hashPart}.narinfo`)
    await get(shim.url, `/nar/${p.narKey}.nar`)
    await waitFor('the NAR in the local store', () => shim.stats().cachedNars === 1, 25_000)
    await shim.stop()
    await orch.close()
    await up.close()
    shim = await startShim()
    const r = await get(shim.url, `/${p.hashPart}.narinfo`)
    assert.equal(r.status, 200)
    assert.equal(r.body.toString(), p.narinfo)
    assert.ok((await get(shim.url, `/nar/${p.narKey}.nar`)).body.equals(p.bytes))
    // An unknown path while the orchestrator is down: 404, and not remembered as a miss.
    const q = fakePath('unseen', 10)
    assert.equal((await get(shim.url, `/${q.hashPart}.narinfo`)).status, 404)
    orch = await startCacheServer()
    up = await startCacheServer()
  })

  it('prefetches the closure when Nix asks for a narinfo', async () => {
    await shim.stop()
    shim = await startShim({ prefetch: true })
    const dep = fakePath('dep', 70_000)
    const lib = fakePath('lib', 50_000, [dep])
    const app = fakePath('app', 30_000, [lib, dep])
    for (const x of [dep, lib, app]) publish(x)
    assert.equal((await get(shim.url, `/${app.hashPart}.narinfo`)).status, 200)
    await waitFor(
      'the closure in the local cache',
      () => shim.stats().nar.fetches === 3 && shim.stats().cachedNarBytes === 150_000,
      25_000
    )
    const before = orch.hits.size
    assert.equal((await get(shim.url, `/${dep.hashPart}.narinfo`)).status, 200)
    assert.ok((await get(shim.url, `/nar/${dep.narKey}.nar`)).body.equals(dep.bytes))
    assert.equal(orch.count(`/${dep.hashPart}.narinfo`), 1)
    assert.equal(orch.hits.size, before)
    assert.equal(up.count(`/nar/${dep.narKey}.nar`), 1)
  })

  it('survives a client that disconnects mid-NAR; the fetch completes for the next one', async () => {
    const p = fakePath('cut', 8 * 1024 * 1024)
    publish(p)
    await get(shim.url, `/${p.hashPart}.narinfo`)
    const { status } = await raw(shim.url, `GET /nar/${p.narKey}.nar HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)
    assert.equal(status, 200)
    const r = await get(shim.url, `/nar/${p.narKey}.nar`)
    assert.ok(r.body.equals(p.bytes))
    assert.equal(up.count('/nar/'), 1)
  })

  describe('request hygiene', () => {
    it('answers every malformed request with a 4xx, never a 5xx, and serves nothing outside the routes', async () => {
      const p = fakePath('real', 100)
      publish(p)
      const targets = [
        '/nar/%2e%2e/%2e%2e/etc/passwd',
        '/..%2f..%2f..%2fetc%2fpasswd',
        '/../../../../etc/passwd',
        '/nar/../nix-cache-info',
        '/%2e%2e/nar/x.nar',
        `/${p.hashPart}.narinfo%00`,
        `/${p.hashPart}%00.narinfo`,
        `/nar/${p.narKey}.nar%2f..%2f..`,
        `/${'e'.repeat(32)}.narinfo`,
        `/${p.hashPart.toUpperCase()}.narinfo`,
        `/nar/${'z'.repeat(52)}.nar`,
        `/nar/${p.narKey}.nar.xz`,
        `/${'a'.repeat(5000)}`,
        `/nar/${'0'.repeat(4000)}.nar`,
        '/nix-cache-info?../../x',
        '//etc/passwd',
        'http://evil.example/nix-cache-info',
        '*',
        '/\\..\\..\\etc\\passwd',
        '/nix-cache-info/..',
        '/log/foo',
        `/${p.hashPart}.ls`
      ]
      for (const target of targets) {
        const { status } = await raw(shim.url, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)
        assert.ok(status >= 400 && status < 500, `${target.slice(0, 60)} → ${status}`)
      }
      const lines = [
        `GET /${p.hashPart}.narinfo\0 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`,
        'GET /nix-cache-info HTTP/1.1\r\nHost: 127.0.0.1\r\nX: a\0b\r\n\r\n',
        'GET\r\n\r\n',
        'GARBAGE\r\n\r\n',
        'GET /nix-cache-info HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n',
        'GET /nix-cache-info HTTP/1.1\r\n\r\n',
        'GET /nix-cache-info HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: 127.0.0.1\r\n\r\n',
        'GET /nix-cache-info HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhello',
        'GET /nix-cache-info HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
        'GET /nix-cache-info HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
        'GET /nix-cache-info HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
        ...['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'FOO'].map(
          (m) => `${m} /nix-cache-info HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n`
        ),
        `CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n`
      ]
      for (const line of lines) {
        const { status } = await raw(shim.url, line)
        assert.ok(
          status === 0 || (status >= 400 && status < 500),
          `${JSON.stringify(line.slice(0, 70))} → ${status}`
        )
      }
      assert.deepEqual((await readdir(data.path)).sort(), ['narinfo', 'shim.sock', 'store', 'tmp'])
      // The shim still works after all that.
      assert.equal((await get(shim.url, `/${p.hashPart}.narinfo`)).status, 200)
    })

    it('refuses non-loopback Host names and cross-site Origins (DNS rebinding)', async () => {
      const port = new URL(shim.url).port
      const status = async (headers: string) =>
        (await raw(shim.url, `GET /nix-cache-info HTTP/1.1\r\n${headers}\r\n\r\n`)).status
      assert.equal(await status(`Host: evil.example:${port}`), 403)
      assert.equal(await status('Host: evil.example'), 403)
      assert.equal(await status(`Host: 127.0.0.1.nip.io:${port}`), 403)
      assert.equal(await status(`Host: 192.168.0.10:${port}`), 403)
      assert.equal(await status(`Host: 127.0.0.1:${port}\r\nOrigin: http://evil.example`), 403)
      assert.equal(await status(`Host: 127.0.0.1:${port}\r\nSec-Fetch-Site: cross-site`), 403)
      assert.equal(await status(`Host: 127.0.0.1:${port}`), 200)
      assert.equal(await status(`Host: localhost:${port}`), 200)
      assert.equal(await status('Host: 127.0.0.2'), 200)
      assert.equal(await status(`Host: [::1]:${port}`), 200)
      assert.equal(await status(`Host: 127.0.0.1:${port}\r\nOrigin: http://127.0.0.1:${port}`), 200)
    })

    it('answers 431 to oversized headers', async () => {
      const { status } = await raw(
        shim.url,
        `GET /nix-cache-info HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`
      )
      assert.equal(status, 431)
    })

    it('closes a connection whose headers never finish (header timeout)', async () => {
      const t0 = Date.now()
      const { status } = await raw(
        shim.url,
        'GET /nix-cache-info HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ',
        15_000
      )
      const took = Date.now() - t0
      assert.ok(status === 408 || status === 0, `status ${status}`)
      assert.ok(took < 8_000, `closed after ${took} ms`)
    })

    it('answers 25 keep-alive connections of narinfo hits and misses', async () => {
      const { Agent } = await import('node:http')
      const { request } = await import('node:http')
      const hits = Array.from({ length: 5 }, (_, i) => fakePath(`hit${i}`, 100))
      const misses = Array.from({ length: 5 }, (_, i) => fakePath(`miss${i}`, 100))
      for (const h of hits) publish(h)
      const agent = new Agent({ keepAlive: true, maxSockets: 25 })
      const one = (path: string) =>
        new Promise<number>((resolve, reject) => {
          const req = request(`${shim.url}${path}`, { agent }, (res) => {
            res.resume()
            res.on('end', () => resolve(res.statusCode!))
          })
          req.on('error', reject)
          req.end()
        })
      const jobs: Promise<void>[] = []
      for (let c = 0; c < 25; c++) {
        jobs.push(
          (async () => {
            for (let i = 0; i < 40; i++) {
              const hit = i % 2 === 0
              const p = (hit ? hits : misses)[(c + i) % 5]!
              assert.equal(await one(`/${p.hashPart}.narinfo`), hit ? 200 : 404)
            }
          })()
        )
      }
      await Promise.all(jobs)
      agent.destroy()
      for (const p of [...hits, ...misses]) assert.equal(orch.count(`/${p.hashPart}.narinfo`), 1)
    })
  })
})
