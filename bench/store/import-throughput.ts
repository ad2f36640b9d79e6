/**
 * Import throughput of a 256 MiB NAR from a local file into the store (hash + chunk + write), against plain
 * SHA-256 of the same bytes read the same way, in the same run, and against two disk baselines that do no hashing
 * or chunking: writing the same bytes as the same number of files of the same sizes, durably (temp → fsync →
 * rename, directory fsyncs), and writing them as one file with one fsync (dd-like). Rounds are interleaved;
 * medians are reported, with the CPU time each case used (this thread, and all threads of the process).
 *
 *   node --conditions=source --import tsx bench/store/import-throughput.ts [--mib 256] [--rounds 5] [--dir DIR]
 *
 * Higher ratios are better; the goal is import ≥ 0.5 × SHA-256.
 */
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import {
  close,
  createReadStream,
  fsync,
  open as openCb,
  readFileSync,
  rename as renameCb,
  write
} from 'node:fs'
import { mkdir, mkdtemp, open, rm } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Worker } from 'node:worker_threads'
import { CHUNKER, chunkBytes, chunkCid, FastCdc, HashWorkers, ingestNar } from '@narthex/content'
import { createStore } from '@narthex/store'

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '256' },
    rounds: { type: 'string', default: '5' },
    dir: { type: 'string' }
  }
})
const MIB = Number(values.mib)
const ROUNDS = Number(values.rounds)
const base = await mkdtemp(join(values.dir ?? tmpdir(), 'narthex-bench-import-'))

/** A NAR of one regular file of MIB MiB of random bytes (what `nix-store --dump` writes for such a file). */
async function writeNar(path: string, size: number): Promise<void> {
  const str = (s: string | Buffer) => {
    const b = typeof s === 'string' ? Buffer.from(s) : s
    const len = Buffer.alloc(8)
    len.writeBigUInt64LE(BigInt(b.length))
    return Buffer.concat([len, b, Buffer.alloc((8 - (b.length % 8)) % 8)])
  }
  const fh = await open(path, 'w')
  await fh.write(Buffer.concat(['nix-archive-1', '(', 'type', 'regular', 'contents'].map(str)))
  const len = Buffer.alloc(8)
  len.writeBigUInt64LE(BigInt(size))
  await fh.write(len)
  for (let i = 0; i < size; i += 1 << 20) await fh.write(randomBytes(Math.min(1 << 20, size - i)))
  await fh.write(str(')'))
  await fh.close()
}

const read = () => createReadStream(nar, { highWaterMark: 1 << 20 })
const nar = join(base, 'bench.nar')
await writeNar(nar, MIB << 20)

async function sha256Only(): Promise<void> {
  const h = createHash('sha256')
  for await (const b of read()) h.update(b as Buffer)
  h.digest()
}

/** The single-threaded alternative: NarHash, chunker and chunk hashes all on this thread. */
async function ingestSync(): Promise<void> {
  const h = createHash('sha256')
  const cdc = new FastCdc(CHUNKER)
  for await (const b of read()) {
    h.update(b as Buffer)
    for (const c of cdc.push(b as Buffer)) chunkCid(c)
  }
  const last = cdc.finish()
  if (last) chunkCid(last)
  h.digest()
}

async function ingestOnly(): Promise<void> {
  await ingestNar(read())
}

const hashWorkers = new HashWorkers()
hashWorkers.start()
async function ingestWorkers(): Promise<void> {
  await ingestNar(read(), { hashWorkers })
}

/** Sizes of the chunks the import writes (computed once, untimed), for the file-writing baseline. */
const chunkSizes = chunkBytes(readFileSync(nar), CHUNKER).map((c) => c.length)
const SHARDS = 1024

/** Open, write, fsync, close, rename: the least a durable write of one new file takes. */
function writeDurably(tmp: string, path: string, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    openCb(tmp, 'wx', (err, fd) => {
      if (err) return reject(err)
      const from = (offset: number): void =>
        write(fd, bytes, offset, bytes.length - offset, null, (err, n) => {
          if (err) return reject(err)
          if (offset + n < bytes.length) return from(offset + n)
          fsync(fd, (err) => {
            if (err) return reject(err)
            close(fd, (err) => (err ? reject(err) : renameCb(tmp, path, (e) => (e ? reject(e) : resolve()))))
          })
        })
      from(0)
    })
  })
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  await fh.sync()
  await fh.close()
}

