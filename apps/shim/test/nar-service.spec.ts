/**
 * NAR delivery from a verified streaming source (the swarm's contract): bytes reach Nix while the fetch is still
 * running, a source that fails mid-stream cuts the connection instead of completing a 200, the agreed manifest
 * root reaches the source, and sources are tried in order.
 */
import assert from 'node:assert/strict'
import { readdir, stat, truncate } from 'node:fs/promises'
import { request } from 'node:http'
import { join } from 'node:path'
import { type CacheServer, startCacheServer } from '../../../test/util/cache-server.js'
import { smallDisk, tempDir, waitFor } from '../../../test/util/index.js'
import { createShim, type Shim } from '../src/index.js'
import { type FakePath, fakePath, get, getOutcome, MemorySource } from './fixtures.js'

const ROOT = 'bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'

for (const spool of ['memory', 'file'] as const)
  describe(`shim NAR delivery from a verified stream (spooled to ${spool})`, function () {
    this.timeout(30_000)
    let orch: CacheServer
    let up: CacheServer
    let data: { path: string; cleanup: () => Promise<void> }
    let swarm: MemorySource
    let shim: Shim

    beforeEach(async () => {
      orch = await startCacheServer()
      up = await startCacheServer()
      data = await tempDir('narthex-shim-')
      swarm = new MemorySource()
      shim = createShim({
        data: data.path,
        listen: { host: '127.0.0.1', port: 0 },
        orchestrator: orch.url,
        swarm,
        upstream: [up.url],
        prefetch: false,
        fsync: false, // tests only: crash safety against power loss is not what these tests are about
        timing: { stallTimeoutMs: 500 },
        ...(spool === 'file' ? { memorySpoolBytes: 0 } : {})
      })
      await shim.start()
    })

    /** Paths agreed at the orchestrator and held by the swarm. */
    const agreeAndHold = (...paths: FakePath[]) => {
      for (const p of paths) {
        orch.files.set(`/${p.hashPart}.narinfo`, p.narinfo)
        swarm.add(p)
      }
    }

    /** The spool file holding at least `bytes`, if any. */
    const spoolFile = async (bytes: number) => {
      const tmp = join(data.path, 'tmp')
      for (const name of await readdir(tmp)) {
        if ((await stat(join(tmp, name))).size >= bytes) return join(tmp, name)
      }
      return undefined
    }

    afterEach(async () => {
      swarm.release()
      await shim.stop()
      await orch.close()
      await up.close()
      await data.cleanup()
    })

    it('sends the first verified bytes before the fetch has finished', async () => {
      const p = fakePath('stream', 1024 * 1024)
      agreeAndHold(p)
      assert.equal((await get(shim.url, `/${p.hashPart}.narinfo`)).status, 200)
      swarm.hold(256 * 1024)
      const body: Buffer[] = []
      let received = 0
      const done = new Promise<number>((resolve, reject) => {
        const req = request(`${shim.url}/nar/${p.narKey}.nar`, (res) => {
          res.on('data', (d: Buffer) => {
            body.push(d)
            received += d.length
          })
          res.on('end', () => resolve(res.statusCode!))
          res.on('error', reject)
        })
        req.on('error', reject)
        req.end()
      })
      await waitFor('the first bytes while the source is held', () => received >= 256 * 1024)
      assert.equal(received, 256 * 1024)
      swarm.release()
      assert.equal(await done, 200)
      assert.ok(Buffer.concat(body).equals(p.bytes))
      assert.equal(up.count('/nar/'), 0)
    })

    /** A shim of its own on this test's servers, with the given timings, stopped after `body`. */
    async function withShim(
      timing: { importQuietMs?: number; importMaxDeferMs?: number },
      body: (s: Shim) => Promise<void>
    ): Promise<void> {
      const own = await tempDir('narthex-shim-import-')
      const s = createShim({
        data: own.path,
        listen: { host: '127.0.0.1', port: 0 },
        orchestrator: orch.url,
        swarm,
        prefetch: false,
        fsync: false,
        // a held stream must not count as stalled here
        timing: { stallTimeoutMs: 60_000, ...timing },
        ...(spool === 'file' ? { memorySpoolBytes: 0 } : {})
      })
      await s.start()
      try {
        await body(s)
      } finally {
        swarm.release()
        await s.stop()
        await own.cleanup()
      }
    }

    /** `first` fetched and served; then `busy` streaming, held mid-way until swarm.release(). */
    async function oneFetchedOneStreaming(s: Shim, name: string) {
      const first = fakePath(`${name}-first`, 200 * 1024)
      const busy = fakePath(`${name}-busy`, 1024 * 1024)
      agreeAndHold(first, busy)
      for (const p of [first, busy]) assert.equal((await get(s.url, `/${p.hashPart}.narinfo`)).status, 200)
      const a = await get(s.url, `/nar/${first.narKey}.nar`)
      assert.equal(a.status, 200)
      swarm.hold(128 * 1024)
      const held = get(s.url, `/nar/${busy.narKey}.nar`)
      return { first, busy, held }
    }

    /**
     * A quiet period longer than the moment between `first` being served and `busy` starting, however loaded the
     * machine (with the default 250 ms, `first` was once imported in between on a busy CI runner).
     */
    const QUIET = { importQuietMs: 2000 }

    it('imports what it fetched only once NAR traffic pauses, serving it from the spool meanwhile', async () => {
      await withShim(QUIET, async (s) => {
        const { first, busy, held } = await oneFetchedOneStreaming(s, 'quiet')
        // The second NAR streaming is traffic: the first one's import waits (it takes milliseconds otherwise).
        await new Promise((resolve) => setTimeout(resolve, 1000))
        assert.equal(s.stats().cachedNars, 0, 'imported while a NAR was streaming')
        assert.equal(s.stats().nar.inFlight, 2)
        const again = await get(s.url, `/nar/${first.narKey}.nar`)
        assert.equal(again.status, 200)
        assert.ok(again.body.equals(first.bytes), 'served from its spool meanwhile')
        swarm.release()
        const b = await held
        assert.equal(b.status, 200)
        assert.ok(b.body.equals(busy.bytes))
        await waitFor(
          'both imports once traffic paused, and their flights over',
          () => s.stats().cachedNars === 2 && s.stats().nar.inFlight === 0,
          10_000
        )
      })
    })

    if (spool === 'file')
      it('keeps no recent buffers for a NAR that is fetched and read while it waits for its import', async () => {
        await withShim(QUIET, async (s) => {
          const { held } = await oneFetchedOneStreaming(s, 'memory')
          // `first` (200 KiB) is fetched, served and waiting for its import; `busy` is held after 128 KiB.
          await waitFor('the held NAR at its hold', () => s.stats().nar.memoryBytes >= 128 * 1024)
          assert.equal(s.stats().nar.inFlight, 2)
          assert.equal(s.stats().nar.memoryBytes, 128 * 1024, 'only the running download keeps buffers')
          swarm.release()
          assert.equal((await held).status, 200)
          await waitFor('both imported', () => s.stats().cachedNars === 2, 10_000)
          assert.equal(s.stats().nar.memoryBytes, 0)
        })
      })

    it('imports anyway after importMaxDeferMs when traffic never pauses', async () => {
      await withShim({ importMaxDeferMs: 300 }, async (s) => {
        const { held } = await oneFetchedOneStreaming(s, 'restless')
        // The imported NAR's flight ends just after its import (the import is seen first, for a moment).
        await waitFor(
          'the import despite the open stream',
          () => s.stats().cachedNars === 1 && s.stats().nar.inFlight === 1,
          10_000
        )
        swarm.release()
        assert.equal((await held).status, 200)
      })
    })

    if (spool === 'file')
      it('sends requests at the edge of a download the bytes it holds in memory, not the spool file', async () => {
        const MiB = 1024 * 1024
        const p = fakePath('edge', 12 * MiB)
        agreeAndHold(p)
        assert.equal((await get(shim.url, `/${p.hashPart}.narinfo`)).status, 200)
        swarm.hold(10 * MiB)
        const whole = get(shim.url, `/nar/${p.narKey}.nar`)
        await waitFor('10 MiB spooled', async () => (await spoolFile(10 * MiB)) !== undefined)
        // Empty the spool file: from here on, only bytes held in memory can be sent right.
        await truncate((await spoolFile(10 * MiB))!, 0)
        const tail = get(shim.url, `/nar/${p.narKey}.nar`, { headers: { range: `bytes=${8 * MiB}-` } })
        await new Promise((resolve) => setTimeout(resolve, 200))
        swarm.release()
        const [a, b] = await Promise.all([whole, tail])
        assert.equal(a.status, 200)
        assert.ok(a.body.equals(p.bytes), 'the request at the edge got every byte right')
        assert.equal(b.status, 206)
        assert.ok(b.body.equals(p.bytes.subarray(8 * MiB)), 'the range within the recent bytes too')
      })

    it('serves a request that joins a download late: the older bytes, then the new ones as they arrive', async () => {
      const MiB = 1024 * 1024
      const p = fakePath('late', 12 * MiB)
      agreeAndHold(p)
      assert.equal((await get(shim.url, `/${p.hashPart}.narinfo`)).status, 200)
      swarm.hold(10 * MiB + 12_345)
      const first = get(shim.url, `/nar/${p.narKey}.nar`)
      await waitFor('10 MiB spooled', async () => (await spoolFile(10 * MiB)) !== undefined)
      const late = get(shim.url, `/nar/${p.narKey}.nar`)
      const lateRange = get(shim.url, `/nar/${p.narKey}.nar`, { headers: { range: `bytes=${3 * MiB + 7}-` } })
      await new Promise((resolve) => setTimeout(resolve, 200))
      swarm.release()
      for (const r of await Promise.all([first, late])) {
        assert.equal(r.status, 200)
        assert.ok(r.body.equals(p.bytes))
      }
      const r = await lateRange
      assert.equal(r.status, 206)
      assert.ok(r.body.equals(p.bytes.subarray(3 * MiB + 7)))
      assert.equal(swarm.requests.length, 1, 'one fetch for all three')
    })

    it('cuts the connection (never a complete 200) when the source fails mid-stream', async () => {
      const p = fakePath('flaky', 1024 * 1024)
      agreeAndHold(p)
      await get(shim.url, `/${p.hashPart}.narinfo`)
      swarm.failAfter = 512 * 1024
      const outcome = await getOutcome(shim.url, `/nar/${p.narKey}.nar`)
      assert.match(outcome, /^cut/)
      assert.equal(shim.stats().cachedNars, 0)
      swarm.failAfter = undefined
      const ok = await get(shim.url, `/nar/${p.narKey}.nar`)
      assert.ok(ok.body.equals(p.bytes))
    })

    it('falls back to the upstream when the swarm does not have the NAR', async () => {
      const p = fakePath('upstream-only', 100_000)
      orch.files.set(`/${p.hashPart}.narinfo`, p.narinfo)
      up.files.set(`/${p.hashPart}.narinfo`, p.narinfo)
      up.files.set(`/nar/${p.narKey}.nar`, p.bytes)
      assert.equal((await get(shim.url, `/${p.hashPart}.narinfo`)).status, 200)
      assert.ok((await get(shim.url, `/nar/${p.narKey}.nar`)).body.equals(p.bytes))
      assert.equal(swarm.requests.length, 1)
      assert.equal(up.count('/nar/'), 1)
    })

    it('hands the agreed manifest root from the agreement record to the swarm', async () => {
      const p = fakePath('agreed', 10_000)
      const q = fakePath('mismatch', 10_000)
      agreeAndHold(p, q)
      orch.files.set(
        `/api/v1/agreements/${p.hashPart}`,
        JSON.stringify({
          agreement: { outPath: p.storePath, narHash: p.narHash, narSize: 10_000, manifestRoot: ROOT }
        })
      )
      orch.files.set(
        `/api/v1/agreements/${q.hashPart}`,
        JSON.stringify({
          agreement: { outPath: q.storePath, narHash: p.narHash, narSize: 10_000, manifestRoot: ROOT }
        })
      )
      for (const x of [p, q]) {
        await get(shim.url, `/${x.hashPart}.narinfo`)
        assert.ok((await get(shim.url, `/nar/${x.narKey}.nar`)).body.equals(x.bytes))
      }
      assert.deepEqual(swarm.requests, [{ narHash: p.narHash, manifestRoot: ROOT }, { narHash: q.narHash }])
    })

    it("takes the manifest root from the narinfo's x-narthex-manifest-root header, in one request", async () => {
      const p = fakePath('header-root', 10_000)
      const q = fakePath('header-not-a-cid', 10_000)
      agreeAndHold(p, q)
      orch.headers.set(`/${p.hashPart}.narinfo`, { 'x-narthex-manifest-root': ROOT })
      // Not a CID: ignored, and the agreement record (absent here) is asked as before.
      orch.headers.set(`/${q.hashPart}.narinfo`, { 'x-narthex-manifest-root': 'Qm-not-a-cid' })
      for (const x of [p, q]) {
        assert.equal((await get(shim.url, `/${x.hashPart}.narinfo`)).status, 200)
        assert.ok((await get(shim.url, `/nar/${x.narKey}.nar`)).body.equals(x.bytes))
      }
      assert.deepEqual(swarm.requests, [{ narHash: p.narHash, manifestRoot: ROOT }, { narHash: q.narHash }])
      assert.equal(orch.count(`/api/v1/agreements/${p.hashPart}`), 0, 'no second request with the header')
      assert.equal(orch.count(`/api/v1/agreements/${q.hashPart}`), 1)
    })

    it('abandons a source that stalls before sending anything and falls back to the next', async () => {
      const p = fakePath('stalled', 300_000)
      orch.files.set(`/${p.hashPart}.narinfo`, p.narinfo)
      up.files.set(`/${p.hashPart}.narinfo`, p.narinfo)
      up.files.set(`/nar/${p.narKey}.nar`, p.bytes)
      swarm.add(p)
      swarm.hold(0)
      await get(shim.url, `/${p.hashPart}.narinfo`)
      const r = await get(shim.url, `/nar/${p.narKey}.nar`)
      assert.equal(r.status, 200)
      assert.ok(r.body.equals(p.bytes))
      assert.equal(up.count('/nar/'), 1)
      assert.equal(shim.stats().nar.fetchesFailed, 1)
    })
  })

