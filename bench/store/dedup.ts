/**
 * Deduplication of two versions of a real software tree, for the chosen chunker and two alternatives: the bytes the
 * store keeps for both NARs against the sum of both NARs, and what a peer holding the old version must fetch for
 * the new one (new chunks + the manifest) against the whole new NAR. Lower is better for both; the chunk count is
 * the number of requests and files the same data costs.
 *
 *   node --conditions=source --import tsx bench/store/dedup.ts [--work DIR]
 *
 * Data: typescript from the npm registry (`npm pack`), unpacked and serialised with `nix-store --dump`:
 *   - 5.5.3 → 5.5.4 (a patch release), 5.4.5 → 5.5.4 (a minor release),
 *   - 5.5.4 → the same tree with 10 files (spread over the tree) edited in place: 44 bytes overwritten with a store
 *     path, as when a dependency a file mentions is rebuilt.
 */
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { CHUNKER, CHUNKERS, type ChunkerParams } from '@narthex/content'
import { createStore } from '@narthex/store'

const { values } = parseArgs({ options: { work: { type: 'string' } } })
const work = values.work ?? (await mkdtemp(join(tmpdir(), 'narthex-bench-dedup-')))
await mkdir(work, { recursive: true })

async function tree(version: string): Promise<string> {
  const dir = join(work, `typescript-${version}`)
  const done = await readdir(dir).catch(() => undefined)
  if (done === undefined) {
    execFileSync('npm', ['pack', `typescript@${version}`, '--silent', '--pack-destination', work], {
      stdio: 'ignore'
    })
    await mkdir(dir)
    execFileSync('tar', ['xzf', join(work, `typescript-${version}.tgz`), '-C', dir])
  }
  return dir
}

function dump(dir: string): Buffer {
  return execFileSync('nix-store', ['--dump', dir], { maxBuffer: 1 << 30 })
}

/** The same tree with `n` files edited: a 32-byte run in each replaced by other bytes of the same length. */
async function edited(dir: string, n: number): Promise<string> {
  const out = join(work, 'edited')
  await rm(out, { recursive: true, force: true })
  execFileSync('cp', ['-a', dir, out])
  const files = (await readdir(out, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath ?? e.path, e.name))
    .sort()
  const stride = Math.floor(files.length / n)
  for (let i = 0; i < n; i++) {
    const f = files[i * stride]!
    const bytes = await readFile(f)
    // A store path of the same length as any other, as when a dependency a file mentions is rebuilt.
    bytes.write('/nix/store/0123456789abcdfghijklmnpqrsvwxyz-', Math.floor(bytes.length / 2), 'latin1')
    await writeFile(f, bytes)
  }
  return out
}

async function measure(a: Buffer, b: Buffer, params: ChunkerParams) {
  const dir = await mkdtemp(join(work, 'store-'))
  const store = createStore({ dir, fsync: false, chunker: params })
  await store.start()
  const one = async function* (x: Buffer) {
    for (let i = 0; i < x.length; i += 1 << 20) yield x.subarray(i, i + (1 << 20))
  }
  const ra = await store.importNar(one(a))
  const rb = await store.importNar(one(b))
  const { storedBytes } = await store.stats()
  const ma = (await store.getManifest(ra.narHash))!
  const mb = (await store.getManifest(rb.narHash))!
  const have = new Set(ma.manifest.chunks.map((c) => c.cid.toString()))
  const fetched = mb.manifest.chunks.filter((c) => !have.has(c.cid.toString()))
  const fetchBytes = fetched.reduce((s, c) => s + c.size, 0) + mb.bytes.length
  await store.stop()
  await rm(dir, { recursive: true, force: true })
  return {
    stored: storedBytes / (a.length + b.length),
    fetch: fetchBytes / b.length,
    fetchChunks: fetched.length,
    chunks: rb.chunkCount,
    manifest: mb.bytes.length
  }
}

const v553 = dump(await tree('5.5.3'))
const v554dir = await tree('5.5.4')
const v554 = dump(v554dir)
const v545 = dump(await tree('5.4.5'))
const v554e = dump(await edited(v554dir, 10))
const pairs: Array<[string, Buffer, Buffer]> = [
  ['typescript 5.5.3 → 5.5.4', v553, v554],
  ['typescript 5.4.5 → 5.5.4', v545, v554],
  ['typescript 5.5.4 → 10 files edited', v554, v554e]
]
console.log('stored = bytes kept for both NARs / sum of both NARs; fetch = (new chunks + manifest) / new NAR')
console.log('| pair | chunker | stored | fetch | chunks fetched / total | manifest |')
console.log('|---|---|---:|---:|---:|---:|')
for (const [name, a, b] of pairs) {
  for (const params of Object.values(CHUNKERS)) {
    const r = await measure(a, b, params)
    const label = params.name === CHUNKER.name ? `**${params.name}**` : params.name
    console.log(
      `| ${name} (${(a.length / 2 ** 20).toFixed(1)} + ${(b.length / 2 ** 20).toFixed(1)} MiB) | ${label} | ${r.stored.toFixed(3)} | ${r.fetch.toFixed(3)} | ${r.fetchChunks} / ${r.chunks} | ${(r.manifest / 1024).toFixed(1)} KiB |`
    )
  }
}
if (values.work === undefined) await rm(work, { recursive: true, force: true })
