import assert from 'node:assert/strict'
import { readdir, readFile, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CHUNKER, chunkCid, ingestNar, MAX_CHUNK_SIZE, narCidFromNarHash } from '@narthex/content'
import fc from 'fast-check'
import { smallDisk, tempDir } from '../../../test/util/index.js'
import { READ_AHEAD } from '../src/constants.js'
import { createStore, type Store } from '../src/index.js'
import { collect, detBytes, filesUnder, narHashOf, narinfoFor, piecesOf } from './util.js'

/** Two NARs sharing most bytes: B is A with 100 bytes inserted in the middle. */
const A = detBytes(1_500_000, 'nar A')
const B = Buffer.concat([A.subarray(0, 700_000), detBytes(100, 'insert'), A.subarray(700_000)])

describe('store', () => {
  let dir: { path: string; cleanup: () => Promise<void> }
  let store: Store
  const events: Array<[string, unknown]> = []

  beforeEach(async () => {
    dir = await tempDir('narthex-store-')
    store = createStore({ dir: dir.path })
    await store.start()
    events.length = 0
    for (const type of ['nar:added', 'nar:removed', 'chunk:corrupt'] as const) {
      store.addEventListener(type, (e) => events.push([type, e.detail]))
    }
  })
  afterEach(async () => {
    await store.stop()
    await dir.cleanup()
  })

  const chunkFiles = async () => (await filesUnder(join(dir.path, 'chunks'))).map((f) => f.split('/')[1]!)

  it('imports a NAR, reads it back whole, and lists it', async () => {
    const r = await store.importNar(piecesOf(A), { expect: { narHash: narHashOf(A), narSize: A.length } })
    assert.equal(r.narHash, narHashOf(A))
    assert.equal(r.narSize, A.length)
    assert.equal(r.created, r.chunkCount)
    assert.ok(await store.hasNar(r.narHash))
    assert.ok(await store.hasNar(narCidFromNarHash(r.narHash)))
    assert.ok(await store.hasNar(r.root))
    assert.deepEqual(await collect(store.readNar(r.narHash)), A)
    const listed = []
    for await (const e of store.listNars()) listed.push(e)
    assert.deepEqual(
      listed.map((e) => [e.narHash, e.chunkCount, e.pinned, e.damaged]),
      [[r.narHash, r.chunkCount, false, false]]
    )
    // Chunk files are named by CID in sharded directories; nothing is left in tmp/.
    const files = await filesUnder(join(dir.path, 'chunks'))
    assert.equal(files.length, r.chunkCount)
    for (const f of files) {
      const [shard, name] = f.split('/')
      assert.equal(shard, name!.slice(-3, -1))
    }
    assert.deepEqual(await filesUnder(join(dir.path, 'tmp')), [])
    assert.deepEqual(
      events.map(([t]) => t),
      ['nar:added']
    )
  })

  it('imports large NARs through the hash and writer threads, deduplicating against what is stored', async () => {
    // ≥ 4 MiB and ≥ 64 chunks: hashed on the HashWorkers threads, written by the writer threads after the first
    // 64 chunks. The second NAR shares its first 6 MB with the first, so its writes meet existing files.
    const big = detBytes(10_000_000, 'big nar')
    const bigger = Buffer.concat([big.subarray(0, 6_000_000), detBytes(3_000_000, 'bigger tail')])
    const r1 = await store.importNar(piecesOf(big, 1 << 20))
    const r2 = await store.importNar(piecesOf(bigger, 300_000))
    assert.equal(r1.narHash, narHashOf(big))
    assert.equal(r2.narHash, narHashOf(bigger))
    assert.equal(r1.created, r1.chunkCount)
    assert.ok(r2.created < r2.chunkCount - 50, `${r2.created} of ${r2.chunkCount} chunks written again`)
    assert.deepEqual(await collect(store.readNar(r1.narHash)), big)
    assert.deepEqual(await collect(store.readNar(r2.narHash)), bigger)
    assert.deepEqual(await filesUnder(join(dir.path, 'tmp')), [])
    const report = await store.verify()
    assert.deepEqual([report.corrupt, report.missing, report.damagedNars], [[], [], []])
  })

  it('answers hasNar and getManifest from records in memory that follow every change to the index', async () => {
    const r = await store.importNar(piecesOf(A))
    assert.equal(await store.hasNar(r.narHash), true)
    assert.equal(await store.removeNar(r.narHash), true)
    // Absent now, and remembered as absent...
    assert.equal(await store.hasNar(r.narHash), false)
    assert.equal(await store.getManifest(r.narHash), undefined)
    // ...until it is imported again, with reads racing the import's commit.
    const racing = Array.from({ length: 20 }, () => store.hasNar(r.narHash))
    await store.importNar(piecesOf(A))
    await Promise.all(racing)
    assert.equal(await store.hasNar(r.narHash), true)
    assert.equal((await store.getManifest(r.narHash))?.root.toString(), r.root.toString())
    // A pin (another key) and listing (which reads the index directly) agree with it.
    await store.pin(r.narHash)
    const entries = []
    for await (const e of store.listNars()) entries.push(e)
    assert.deepEqual(
      entries.map((e) => [e.narHash, e.pinned, e.damaged]),
      [[r.narHash, true, false]]
    )
  })

  it('stores chunks shared by two NARs once', async () => {
    const a = await store.importNar(piecesOf(A))
    const b = await store.importNar(piecesOf(B))
    assert.ok(b.created <= 3, `B wrote ${b.created} new chunks`)
    const { storedBytes } = await store.stats()
    assert.ok(storedBytes < A.length + 300_000, `stored ${storedBytes} for ${A.length + B.length}`)
    assert.deepEqual(await collect(store.readNar(b.narHash)), B)
    // Removing A keeps every chunk B needs.
    assert.equal(await store.removeNar(a.narHash), true)
    assert.equal(await store.hasNar(a.narHash), false)
    assert.deepEqual(await collect(store.readNar(b.narHash)), B)
    assert.equal((await chunkFiles()).length, b.chunkCount)
    await store.removeNar(b.narHash)
    assert.deepEqual(await chunkFiles(), [])
    assert.deepEqual(await filesUnder(join(dir.path, 'manifests')), [])
    assert.equal((await store.stats()).storedBytes, 0)
  })

  it('reads any byte range', async () => {
    const { narHash } = await store.importNar(piecesOf(A))
    await fc.assert(
      fc.asyncProperty(fc.nat(A.length), fc.nat(A.length), async (x, y) => {
        const [start, end] = x <= y ? [x, y] : [y, x]
        assert.deepEqual(await collect(store.readNar(narHash, { start, end })), A.subarray(start, end))
      }),
      { numRuns: 40 }
    )
    for (const [start, end] of [
      [-1, 10],
      [10, 5],
      [0, A.length + 1]
    ]) {
      await assert.rejects(collect(store.readNar(narHash, { start, end })), { name: 'InvalidRangeError' })
    }
    await assert.rejects(collect(store.readNar(narHashOf(Buffer.from('absent')))), {
      name: 'NarNotFoundError'
    })
  })

  it('commits nothing when the NAR does not match what was claimed', async () => {
    await assert.rejects(store.importNar(piecesOf(A), { expect: { narHash: narHashOf(B) } }), {
      name: 'NarHashMismatchError'
    })
    await assert.rejects(store.importNar(piecesOf(A), { expect: { narSize: A.length - 1 } }), {
      name: 'NarSizeMismatchError'
    })
    await assert.rejects(store.importNar(piecesOf(A), { expect: { narSize: A.length + 1 } }), {
      name: 'NarSizeMismatchError'
    })
    const wrong = narinfoFor(B, 'wrong').text
    await assert.rejects(store.importNar(piecesOf(A), { narinfo: wrong }), { name: 'NarHashMismatchError' })
    await assert.rejects(store.importNar(piecesOf(A), { narinfo: 'StorePath: nonsense\n' }), {
      name: 'NarinfoParseError'
    })
    async function* truncated(): AsyncGenerator<Uint8Array> {
      yield A.subarray(0, 500_000)
      throw Object.assign(new Error('socket hang up'), { name: 'ConnectionResetError' })
    }
    await assert.rejects(store.importNar(truncated()), { name: 'ConnectionResetError' })
    assert.deepEqual(await chunkFiles(), [])
    assert.deepEqual(await filesUnder(join(dir.path, 'tmp')), [])
    assert.deepEqual(await filesUnder(join(dir.path, 'manifests')), [])
    assert.equal((await store.stats()).nars, 0)
    assert.deepEqual(events, [])
  })

  it('keeps the narinfo text, signatures included, under its store path hash', async () => {
    const { text, hashPart } = narinfoFor(A, 'hello-1.0')
    const r = await store.importNar(piecesOf(A), { narinfo: text })
    assert.deepEqual(r.storePathHashes, [hashPart])
    const got = await store.getNarinfo(hashPart)
    assert.equal(got?.text, text)
    assert.equal(got?.narHash, r.narHash)
    assert.equal(await store.getNarinfo('0'.repeat(32)), undefined)
    await store.removeNar(r.narHash)
    assert.equal(await store.getNarinfo(hashPart), undefined)
  })

  it('assembles a NAR from chunks put one by one, as a download does, and resumes', async () => {
    const chunks: Array<{ cid: ReturnType<typeof chunkCid>; bytes: Uint8Array }> = []
    const { manifestBytes, narHash } = await ingestNar(piecesOf(A), {
      onChunk: (c) => void chunks.push({ cid: c.cid, bytes: Buffer.from(c.bytes) })
    })
    await assert.rejects(store.putChunk(chunks[0]!.cid, chunks[1]!.bytes), { name: 'ChunkHashMismatchError' })
    for (const c of chunks.slice(0, 5)) assert.equal(await store.putChunk(c.cid, c.bytes), true)
    await assert.rejects(store.commitNar(manifestBytes), { name: 'MissingChunksError' })
    assert.equal(await store.hasNar(narHash), false)
    // "Restart" and resume: what was put is still there.
    await store.stop()
    store = createStore({ dir: dir.path })
    await store.start()
    store.addEventListener('nar:added', (e) => events.push(['nar:added', e.detail]))
    for (const c of chunks) {
      if (!(await store.hasChunk(c.cid))) await store.putChunk(c.cid, c.bytes)
    }
    assert.equal(await store.putChunk(chunks[0]!.cid, chunks[0]!.bytes), false)
    const { text } = narinfoFor(A, 'downloaded')
    const entry = await store.commitNar(manifestBytes, { narinfo: text, pin: true })
    assert.equal(entry.pinned, true)
    assert.deepEqual(await collect(store.readNar(narHash)), A)
    assert.deepEqual(
      events.map(([t]) => t),
      ['nar:added']
    )
    // Committing again is a no-op.
    await store.commitNar(manifestBytes)
    assert.equal(events.length, 1)
    const served = await store.getManifest(narHash)
    assert.deepEqual(served?.bytes, Buffer.from(manifestBytes))
    assert.deepEqual(await store.getChunk(chunks[3]!.cid), chunks[3]!.bytes)
  })

  it('quarantines a corrupt chunk on read, withdraws its NARs, and repairs them when re-put', async () => {
    const r = await store.importNar(piecesOf(A))
    const { manifest, bytes: manifestBytes } = (await store.getManifest(r.narHash))!
    const victim = manifest.chunks[2]!.cid
    const path = join(dir.path, 'chunks', victim.toString().slice(-3, -1), victim.toString())
    const good = await readFile(path)
    const bad = Buffer.from(good)
    bad[100]! ^= 0xff
    await writeFile(path, bad)
    await assert.rejects(store.getChunk(victim), { name: 'ChunkCorruptError' })
    assert.equal((await filesUnder(join(dir.path, 'quarantine'))).length, 1)
    assert.equal(await store.hasNar(r.narHash), false)
    await assert.rejects(collect(store.readNar(r.narHash)), { name: 'NarDamagedError' })
    assert.deepEqual(
      events.map(([t]) => t),
      ['nar:added', 'chunk:corrupt', 'nar:removed']
    )
    assert.deepEqual(events[1]![1], { cid: victim.toString(), reason: 'corrupt', narHashes: [r.narHash] })
    assert.deepEqual(events[2]![1], { narHash: r.narHash, reason: 'damaged' })
    assert.equal(await store.getChunk(victim), undefined)
    await store.putChunk(victim, good)
    await store.commitNar(manifestBytes)
    assert.equal(await store.hasNar(r.narHash), true)
    assert.deepEqual(await collect(store.readNar(r.narHash)), A)
    assert.equal(events.at(-1)![0], 'nar:added')
  })

  it('serves groups of chunks with getChunks: in order, absent ones undefined, corrupt ones quarantined', async () => {
    const r = await store.importNar(piecesOf(A))
    const { manifest } = (await store.getManifest(r.narHash))!
    const cids = manifest.chunks.map((c) => c.cid)
    assert.ok(cids.length >= 4, `${cids.length} chunks`)
    const expected = await Promise.all(cids.map((c) => store.getChunk(c)))
    const absent = chunkCid(Uint8Array.of(1, 2, 3))
    const got = await store.getChunks([...cids, absent, cids[0]!])
    assert.equal(got.length, cids.length + 2)
    for (const i of cids.keys()) assert.deepEqual(Buffer.from(got[i]!), Buffer.from(expected[i]!))
    assert.equal(got[cids.length], undefined)
    assert.deepEqual(Buffer.from(got.at(-1)!), Buffer.from(expected[0]!))
    assert.deepEqual(await store.getChunks([]), [])
    // maxBytes: only the chunks from the start that fit, and at least one.
    const sizes = expected.map((b) => b!.byteLength)
    assert.equal((await store.getChunks(cids, { maxBytes: 1 })).length, 1)
    const two = await store.getChunks(cids, { maxBytes: sizes[0]! + sizes[1]! })
    assert.deepEqual(
      two.map((b) => Buffer.from(b!)),
      [Buffer.from(expected[0]!), Buffer.from(expected[1]!)]
    )
    assert.equal((await store.getChunks(cids, { maxBytes: sizes[0]! + sizes[1]! - 1 })).length, 1)
    await assert.rejects(store.getChunks([r.root]), { name: 'InvalidCidError' })

    // Bit rot in one chunk, and another replaced by a file larger than any chunk may be: both are quarantined,
    // the rest of the group is still served.
    const path = (cid: (typeof cids)[number]) =>
      join(dir.path, 'chunks', cid.toString().slice(-3, -1), cid.toString())
    const rotten = Buffer.from(expected[1]!)
    rotten[7]! ^= 0x10
    await writeFile(path(cids[1]!), rotten)
    await writeFile(path(cids[2]!), Buffer.alloc(MAX_CHUNK_SIZE + 1))
    const after = await store.getChunks(cids)
    assert.deepEqual(
      after.map((b) => b !== undefined),
      cids.map((_, i) => i !== 1 && i !== 2)
    )
    assert.deepEqual(Buffer.from(after[3]!), Buffer.from(expected[3]!))
    assert.equal((await filesUnder(join(dir.path, 'quarantine'))).length, 2)
    assert.equal(await store.hasNar(r.narHash), false)
    assert.deepEqual(
      events.filter(([t]) => t === 'chunk:corrupt').map(([, d]) => (d as { cid: string }).cid),
      [cids[1]!.toString(), cids[2]!.toString()]
    )
  })

  it('detects bit rot while streaming a NAR', async () => {
    const r = await store.importNar(piecesOf(A))
    const { manifest } = (await store.getManifest(r.narHash))!
    const victim = manifest.chunks.at(-1)!.cid.toString()
    const path = join(dir.path, 'chunks', victim.slice(-3, -1), victim)
    const bytes = await readFile(path)
    bytes[0]! ^= 1
    await writeFile(path, bytes)
    await assert.rejects(collect(store.readNar(r.narHash)), { name: 'ChunkCorruptError' })
    assert.equal(await store.hasNar(r.narHash), false)
  })

  it('reads ranges across ~1 MiB read groups, with and without re-hashing', async () => {
    const big = detBytes(5_000_000, 'groups')
    const { narHash } = await store.importNar(piecesOf(big, 700_000))
    const whole = await collect(store.readNar(narHash))
    assert.ok(whole.equals(big))
    await fc.assert(
      fc.asyncProperty(fc.nat(big.length), fc.nat(big.length), fc.boolean(), async (x, y, verify) => {
        const [start, end] = x <= y ? [x, y] : [y, x]
        const got = await collect(store.readNar(narHash, { start, end, verify }))
        assert.ok(got.equals(big.subarray(start, end)))
      }),
      { numRuns: 30 }
    )
  })

  it('reads ranges on the reader thread into a few reused buffers (reuseBuffers)', async () => {
    const big = detBytes(5_000_000, 'reused')
    const { narHash } = await store.importNar(piecesOf(big, 700_000))
    // Each view is valid until the next is asked for: copy it at once, as a consumer whose write has completed.
    const read = async (start?: number, end?: number) => {
      const views: Uint8Array[] = []
      const parts: Buffer[] = []
      for await (const v of store.readNar(narHash, { start, end, verify: false, reuseBuffers: true })) {
        views.push(v)
        parts.push(Buffer.from(v))
      }
      return { views, bytes: Buffer.concat(parts) }
    }
    const whole = await read()
    assert.ok(whole.bytes.equals(big))
    // Five groups of ~1 MiB came out of one SharedArrayBuffer of READ_AHEAD slots.
    assert.ok(whole.views.length >= 5, `${whole.views.length} views`)
    const shared = whole.views[0]!.buffer
    assert.ok(shared instanceof SharedArrayBuffer)
    assert.ok(whole.views.every((v) => v.buffer === shared))
    assert.equal(new Set(whole.views.map((v) => v.byteOffset)).size, READ_AHEAD)
    await fc.assert(
      fc.asyncProperty(fc.nat(big.length), fc.nat(big.length), async (x, y) => {
        const [start, end] = x <= y ? [x, y] : [y, x]
        assert.ok((await read(start, end)).bytes.equals(big.subarray(start, end)))
      }),
      { numRuns: 30 }
    )
    // A consumer that stops early leaves the store usable.
    for await (const _ of store.readNar(narHash, { verify: false, reuseBuffers: true })) break
    assert.ok((await read(10, 20)).bytes.equals(big.subarray(10, 20)))
  })

  it('with reuseBuffers, a missing chunk file damages the NAR and a short one is quarantined', async () => {
    const a = await store.importNar(piecesOf(A))
    const other = detBytes(1_200_000, 'short')
    const o = await store.importNar(piecesOf(other))
    const path = (c: string) => join(dir.path, 'chunks', c.slice(-3, -1), c)
    const reused = (narHash: string) => collect(store.readNar(narHash, { verify: false, reuseBuffers: true }))
    const am = (await store.getManifest(a.narHash))!.manifest
    await unlink(path(am.chunks.at(-1)!.cid.toString()))
    await assert.rejects(reused(a.narHash), { name: 'NarDamagedError', message: /is missing from the store/ })
    assert.equal(await store.hasNar(a.narHash), false)
    const om = (await store.getManifest(o.narHash))!.manifest
    const cut = om.chunks[1]!.cid.toString()
    await writeFile(path(cut), (await readFile(path(cut))).subarray(1))
    await assert.rejects(reused(o.narHash), { name: 'ChunkCorruptError', message: /quarantined/ })
    assert.equal(await store.hasNar(o.narHash), false)
    const reported = events
      .filter(([t]) => t === 'chunk:corrupt')
      .map(([, d]) => d as { cid: string; reason: string })
    assert.deepEqual(
      reported.map((d) => [d.cid, d.reason]),
      [
        [am.chunks.at(-1)!.cid.toString(), 'missing'],
        [cut, 'corrupt']
      ]
    )
    assert.equal((await readdir(join(dir.path, 'quarantine'))).length, 1)
  })

  it('without verify, skips the re-hash but still quarantines a chunk file shorter than its manifest entry', async () => {
    const r = await store.importNar(piecesOf(A))
    const { manifest } = (await store.getManifest(r.narHash))!
    const path = (c: string) => join(dir.path, 'chunks', c.slice(-3, -1), c)
    // A flipped byte is not looked for (the reader's own client checks the whole NAR)...
    const flipped = manifest.chunks[0]!.cid.toString()
    const bytes = await readFile(path(flipped))
    bytes[0]! ^= 1
    await writeFile(path(flipped), bytes)
    const read = await collect(store.readNar(r.narHash, { verify: false }))
    assert.equal(read.length, A.length)
    assert.ok(!read.equals(A))
    // ...a truncated file is.
    const cut = manifest.chunks.at(-1)!.cid.toString()
    await writeFile(path(cut), (await readFile(path(cut))).subarray(1))
    await assert.rejects(collect(store.readNar(r.narHash, { verify: false })), { name: 'ChunkCorruptError' })
    assert.equal(await store.hasNar(r.narHash), false)
  })

  it('verify re-hashes everything and reports corrupt and missing chunks', async () => {
    const a = await store.importNar(piecesOf(A))
    const other = detBytes(300_000, 'other')
    const o = await store.importNar(piecesOf(other))
    const clean = await store.verify()
    assert.deepEqual([clean.corrupt, clean.missing, clean.damagedNars], [[], [], []])
    assert.equal(clean.chunksChecked, a.chunkCount + o.chunkCount)
    const { manifest } = (await store.getManifest(a.narHash))!
    const [c1, c2] = [manifest.chunks[0]!.cid.toString(), manifest.chunks[1]!.cid.toString()]
    const p = (c: string) => join(dir.path, 'chunks', c.slice(-3, -1), c)
    await writeFile(p(c1), 'rotten')
    await unlink(p(c2))
    const report = await store.verify()
    assert.deepEqual(report.corrupt, [c1])
    assert.deepEqual(report.missing, [c2])
    assert.deepEqual(report.damagedNars, [a.narHash])
    assert.equal(await store.hasNar(o.narHash), true)
    assert.equal(await store.hasNar(a.narHash), false)
  })

  it('keeps verified manifests in memory, yet verify reads each file and finds one that rotted', async () => {
    const a = await store.importNar(piecesOf(A))
    const root = a.root.toString()
    const file = join(dir.path, 'manifests', root.slice(-3, -1), root)
    // Committed just now: reads are served from memory, even with the file gone bad underneath.
    await writeFile(file, 'rotten')
    assert.deepEqual(await collect(store.readNar(a.narHash)), A)
    assert.equal((await store.getManifest(a.narHash))?.root.toString(), root)
    // verify always reads the file: the NAR is damaged and reads stop.
    const report = await store.verify()
    assert.deepEqual(report.damagedNars, [a.narHash])
    await assert.rejects(collect(store.readNar(a.narHash)), { name: 'NarDamagedError' })
    // A store that did not commit it reads the file, and refuses it.
    await store.stop()
    store = createStore({ dir: dir.path })
    await store.start()
    await assert.rejects(collect(store.readNar(a.narHash)), { name: 'NarDamagedError' })
    // Removing and importing it again replaces the manifest; reads work from memory and from the file.
    assert.equal(await store.removeNar(a.narHash), true)
    await store.importNar(piecesOf(A))
    assert.deepEqual(await readFile(file), Buffer.from((await store.getManifest(a.narHash))!.bytes))
    await store.stop()
    store = createStore({ dir: dir.path })
    await store.start()
    assert.deepEqual(await collect(store.readNar(a.narHash)), A)
  })

  it('evicts least recently used unpinned NARs to fit a quota, and removes leftovers', async () => {
    const nars = ['n0', 'n1', 'n2', 'n3'].map((s) => detBytes(200_000, s))
    const entries = []
    for (const n of nars) entries.push(await store.importNar(piecesOf(n)))
    await store.pin(entries[0]!.narHash)
    // Read n1 so that n2 is now the least recently used unpinned NAR.
    const t = Date.now()
    while (Date.now() === t) await new Promise((r) => setImmediate(r))
    await collect(store.readNar(entries[1]!.narHash))
    const report = await store.gc({ maxSize: 450_000 })
    assert.deepEqual(report.evicted, [entries[2]!.narHash, entries[3]!.narHash])
    assert.ok((await store.stats()).storedBytes <= 450_000)
    assert.equal(await store.hasNar(entries[0]!.narHash), true)
    assert.equal(await store.hasNar(entries[1]!.narHash), true)
    // A loose chunk (put but never committed) survives gc within its grace period, not after.
    const loose = detBytes(1000, 'loose')
    await store.putChunk(chunkCid(loose), loose)
    assert.equal((await store.gc()).chunksRemoved, 0)
    assert.equal((await store.gc({ looseGraceMs: -1 })).chunksRemoved, 1)
    assert.equal(await store.hasChunk(chunkCid(loose)), false)
    assert.equal(await store.hasNar(entries[1]!.narHash), true)
  })

  it('refuses a second process on the same data directory with a clear error', async () => {
    const other = createStore({ dir: dir.path })
    await assert.rejects(other.start(), (err: Error) => {
      assert.equal(err.name, 'StoreLockedError')
      assert.ok(err.message.includes(dir.path))
      return true
    })
  })

  it('cleans temp files left by a crash at start', async () => {
    await store.stop()
    await writeFile(join(dir.path, 'tmp', '123-1-abcd.tmp'), 'partial')
    store = createStore({ dir: dir.path })
    await store.start()
    assert.deepEqual(await filesUnder(join(dir.path, 'tmp')), [])
  })

  it('uses the chunker it is given and records it in the manifest', async () => {
    assert.equal((await store.importNar(piecesOf(A))).chunker, CHUNKER.name)
  })
})

describe('store on a full disk', () => {
  let mnt: string
  let disk: { path: string; cleanup: () => Promise<void> }
  before(async () => {
    disk = await smallDisk('2m')
    mnt = disk.path
  })
  after(async () => {
    await disk.cleanup()
  })

  it('fails an import with StoreFullError and leaves the store as it was', async () => {
    const store = createStore({ dir: mnt })
    await store.start()
    try {
      const small = detBytes(200_000, 'fits')
      const ok = await store.importNar(piecesOf(small))
      const before = await filesUnder(join(mnt, 'chunks'))
      await assert.rejects(store.importNar(piecesOf(detBytes(4_000_000, 'too big'))), {
        name: 'StoreFullError'
      })
      assert.deepEqual(await filesUnder(join(mnt, 'chunks')), before)
      assert.deepEqual(await filesUnder(join(mnt, 'tmp')), [])
      assert.equal((await store.stats()).nars, 1)
      assert.deepEqual(await collect(store.readNar(ok.narHash)), small)
    } finally {
      await store.stop()
    }
  })
})