describe('shim NAR delivery on a full disk', function () {
  this.timeout(30_000)
  let disk: { path: string; cleanup: () => Promise<void> }
  let mnt: string
  let orch: CacheServer
  let swarm: MemorySource
  let shim: Shim

  before(async () => {
    disk = await smallDisk('8m')
    mnt = disk.path
    orch = await startCacheServer()
    swarm = new MemorySource()
    shim = createShim({
      data: join(mnt, 'shim'),
      listen: { host: '127.0.0.1', port: 0 },
      orchestrator: orch.url,
      swarm,
      prefetch: false,
      fsync: false
    })
    await shim.start()
  })

  after(async () => {
    await shim.stop()
    await orch.close()
    await disk.cleanup()
  })

  it('cuts a NAR whose spool fills the disk, cleans up, and goes on serving', async () => {
    const big = fakePath('too-big', 16 * 1024 * 1024)
    const small = fakePath('fits', 200_000)
    for (const p of [big, small]) {
      orch.files.set(`/${p.hashPart}.narinfo`, p.narinfo)
      swarm.add(p)
      assert.equal((await get(shim.url, `/${p.hashPart}.narinfo`)).status, 200)
    }
    const outcome = await getOutcome(shim.url, `/nar/${big.narKey}.nar`)
    assert.match(outcome, /^cut/, 'never a complete 200 for a NAR the shim could not hold')
    const failedFetch = () => shim.status().recentFetches.find((f) => f.storePath === big.storePath && !f.ok)
    await waitFor('the failed fetch to be recorded', () => failedFetch() !== undefined)
    const failed = failedFetch()!
    assert.match(failed.error?.message ?? '', /ENOSPC|no space/i)
    await waitFor('the spool removed', async () => (await readdir(join(mnt, 'shim', 'tmp'))).length === 0)
    const r = await get(shim.url, `/nar/${small.narKey}.nar`)
    assert.equal(r.status, 200)
    assert.ok(r.body.equals(small.bytes))
    await waitFor('the small NAR imported', () => shim.stats().cachedNars === 1, 10_000)
  })
})