/**
 * Baseline: the same bytes, read the same way, written as files of the chunks' sizes into 1024 shard directories
 * with writes in flight at the store's concurrency (16), each made durable as the store does, then one fsync per
 * directory. No hashing, no chunking, no index. Directories are made before the clock starts, as the store's are.
 */
const writeFiles = async () => {
  const dir = join(base, `files-${n++}`)
  await mkdir(join(dir, 'tmp'), { recursive: true })
  for (let i = 0; i < SHARDS; i++) await mkdir(join(dir, String(i)))
  await syncDir(dir)
  const t = performance.now()
  const writes = new Set<Promise<void>>()
  let k = 0
  let held: Uint8Array[] = []
  let heldBytes = 0
  for await (const b of read()) {
    held.push(b as Buffer)
    heldBytes += (b as Buffer).length
    while (k < chunkSizes.length && heldBytes >= chunkSizes[k]!) {
      const all = held.length === 1 ? held[0]! : Buffer.concat(held)
      const size = chunkSizes[k]!
      const i = k++
      const w = writeDurably(
        join(dir, 'tmp', String(i)),
        join(dir, String(i % SHARDS), String(i)),
        all.subarray(0, size)
      )
      writes.add(w)
      void w.finally(() => writes.delete(w))
      held = [all.subarray(size)]
      heldBytes -= size
      if (writes.size >= 16) await Promise.race(writes)
    }
  }
  await Promise.all(writes)
  for (let i = 0; i < SHARDS; i += 16) {
    await Promise.all(Array.from({ length: 16 }, (_, j) => syncDir(join(dir, String(i + j)))))
  }
  const elapsed = (performance.now() - t) / 1000
  await rm(dir, { recursive: true, force: true })
  return elapsed
}

/** Baseline: the same bytes, read the same way, appended to one file, then one fsync (what `dd conv=fsync` does). */
const writeSequential = async () => {
  const path = join(base, `seq-${n++}`)
  const t = performance.now()
  const fh = await open(path, 'w')
  for await (const b of read()) await fh.write(b as Buffer)
  await fh.sync()
  await fh.close()
  const elapsed = (performance.now() - t) / 1000
  await rm(path, { force: true })
  return elapsed
}

/**
 * The floor: the least work any import with one durable file per chunk must do, on two threads and nothing else.
 * This thread reads the NAR as the others do, copies each piece into one shared buffer the size of the NAR
 * (allocated once: no ring to manage), computes the NarHash and runs FastCDC; one worker thread computes each
 * chunk's SHA-256 and creates its file durably under that name (temp → write → fsync → close → rename), then
 * fsyncs the shard directories. No CIDs, manifest, index, reference counts or error handling. If this cannot
 * reach the goal, no implementation of the store's layout can on this machine.
 */
