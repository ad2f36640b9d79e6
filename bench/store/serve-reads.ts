/**
 * Reading chunks to serve them, as a seeder does for GET_CHUNKS: every chunk of a 256 MiB NAR read from the chunk
 * store and re-hashed, one by one (`getChunk`: fs/promises readFile, SHA-256 on the main thread, the next chunk
 * read while one is handed on) against a group at a time (`getChunks`: SERVE_READ_GROUP_CHUNKS ids per trip to a
 * reader thread, as many read as fit in SEND_COALESCE_BYTES, the next group read while one is handed on), with the same bytes as one file read and hashed
 * (`readFile` + SHA-256) as the baseline, in the same run. Rounds are interleaved; medians reported.
 *
 *   node --conditions=source --import tsx bench/store/serve-reads.ts [--size-mib 256] [--rounds 5]
 *
 * Lower is better: wall time, CPU of the whole process (every thread), CPU of the main thread alone (what the
 * seeder's event loop, which also runs libp2p and its encryption, has to give up).
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { SEND_COALESCE_BYTES, SERVE_READ_GROUP_CHUNKS } from '@narthex/p2p'
import { createStore } from '@narthex/store'
import { incompressibleBytes } from '../bytes.js'

const { values } = parseArgs({
  options: { 'size-mib': { type: 'string', default: '256' }, rounds: { type: 'string', default: '5' } }
})
const SIZE = Number(values['size-mib']) * 1024 * 1024
const ROUNDS = Number(values.rounds)

/** CPU milliseconds of the main thread (user + system, from /proc; USER_HZ = 100). */
function mainThreadCpuMs(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) * 10
}

function processCpuMs(): number {
  const c = process.cpuUsage()
  return (c.user + c.system) / 1000
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const dir = await mkdtemp(join(tmpdir(), 'narthex-bench-serve-'))
const store = createStore({ dir: join(dir, 'store'), fsync: false })
try {
  await store.start()
  const bytes = incompressibleBytes(SIZE, 0x2545f491)
  const whole = join(dir, 'whole.bin')
  await writeFile(whole, bytes)
  async function* pieces() {
    for (let i = 0; i < SIZE; i += 1 << 20) yield bytes.subarray(i, i + (1 << 20))
  }
  const nar = await store.importNar(pieces())
  const cids = (await store.getManifest(nar.root))!.manifest.chunks.map((c) => c.cid)
  console.error(`${SIZE / 2 ** 20} MiB in ${cids.length} chunks`)

  const cases: Record<string, () => Promise<number>> = {
    'baseline: readFile + SHA-256 of one file': async () => {
      const b = await readFile(whole)
      createHash('sha256').update(b).digest()
      return b.byteLength
    },
    'getChunk, one by one': async () => {
      let n = 0
      let next = store.getChunk(cids[0]!)
      for (let i = 0; i < cids.length; i++) {
        const b = await next
        if (i + 1 < cids.length) next = store.getChunk(cids[i + 1]!)
        n += b!.byteLength
      }
      return n
    },
    [`getChunks, ${SERVE_READ_GROUP_CHUNKS} at a time`]: async () => {
      // As the fetch server asks: up to SERVE_READ_GROUP_CHUNKS ids, as many read as fit in SEND_COALESCE_BYTES.
      let n = 0
      const group = (from: number) =>
        store.getChunks(cids.slice(from, from + SERVE_READ_GROUP_CHUNKS), { maxBytes: SEND_COALESCE_BYTES })
      let next = group(0)
      for (let done = 0; done < cids.length; ) {
        const bs = await next
        done += bs.length
        if (done < cids.length) next = group(done)
        for (const b of bs) n += b!.byteLength
      }
      return n
    }
  }
  const results = new Map<string, { wall: number[]; cpu: number[]; main: number[] }>()
  for (let round = 0; round <= ROUNDS; round++) {
    for (const [name, run] of Object.entries(cases)) {
      const t0 = performance.now()
      const c0 = processCpuMs()
      const m0 = mainThreadCpuMs()
      const n = await run()
      if (n !== SIZE) throw new Error(`${name}: read ${n} of ${SIZE} bytes`)
      if (round === 0) continue // warm-up: page cache, threads, JIT
      const r = results.get(name) ?? results.set(name, { wall: [], cpu: [], main: [] }).get(name)!
      r.wall.push(performance.now() - t0)
      r.cpu.push(processCpuMs() - c0)
      r.main.push(mainThreadCpuMs() - m0)
    }
  }
  const base = results.get('baseline: readFile + SHA-256 of one file')!
  console.log(`\n${SIZE / 2 ** 20} MiB, ${cids.length} chunks, medians of ${ROUNDS} interleaved rounds`)
  console.log('| read | wall ms | process CPU ms | main thread CPU ms | wall / baseline | CPU / baseline |')
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |')
  for (const [name, r] of results) {
    console.log(
      `| ${name} | ${median(r.wall).toFixed(0)} | ${median(r.cpu).toFixed(0)} | ${median(r.main).toFixed(0)} | ` +
        `${(median(r.wall) / median(base.wall)).toFixed(2)} | ${(median(r.cpu) / median(base.cpu)).toFixed(2)} |`
    )
  }
} finally {
  await store.stop()
  await rm(dir, { recursive: true, force: true })
}
