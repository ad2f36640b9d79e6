/**
 * Import throughput of a 256 MiB NAR from a local file into the store (hash + chunk + write), against plain
 * SHA-256 of the same bytes read the same way, in the same run. Rounds are interleaved; medians are reported.
 *
 *   node --conditions=source --import tsx bench/store/import-throughput.ts [--mib 256] [--rounds 5]
 *
 * Higher ratios are better; the goal is import ≥ 0.5 × SHA-256.
 */
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { CHUNKER, chunkCid, FastCdc, ingestNar } from '@narthex/content'
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

let n = 0
/** Import into a fresh store; only importNar is timed (opening the store and removing it afterwards are not). */
const importInto = (fsync: boolean) => async () => {
  const dir = join(base, `store-${n++}`)
  const store = createStore({ dir, fsync })
  await store.start()
  const t = performance.now()
  await store.importNar(read())
  const elapsed = (performance.now() - t) / 1000
  await store.stop()
  await rm(dir, { recursive: true, force: true })
  return elapsed
}

const cases: Array<[string, () => Promise<unknown>]> = [
  ['sha256 (baseline)', sha256Only],
  ['hash + chunk, one thread', ingestSync],
  ['hash + chunk (ingestNar)', ingestOnly],
  ['import, no fsync', importInto(false)],
  ['import (fsync)', importInto(true)]
]
const times = new Map<string, number[]>(cases.map(([name]) => [name, []]))
await sha256Only() // warm the page cache and the JIT
await ingestOnly()
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, fn] of cases) {
    const t = performance.now()
    const own = await fn()
    times.get(name)!.push(typeof own === 'number' ? own : (performance.now() - t) / 1000)
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
const baseline = median(times.get('sha256 (baseline)')!)
console.log(`NAR: ${MIB} MiB of random bytes, chunker ${CHUNKER.name}, ${ROUNDS} interleaved rounds, medians`)
console.log('| case | MiB/s | ratio to SHA-256 |')
console.log('|---|---:|---:|')
for (const [name] of cases) {
  const m = median(times.get(name)!)
  console.log(`| ${name} | ${(MIB / m).toFixed(0)} | ${(baseline / m).toFixed(2)} |`)
}
await rm(base, { recursive: true, force: true })