const FLOOR_WORKER = `
const { parentPort } = require('node:worker_threads')
const fs = require('node:fs')
const { createHash } = require('node:crypto')
let view
parentPort.on('message', (m) => {
  if (m.buffer !== undefined) return void (view = new Uint8Array(m.buffer))
  if (m.dirs !== undefined) {
    for (const d of m.dirs) { const fd = fs.openSync(d, 'r'); fs.fsyncSync(fd); fs.closeSync(fd) }
    return void parentPort.postMessage('synced')
  }
  // Batches are handled in order, so the reply to the directory sync (sent last) means every file is written.
  for (let i = 0; i < m.cuts.length; i += 2) {
    const bytes = view.subarray(m.cuts[i], m.cuts[i] + m.cuts[i + 1])
    const id = createHash('sha256').update(bytes).digest('hex')
    const tmp = m.dir + '/tmp/' + id
    const fd = fs.openSync(tmp, 'wx', 0o644)
    for (let at = 0; at < bytes.length; ) at += fs.writeSync(fd, bytes, at)
    fs.fsyncSync(fd)
    fs.closeSync(fd)
    fs.renameSync(tmp, m.dir + '/' + (parseInt(id.slice(0, 3), 16) % ${SHARDS}) + '/' + id)
  }
})`
/** The whole NAR: MIB MiB of contents plus its few hundred bytes of NAR framing. */
const floorBuffer = new SharedArrayBuffer((MIB << 20) + (1 << 20))
const floorWorker = new Worker(FLOOR_WORKER, { eval: true })
floorWorker.unref()
floorWorker.postMessage({ buffer: floorBuffer })
const floor = async () => {
  const dir = join(base, `floor-${n++}`)
  await mkdir(join(dir, 'tmp'), { recursive: true })
  for (let i = 0; i < SHARDS; i++) await mkdir(join(dir, String(i)))
  await syncDir(dir)
  const view = new Uint8Array(floorBuffer)
  const c = cpuNow()
  const t = performance.now()
  const h = createHash('sha256')
  const cdc = new FastCdc(CHUNKER)
  let at = 0
  let chunkAt = 0
  let cuts: number[] = []
  const send = () => {
    if (cuts.length === 0) return
    floorWorker.postMessage({ cuts, dir })
    cuts = []
  }
  for await (const b of read()) {
    const piece = view.subarray(at, at + (b as Buffer).length)
    piece.set(b as Buffer)
    at += piece.length
    h.update(piece)
    for (const chunk of cdc.push(piece)) {
      cuts.push(chunkAt, chunk.length)
      chunkAt += chunk.length
    }
    if (cuts.length >= 16) send()
  }
  const last = cdc.finish()
  if (last !== undefined) cuts.push(chunkAt, last.length)
  send()
  h.digest()
  floorWorker.postMessage({ dirs: Array.from({ length: SHARDS }, (_, i) => join(dir, String(i))) })
  await once(floorWorker, 'message')
  const wall = (performance.now() - t) / 1000
  const d = cpuNow()
  await rm(dir, { recursive: true, force: true })
  return { wall, main: d.main - c.main, all: d.all - c.all }
}

/** Single-threaded stages over the NAR in memory, for the CPU-time breakdown (one pass each, CPU ms). */
function stageCosts(bytes: Uint8Array): Record<string, number> {
  const cpu = (fn: () => void) => {
    const c = process.cpuUsage()
    fn()
    const d = process.cpuUsage(c)
    return (d.user + d.system) / 1000
  }
  const piecesOf = (fn: (p: Uint8Array) => void) => () => {
    for (let i = 0; i < bytes.length; i += 1 << 20) fn(bytes.subarray(i, i + (1 << 20)))
  }
  const cdc = new FastCdc(CHUNKER)
  const h = createHash('sha256')
  const ring = new Uint8Array(new SharedArrayBuffer(1 << 20))
  return {
    'SHA-256 (one pass)': cpu(piecesOf((p) => h.update(p))),
    'FastCDC (gear loop in WebAssembly, views)': cpu(piecesOf((p) => cdc.push(p))),
    'copy into shared memory (one reused buffer, as the ingest ring)': cpu(piecesOf((p) => ring.set(p))),
    'chunk digests and ids (FastCDC + SHA-256 + CID per chunk)': cpu(() => {
      for (const c of chunkBytes(bytes, CHUNKER)) chunkCid(c).toString()
    })
  }
}

let n = 0
/** Another NAR (8 MiB, ≥ 64 chunks), imported untimed to start a store's hash and writer threads. */
const warmNar = join(base, 'warm.nar')
await writeNar(warmNar, 8 << 20)

/**
 * Import into a fresh store; only importNar is timed (opening the store and removing it afterwards are not).
 * `warm`: the store has imported another large NAR first, so its worker threads are running, as in a seeder that
 * has been up for a while; otherwise their start-up (~0.2–0.3 s of CPU for six threads) is part of the import.
 */
const importInto =
  (fsync: boolean, warm = false) =>
  async () => {
    const dir = join(base, `store-${n++}`)
    const store = createStore({ dir, fsync })
    await store.start()
    if (warm) await store.importNar(createReadStream(warmNar, { highWaterMark: 1 << 20 }))
    const c = cpuNow()
    const t = performance.now()
    await store.importNar(read())
    const wall = (performance.now() - t) / 1000
    const d = cpuNow()
    await store.stop()
    await rm(dir, { recursive: true, force: true })
    return { wall, main: d.main - c.main, all: d.all - c.all }
  }

/** CPU ms of this thread (from /proc; Linux) and of the whole process. */
function cpuNow(): { main: number; all: number } {
  let main = Number.NaN
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    main = (Number(f[11]) + Number(f[12])) * 10 // clock ticks of 10 ms
  } catch {}
  const u = process.cpuUsage()
  return { main, all: (u.user + u.system) / 1000 }
}

const SHA = 'sha256 (baseline)'
const FILES = 'write files, fsync (disk baseline)'
const SEQ = 'write one file, fsync (disk baseline)'
const FLOOR = 'floor: the least work, two threads, no store'
const cases: Array<[string, () => Promise<unknown>]> = [
  [SHA, sha256Only],
  ['hash + chunk, one thread', ingestSync],
  ['hash + chunk (ingestNar, thread pool)', ingestOnly],
  ['hash + chunk (ingestNar, hash workers)', ingestWorkers],
  [FILES, writeFiles],
  [SEQ, writeSequential],
  [FLOOR, floor],
  ['import, no fsync', importInto(false)],
  ['import (fsync)', importInto(true)],
  ['import (fsync), threads already running', importInto(true, true)]
]
const times = new Map<string, number[]>(cases.map(([name]) => [name, []]))
const cpuMain = new Map<string, number[]>(cases.map(([name]) => [name, []]))
const cpuAll = new Map<string, number[]>(cases.map(([name]) => [name, []]))
await sha256Only() // warm the page cache and the JIT
await ingestOnly()
await ingestWorkers()
const loads: number[] = []
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, fn] of cases) {
    const c = cpuNow()
    const t = performance.now()
    const own = await fn()
    const d = cpuNow()
    // A case may time (and measure the CPU of) only its own part, leaving out set-up and clean-up.
    const part =
      typeof own === 'object' && own !== null && 'wall' in own
        ? (own as { wall: number; main: number; all: number })
        : undefined
    times.get(name)!.push(typeof own === 'number' ? own : (part?.wall ?? (performance.now() - t) / 1000))
    cpuMain.get(name)!.push(part?.main ?? d.main - c.main)
    cpuAll.get(name)!.push(part?.all ?? d.all - c.all)
  }
  try {
    loads.push(Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]))
  } catch {}
}
await hashWorkers.stop()
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
const at = (name: string) => median(times.get(name)!)
const fmt = (x: number) => (Number.isNaN(x) ? '–' : x.toFixed(0))
console.log(
  `NAR: ${MIB} MiB of random bytes, chunker ${CHUNKER.name}, ${ROUNDS} interleaved rounds, medians; ` +
    `directory ${values.dir ?? tmpdir()}; load average during the rounds ${loads.map((l) => l.toFixed(1)).join(', ')}`
)
console.log(
  '| case | MiB/s | ratio to SHA-256 | to files baseline | to one-file baseline | CPU ms this thread | CPU ms all threads |'
)
console.log('|---|---:|---:|---:|---:|---:|---:|')
for (const [name] of cases) {
  const m = at(name)
  const disk = name.startsWith('import') || name === FILES || name === FLOOR
  console.log(
    `| ${name} | ${(MIB / m).toFixed(0)} | ${(at(SHA) / m).toFixed(2)} | ${disk ? (at(FILES) / m).toFixed(2) : ''} | ` +
      `${disk || name === SEQ ? (at(SEQ) / m).toFixed(2) : ''} | ${fmt(median(cpuMain.get(name)!))} | ` +
      `${fmt(median(cpuAll.get(name)!))} |`
  )
}
const cores = availableParallelism()
console.log(
  `\nThe best ratio to SHA-256 each case's CPU time allows on ${cores} cores (all of it spread evenly over them, ` +
    'nothing else running): SHA-256 wall / (CPU ms all threads / cores)'
)
for (const name of [FLOOR, 'import (fsync)', 'import (fsync), threads already running']) {
  console.log(`- ${name}: ${(at(SHA) / (median(cpuAll.get(name)!) / 1000 / cores)).toFixed(2)}`)
}
console.log('\nCPU time of each stage alone, one thread, NAR in memory (ms):')
const whole = readFileSync(nar)
stageCosts(whole) // warm the JIT
for (const [stage, ms] of Object.entries(stageCosts(whole))) console.log(`- ${stage}: ${ms.toFixed(0)}`)
await rm(base, { recursive: true, force: true })
