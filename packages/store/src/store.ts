/**
 * The store itself: chunk files + manifest files + a level index, with the publish order chunks → manifest →
 * index and the reverse order for deletion. See index.ts for the contract; this file is the implementation.
 */
import { webcrypto } from 'node:crypto'
import { close as fsClose, open as fsOpen, read as fsRead } from 'node:fs'
import { mkdir, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import {
  CHUNKER,
  ChunkHashMismatchError,
  type CID,
  checkRawCid,
  DAG_CBOR_CODE,
  decodeManifest,
  HashWorkers,
  ingestNar,
  MAX_CHUNK_SIZE,
  type Manifest,
  manifestRoot,
  NarHashMismatchError,
  NarSizeMismatchError,
  narHashFromCid,
  parseRawCid,
  sameNarHash,
  verifyChunk,
  verifyManifest
} from '@narthex/content'
import { formatSha256, parseSha256 } from '@narthex/nix'
import createDebug from 'debug'
import { Level } from 'level'
import { CID as CIDClass } from 'multiformats/cid'
import { ChunkWriters, type WriteJob } from './chunk-writer.js'
import {
  ATIME_RESOLUTION_MS,
  CHUNKS_DIR,
  INDEX_DIR,
  LOOSE_CHUNK_GRACE_MS,
  MANIFEST_CACHE_BYTES,
  MANIFESTS_DIR,
  QUARANTINE_DIR,
  READ_AHEAD,
  READ_GROUP_BYTES,
  READ_PARALLEL,
  READER_THREADS,
  RECORD_CACHE_ENTRIES,
  SHARD_SUFFIX,
  SYNC_DIRS_ON_THREADS,
  TMP_DIR,
  WRITE_BATCH,
  WRITE_CONCURRENCY,
  WRITER_THREADS,
  WRITER_THREADS_MIN_CHUNKS
} from './constants.js'
import { fileExists, syncDir, tempName, writeFileAtomic } from './durable.js'
import {
  ChunkCorruptError,
  ChunkTooLargeError,
  InvalidRangeError,
  MissingChunksError,
  NarDamagedError,
  NarNotFoundError,
  StoreFullError,
  StoreLockedError,
  StoreNotStartedError
} from './errors.js'
import type {
  ChunkCorruptEvent,
  GcOptions,
  GcReport,
  ImportOptions,
  ImportResult,
  NarEntry,
  NarRemovedEvent,
  RangeOptions,
  StoredNarinfo,
  StoreInit,
  StoreManifest,
  StoreStats,
  VerifyOptions,
  VerifyReport
} from './index.js'
import { Mutex } from './mutex.js'
import { readNarinfoKey } from './narinfo-text.js'
import { ChunkFileReadError, ReaderThreads } from './reader-thread.js'

const log = createDebug('narthex:store')

/** Consecutive chunks `first..last` (inclusive) of a manifest, read into one buffer by readNar. */
interface ReadGroup {
  readonly first: number
  readonly last: number
}

/** What the index holds per NAR (key `n!<narHash>`). */
interface NarRecord {
  readonly narHash: string
  readonly narSize: number
  readonly root: string
  readonly chunker: string
  readonly chunkCount: number
  readonly manifestSize: number
  readonly addedAt: number
  readonly storePaths: readonly string[]
}

interface NarinfoRecord {
  readonly narHash: string
  readonly storePath: string
  readonly text: string
}

/**
 * Index keys. `!` sorts before every character of a hash or CID, so a prefix `u!<cid>!` selects exactly one
 * chunk's users.
 */
const K = {
  nar: (h: string) => `n!${h}`,
  root: (r: string) => `r!${r}`,
  narinfo: (hashPart: string) => `p!${hashPart}`,
  refs: (cid: string) => `c!${cid}`,
  use: (cid: string, h: string) => `u!${cid}!${h}`,
  usePrefix: (cid: string) => `u!${cid}!`,
  atime: (h: string) => `a!${h}`,
  pin: (h: string) => `pin!${h}`,
  damaged: (h: string) => `d!${h}`,
  size: 'm!size'
}

type Op = { type: 'put'; key: string; value: unknown } | { type: 'del'; key: string }

/** The index records `Store.get` keeps in memory: NAR records and damage marks. */
function isCachedRecord(key: string): boolean {
  return key.startsWith('n!') || key.startsWith('d!')
}

/** A record known not to be in the index. */
const ABSENT = Symbol('absent')

/** Freeze a decoded record and everything in it: records kept in memory are shared by every reader. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}

function isEnospc(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return code === 'ENOSPC' || code === 'EDQUOT'
}

function asStoreFull(err: unknown): unknown {
  return isEnospc(err)
    ? new StoreFullError(`no space left for the store: ${(err as Error).message}`, { cause: err })
    : err
}

function canonicalNarHash(narHash: string): string {
  return formatSha256(parseSha256(narHash))
}

/** Every shard name: two characters of the base32 alphabet CIDs are written in. */
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567'
const SHARDS = [...BASE32].flatMap((a) => [...BASE32].map((b) => a + b))

function shardOf(name: string): string {
  return name.slice(-SHARD_SUFFIX - 1, -1)
}

/** Reference counts of chunks currently relied on by an import, a download or a read in progress. */
class UseCounts {
  private readonly counts = new Map<string, number>()
  add(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1)
  }
  remove(key: string): void {
    const n = (this.counts.get(key) ?? 0) - 1
    if (n <= 0) this.counts.delete(key)
    else this.counts.set(key, n)
  }
  has(key: string): boolean {
    return this.counts.has(key)
  }
}

export class LevelStore extends EventTarget {
  readonly dir: string
  private readonly init: StoreInit
  private db: Level<string, unknown> | undefined
  private readonly mutex = new Mutex()
  /** SHA-256 threads for imports (started with the store, spawned on the first import). */
  private readonly hashWorkers = new HashWorkers()
  /** Threads that read chunk files: readNar with reuseBuffers, and getChunks. */
  private readonly reader = new ReaderThreads(READER_THREADS)
  /** Threads that create chunk files for imports (spawned on the first import, ended by stop()). */
  private readonly writers = new ChunkWriters(WRITER_THREADS)
  private readonly fsync: boolean
  /** Shard directories that received a rename not yet made durable by a directory fsync. */
  private readonly dirtyDirs = new Set<string>()
  private readonly knownDirs = new Set<string>()
  private readonly writing = new Map<string, Promise<boolean>>()
  /** Chunks an operation in progress relies on: gc and eviction never delete these. */
  private readonly chunksInUse = new UseCounts()
  /** NARs being read: never evicted under a reader. */
  private readonly narsInUse = new UseCounts()
  private readonly atimeWritten = new Map<string, number>()
  /** Verified manifests by root, least recently used first, up to MANIFEST_CACHE_BYTES of their encoded bytes. */
  private readonly manifests = new Map<string, StoreManifest>()
  private manifestsBytes = 0
  /**
   * NAR records and damage marks by index key, least recently used first (ABSENT: the key is not in the index).
   * A seeder answers every HAVE and GET_MANIFEST from them: each was two reads of `level`, ~18 % of a seeder's CPU
   * serving a closure of 500 small NARs.
   */
  private readonly records = new Map<string, unknown>()
  /** Bumped before and after every index write (see `get`). */
  private writeEpoch = 0
  /** Bumped whenever chunk files are deleted, so a commit knows whether its earlier existence checks still hold. */
  private deletions = 0

  constructor(init: StoreInit) {
    super()
    this.init = init
    this.dir = init.dir
    this.fsync = init.fsync ?? true
  }

  // ---- lifecycle -------------------------------------------------------------------------------------------

  async start(): Promise<void> {
    if (this.db !== undefined) return
    for (const d of [CHUNKS_DIR, MANIFESTS_DIR, TMP_DIR, QUARANTINE_DIR, INDEX_DIR]) {
      await mkdir(join(this.dir, d), { recursive: true })
    }
    await this.createShards()
    const db = new Level<string, unknown>(join(this.dir, INDEX_DIR), { valueEncoding: 'json' })
    try {
      await db.open()
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause
      if (cause?.code === 'LEVEL_LOCKED') throw new StoreLockedError(this.dir, { cause: err })
      throw err
    }
    this.records.clear()
    this.db = db
    this.hashWorkers.start()
    // Temp files are only ever written by the process holding the lock: any found now are leftovers of a crash.
    const tmp = join(this.dir, TMP_DIR)
    const leftovers = await readdir(tmp)
    await Promise.all(leftovers.map((f) => rm(join(tmp, f), { force: true, recursive: true })))
    if (leftovers.length > 0) log('removed %d temp files left by an earlier run', leftovers.length)
  }

  async stop(): Promise<void> {
    const db = this.db
    if (db === undefined) return
    await this.mutex.run(async () => {})
    this.db = undefined
    await this.hashWorkers.stop()
    await this.reader.stop()
    await this.writers.stop()
    await db.close()
  }

  /**
   * Create every shard directory once (1024 each for chunks and manifests), so that imports never pay a mkdir and
   * a parent-directory fsync for a new shard.
   */
  private async createShards(): Promise<void> {
    for (const sub of [CHUNKS_DIR, MANIFESTS_DIR]) {
      const base = join(this.dir, sub)
      const present = new Set(await readdir(base))
      if (present.size >= SHARDS.length) {
        for (const s of SHARDS) this.knownDirs.add(join(base, s))
        continue
      }
      await forEachLimited(SHARDS, 16, async (s) => {
        if (!present.has(s)) await mkdir(join(base, s), { recursive: true })
        this.knownDirs.add(join(base, s))
      })
      if (this.fsync) await syncDir(base)
    }
  }

  private get index(): Level<string, unknown> {
    if (this.db === undefined) throw new StoreNotStartedError('the store is not started')
    return this.db
  }

  private async get<T>(key: string): Promise<T | undefined> {
    if (!isCachedRecord(key)) return (await this.index.get(key)) as T | undefined
    const held = this.records.get(key)
    if (held !== undefined) {
      this.records.delete(key) // most recently used: last
      this.records.set(key, held)
      return (held === ABSENT ? undefined : held) as T | undefined
    }
    const epoch = this.writeEpoch
    const value = await this.index.get(key)
    // A write that ran while this read was in flight may have changed the key: then the value is not kept.
    if (epoch === this.writeEpoch) {
      this.records.set(key, value === undefined ? ABSENT : deepFreeze(value))
      if (this.records.size > RECORD_CACHE_ENTRIES) this.records.delete(this.records.keys().next().value!)
    }
    return value as T | undefined
  }

  /** Write to the index; every write goes through here, so the records kept in memory never go stale. */
  private async writeIndex(ops: Op[], sync: boolean): Promise<void> {
    this.writeEpoch++
    for (const op of ops) this.records.delete(op.key)
    try {
      await this.index.batch(ops, { sync })
    } finally {
      this.writeEpoch++
      for (const op of ops) this.records.delete(op.key)
    }
  }

  // ---- paths ---------------------------------------------------------------------------------------------

  private chunkPath(cid: string): string {
    return join(this.dir, CHUNKS_DIR, shardOf(cid), cid)
  }

  private manifestPath(root: string): string {
    return join(this.dir, MANIFESTS_DIR, shardOf(root), root)
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.knownDirs.has(dir)) return
    await mkdir(dir, { recursive: true })
    // The new directory's own name must be durable before anything in it is relied upon.
    if (this.fsync) await syncDir(join(dir, '..'))
    this.knownDirs.add(dir)
  }

  private async syncDirtyDirs(): Promise<void> {
    const dirs = [...this.dirtyDirs]
    this.dirtyDirs.clear()
    if (!this.fsync) return
    // Many directories (a large import): on the writer threads, which make the calls in a row; a few: here.
    if (dirs.length > SYNC_DIRS_ON_THREADS && this.writers.ready) await this.writers.syncDirs(dirs)
    else await Promise.all(dirs.map((d) => syncDir(d)))
  }

  // ---- chunks --------------------------------------------------------------------------------------------

  async hasChunk(cid: CID): Promise<boolean> {
    checkRawCid(cid)
    return exists(this.chunkPath(cid.toString()))
  }

  async getChunk(cid: CID, opts: { signal?: AbortSignal } = {}): Promise<Uint8Array | undefined> {
    checkRawCid(cid)
    opts.signal?.throwIfAborted()
    const key = cid.toString()
    let bytes: Uint8Array
    try {
      bytes = await readFile(this.chunkPath(key), { signal: opts.signal })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
    try {
      verifyChunk(cid, bytes)
    } catch (err) {
      if (!(err instanceof ChunkHashMismatchError)) throw err
      await this.quarantine(key)
      throw new ChunkCorruptError(`stored chunk ${key} is corrupt; it has been quarantined`, { cause: err })
    }
    return bytes
  }

  async getChunks(
    cids: readonly CID[],
    opts: { signal?: AbortSignal; maxBytes?: number } = {}
  ): Promise<Array<Uint8Array | undefined>> {
    for (const cid of cids) checkRawCid(cid)
    opts.signal?.throwIfAborted()
    if (cids.length === 0) return []
    const keys = cids.map((cid) => cid.toString())
    const digests = new Uint8Array(32 * cids.length)
    for (const [i, cid] of cids.entries()) digests.set(cid.multihash.digest, 32 * i)
    const reads = await this.reader.readChunks(
      keys.map((key) => this.chunkPath(key)),
      digests,
      MAX_CHUNK_SIZE,
      opts.maxBytes ?? Number.MAX_SAFE_INTEGER
    )
    const out: Array<Uint8Array | undefined> = []
    for (const [i, r] of reads.entries()) {
      if (r.ok) {
        out.push(r.bytes)
      } else if (r.code === 'ENOENT') {
        out.push(undefined)
      } else if (r.code === 'CORRUPT') {
        await this.quarantine(keys[i]!)
        out.push(undefined)
      } else {
        throw Object.assign(new Error(`reading chunk ${keys[i]}: ${r.code}`), { code: r.code })
      }
    }
    opts.signal?.throwIfAborted()
    return out
  }

  async putChunk(cid: CID, bytes: Uint8Array, opts: { signal?: AbortSignal } = {}): Promise<boolean> {
    checkRawCid(cid)
    opts.signal?.throwIfAborted()
    if (bytes.length > MAX_CHUNK_SIZE) {
      throw new ChunkTooLargeError(`chunk of ${bytes.length} bytes exceeds ${MAX_CHUNK_SIZE}`)
    }
    verifyChunk(cid, bytes)
    this.index // started?
    try {
      return await this.writeChunk(cid.toString(), bytes)
    } catch (err) {
      throw asStoreFull(err)
    }
  }

  /** Write a chunk unless it is already stored; true when this call created it. */
  private writeChunk(key: string, bytes: Uint8Array): Promise<boolean> {
    const inFlight = this.writing.get(key)
    if (inFlight !== undefined) return inFlight
    const p = (async () => {
      const path = this.chunkPath(key)
      if (fileExists(path)) return false
      const dir = join(path, '..')
      await this.ensureDir(dir)
      await writeFileAtomic(join(this.dir, TMP_DIR), path, bytes, { fsync: this.fsync })
      this.dirtyDirs.add(dir)
      return true
    })()
    this.writing.set(key, p)
    return p.finally(() => this.writing.delete(key))
  }

  /**
   * Write chunks unless already stored, on the writer threads, in one batch. Resolves (never rejects) to the keys
   * this call created and the first error met; chunks another write has in flight are waited for, not rewritten.
   */
  private async writeBatch(
    items: ReadonlyArray<{ key: string; bytes: Uint8Array }>,
    opts: { threads: boolean }
  ): Promise<{ created: string[]; error?: unknown }> {
    if (!opts.threads || !this.writers.ready) {
      // Small imports, and large ones until the threads have booted, write through the thread pool (one chunk
      // at a time, as putChunk does).
      if (opts.threads) this.writers.start()
      const created: string[] = []
      let error: unknown
      await Promise.all(
        items.map(({ key, bytes }) =>
          this.writeChunk(key, bytes).then(
            (isNew) => {
              if (isNew) created.push(key)
            },
            (err: unknown) => {
              error ??= err
            }
          )
        )
      )
      return { created, error }
    }
    const tmpDir = join(this.dir, TMP_DIR)
    const jobs: WriteJob[] = []
    const keys: string[] = []
    const others: Promise<boolean>[] = []
    for (const { key, bytes } of items) {
      const inFlight = this.writing.get(key)
      if (inFlight !== undefined) others.push(inFlight)
      else {
        keys.push(key)
        jobs.push({ tmp: tempName(tmpDir), path: this.chunkPath(key), bytes })
      }
    }
    const done = (async () => {
      for (const dir of new Set(jobs.map((j) => dirname(j.path)))) await this.ensureDir(dir)
      return this.writers.write(jobs, { fsync: this.fsync })
    })()
    keys.forEach((key, i) => {
      const p = done.then((results) => {
        const r = results[i]!
        if (r instanceof Error) throw r
        return r
      })
      this.writing.set(key, p)
      void p.then(
        () => this.writing.delete(key),
        () => this.writing.delete(key)
      )
    })
    const created: string[] = []
    let error: unknown
    try {
      const results = await done
      results.forEach((r, i) => {
        if (r === true) {
          created.push(keys[i]!)
          this.dirtyDirs.add(dirname(jobs[i]!.path))
        } else if (r instanceof Error) error ??= r
      })
    } catch (err) {
      error ??= err
    }
    for (const r of await Promise.allSettled(others)) if (r.status === 'rejected') error ??= r.reason
    return { created, error }
  }

  /** Chunks first..last of a manifest, each read into its slice of one buffer (and re-hashed when `verify`). */
  private async readGroup(
    chunks: readonly { cid: CID; size: number }[],
    offsets: Float64Array,
    first: number,
    last: number,
    verify: boolean,
    signal?: AbortSignal
  ): Promise<Buffer> {
    const base = offsets[first]!
    const buf = Buffer.allocUnsafe(offsets[last + 1]! - base)
    // The group's chunk files are read READ_PARALLEL at a time: on a busy machine each read's trip through the
    // thread pool is mostly waiting to be scheduled, so overlapping them reads ~1.7× faster than one by one.
    for (let from = first; from <= last; from += READ_PARALLEL) {
      const reads: Promise<void>[] = []
      for (let i = from; i <= Math.min(last, from + READ_PARALLEL - 1); i++) {
        const c = chunks[i]!
        const at = offsets[i]! - base
        reads.push(this.readChunkInto(c.cid.toString(), c.cid, buf.subarray(at, at + c.size), verify, signal))
      }
      await Promise.all(reads)
    }
    return buf
  }

  /**
   * Read a chunk file into `into` (exactly its size). A missing file marks its NARs damaged; a short one, or with
   * `verify` one whose bytes do not hash to its CID, is quarantined.
   */
  private async readChunkInto(
    key: string,
    cid: CID,
    into: Buffer,
    verify: boolean,
    signal?: AbortSignal
  ): Promise<void> {
    signal?.throwIfAborted()
    let fd: number
    try {
      fd = await openForRead(this.chunkPath(key))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') await this.chunkUnreadable(key, 'missing', err)
      throw err
    }
    let got = 0
    try {
      while (got < into.length) {
        const bytesRead = await readAt(fd, into, got, into.length - got, got)
        if (bytesRead === 0) break
        got += bytesRead
      }
    } finally {
      await closeFd(fd)
    }
    let ok = got === into.length
    if (ok && verify) {
      // Hash on the thread pool so that verifying overlaps with reading the next chunks and with the consumer.
      const digest = new Uint8Array(await webcrypto.subtle.digest('SHA-256', into))
      ok = Buffer.from(digest).equals(cid.multihash.digest)
    }
    if (!ok) await this.chunkUnreadable(key, 'corrupt')
  }

  /** Move a corrupt chunk aside, mark every NAR using it damaged, and tell listeners. */
  private async quarantine(key: string): Promise<void> {
    const target = join(this.dir, QUARANTINE_DIR, `${key}.${Date.now()}`)
    await rename(this.chunkPath(key), target).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err
    })
    log('quarantined corrupt chunk %s', key)
    await this.markDamaged(key, 'corrupt')
  }

  private async markDamaged(key: string, reason: 'corrupt' | 'missing'): Promise<string[]> {
    const narHashes = await this.mutex.run(async () => {
      const users = await this.usersOf(key)
      const ops: Op[] = []
      const newly: string[] = []
      for (const h of users) {
        const prior = await this.get<string[]>(K.damaged(h))
        if (prior === undefined) newly.push(h)
        if (!prior?.includes(key))
          ops.push({ type: 'put', key: K.damaged(h), value: [...(prior ?? []), key] })
      }
      if (ops.length > 0) await this.writeIndex(ops, true)
      return newly
    })
    const detail: ChunkCorruptEvent = { cid: key, reason, narHashes }
    this.dispatchEvent(new CustomEvent('chunk:corrupt', { detail }))
    for (const narHash of narHashes) {
      const removed: NarRemovedEvent = { narHash, reason: 'damaged' }
      this.dispatchEvent(new CustomEvent('nar:removed', { detail: removed }))
    }
    return narHashes
  }

  private async usersOf(key: string): Promise<string[]> {
    const prefix = K.usePrefix(key)
    const out: string[] = []
    for await (const k of this.index.keys({ gte: prefix, lt: `${prefix}\xff` }))
      out.push(k.slice(prefix.length))
    return out
  }

  // ---- NARs: publish ---------------------------------------------------------------------------------------

  async importNar(source: AsyncIterable<Uint8Array>, opts: ImportOptions = {}): Promise<ImportResult> {
    const { signal, onProgress } = opts
    signal?.throwIfAborted()
    this.index // started?
    const expectSize = opts.expect?.narSize
    const deletionsAtStart = this.deletions
    const used = new Set<string>()
    const created: string[] = []
    const writes = new Set<Promise<void>>()
    let firstError: unknown
    // Each chunk's bytes are held (shared memory the ingest reuses) until its file is written.
    let batch: Array<{ key: string; bytes: Uint8Array; release: () => void }> = []
    let inFlight = 0
    let chunksSeen = 0
    const flush = () => {
      if (batch.length === 0) return
      const items = batch
      batch = []
      inFlight += items.length
      const w = this.writeBatch(items, { threads: chunksSeen >= WRITER_THREADS_MIN_CHUNKS }).then(
        ({ created: made, error }) => {
          for (const item of items) item.release()
          inFlight -= items.length
          created.push(...made)
          if (error !== undefined) firstError ??= error
        }
      )
      writes.add(w)
      void w.finally(() => writes.delete(w))
    }
    let released = false
    const release = () => {
      if (released) return
      released = true
      for (const key of used) this.chunksInUse.remove(key)
    }
    const bounded = async function* (src: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
      let total = 0
      for await (const piece of src) {
        total += piece.length
        if (expectSize !== undefined && total > expectSize) {
          throw new NarSizeMismatchError(`NAR is longer than the ${expectSize} bytes claimed`)
        }
        onProgress?.({ bytes: total, total: expectSize })
        yield piece
      }
    }
    try {
      const result = await ingestNar(bounded(source), {
        signal,
        params: this.init.chunker ?? CHUNKER,
        hashWorkers: this.hashWorkers,
        holdChunks: true,
        onChunk: async ({ cid, bytes, release }) => {
          const key = cid.toString()
          if (firstError !== undefined || used.has(key)) {
            release()
            if (firstError !== undefined) throw firstError
            return
          }
          used.add(key)
          this.chunksInUse.add(key)
          batch.push({ key, bytes, release })
          chunksSeen++
          if (batch.length >= WRITE_BATCH) flush()
          while (inFlight >= (this.init.writeConcurrency ?? WRITE_CONCURRENCY)) await Promise.race(writes)
        }
      })
      flush()
      await Promise.all(writes)
      if (firstError !== undefined) throw firstError
      if (opts.expect?.narHash !== undefined && !sameNarHash(result.narHash, opts.expect.narHash)) {
        throw new NarHashMismatchError(`NAR hashes to ${result.narHash}, expected ${opts.expect.narHash}`)
      }
      if (expectSize !== undefined && result.narSize !== expectSize) {
        throw new NarSizeMismatchError(`NAR has ${result.narSize} bytes, expected ${expectSize}`)
      }
      const trusted = this.deletions === deletionsAtStart ? used : new Set<string>()
      const entry = await this.commit(result.manifestBytes, result.manifest, result.root, {
        narinfo: opts.narinfo,
        pin: opts.pin,
        present: trusted
      })
      return { ...entry, created: created.length }
    } catch (err) {
      for (const item of batch) item.release()
      batch = []
      await Promise.allSettled([...writes])
      release()
      await this.removeUnreferenced(created).catch((e) => log('cleanup after failed import: %O', e))
      throw asStoreFull(err)
    } finally {
      release()
    }
  }

  async commitNar(
    manifestBytes: Uint8Array,
    opts: { narinfo?: string; pin?: boolean; signal?: AbortSignal } = {}
  ): Promise<NarEntry> {
    opts.signal?.throwIfAborted()
    const root = manifestRoot(manifestBytes)
    const manifest = verifyManifest(manifestBytes, root)
    try {
      return await this.commit(manifestBytes, manifest, root, { narinfo: opts.narinfo, pin: opts.pin })
    } catch (err) {
      throw asStoreFull(err)
    }
  }

  /** chunks (already durable) → manifest file → index, under the index mutex. */
  private commit(
    manifestBytes: Uint8Array,
    manifest: Manifest,
    root: CID,
    opts: { narinfo?: string; pin?: boolean; present?: ReadonlySet<string> }
  ): Promise<NarEntry> {
    const narHash = manifest.narHash
    const info = opts.narinfo === undefined ? undefined : readNarinfoKey(opts.narinfo)
    if (info !== undefined) {
      if (!sameNarHash(info.narHash, narHash)) {
        throw new NarHashMismatchError(
          `narinfo for ${info.storePath} says NarHash ${info.narHash}, NAR is ${narHash}`
        )
      }
      if (info.narSize !== manifest.narSize) {
        throw new NarSizeMismatchError(
          `narinfo for ${info.storePath} says NarSize ${info.narSize}, NAR has ${manifest.narSize}`
        )
      }
    }
    const rootKey = root.toString()
    return this.mutex
      .run(async () => {
        const db = this.index
        let existing = await this.get<NarRecord>(K.nar(narHash))
        let damaged = await this.get<string[]>(K.damaged(narHash))
        if (existing !== undefined && damaged !== undefined && existing.root !== rootKey) {
          // A damaged NAR repaired through another manifest of the same bytes (another chunker): replace it.
          await this.removeLocked(narHash)
          existing = undefined
          damaged = undefined
        }
        const distinct = [...new Set(manifest.chunks.map((c) => c.cid.toString()))]
        const now = Date.now()
        const ops: Op[] = []
        let record: NarRecord
        let announce = false
        if (existing === undefined || damaged !== undefined) {
          const missing: string[] = []
          await forEachLimited(distinct, 32, async (key) => {
            if (opts.present?.has(key)) return
            if (!(await exists(this.chunkPath(key)))) missing.push(key)
          })
          if (missing.length > 0) {
            throw new MissingChunksError(
              `${missing.length} of the ${distinct.length} chunks of ${narHash} are not in the store (first: ${missing[0]})`
            )
          }
          await this.syncDirtyDirs()
          const mpath = this.manifestPath(rootKey)
          if (!(await exists(mpath))) {
            const mdir = join(mpath, '..')
            await this.ensureDir(mdir)
            await writeFileAtomic(join(this.dir, TMP_DIR), mpath, manifestBytes, { fsync: this.fsync })
            if (this.fsync) await syncDir(mdir)
          }
          announce = true
        }
        if (existing === undefined) {
          const refKeys = distinct.map(K.refs)
          const counts = (await db.getMany(refKeys)) as Array<number | undefined>
          const sizeOf = new Map(manifest.chunks.map((c) => [c.cid.toString(), c.size]))
          let added = manifestBytes.length
          distinct.forEach((key, i) => {
            const n = counts[i] ?? 0
            if (n === 0) added += sizeOf.get(key)!
            ops.push({ type: 'put', key: K.refs(key), value: n + 1 })
            ops.push({ type: 'put', key: K.use(key, narHash), value: 1 })
          })
          const size = (await this.get<number>(K.size)) ?? 0
          ops.push({ type: 'put', key: K.size, value: size + added })
          ops.push({ type: 'put', key: K.root(rootKey), value: narHash })
          ops.push({ type: 'put', key: K.atime(narHash), value: now })
          record = {
            narHash,
            narSize: manifest.narSize,
            root: rootKey,
            chunker: manifest.chunker,
            chunkCount: manifest.chunks.length,
            manifestSize: manifestBytes.length,
            addedAt: now,
            storePaths: []
          }
        } else {
          record = existing
        }
        if (damaged !== undefined) ops.push({ type: 'del', key: K.damaged(narHash) })
        if (info !== undefined) {
          const value: NarinfoRecord = { narHash, storePath: info.storePath, text: opts.narinfo! }
          ops.push({ type: 'put', key: K.narinfo(info.hashPart), value })
          if (!record.storePaths.includes(info.hashPart)) {
            record = { ...record, storePaths: [...record.storePaths, info.hashPart] }
          }
        }
        ops.push({ type: 'put', key: K.nar(narHash), value: record })
        if (opts.pin) ops.push({ type: 'put', key: K.pin(narHash), value: now })
        await this.writeIndex(ops, this.fsync)
        // A copy: the caller's array may be reused once this resolves.
        if (record.root === rootKey)
          this.rememberManifest(rootKey, { manifest, bytes: Buffer.from(manifestBytes), root })
        const entry = await this.entryOf(record)
        if (announce) this.dispatchEvent(new CustomEvent('nar:added', { detail: entry }))
        return entry
      })
      .then(async (entry) => {
        if (this.init.maxSize !== undefined) await this.evict(this.init.maxSize, [narHash])
        return entry
      })
  }

  /** After a failed import: delete the chunk files it created that nothing references or uses. */
  private async removeUnreferenced(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return
    await this.mutex.run(async () => {
      const counts = (await this.index.getMany(keys.map(K.refs))) as Array<number | undefined>
      const victims = keys.filter((k, i) => (counts[i] ?? 0) === 0 && !this.chunksInUse.has(k))
      this.deletions++
      await forEachLimited(victims, 32, (k) => unlink(this.chunkPath(k)).catch(() => {}))
    })
  }

  // ---- NARs: read ----------------------------------------------------------------------------------------

  private async narHashOf(key: string | CID): Promise<string | undefined> {
    if (typeof key === 'string') {
      if (key.startsWith('sha256')) return canonicalNarHash(key)
      return this.narHashOf(parseAnyCid(key))
    }
    if (key.code === DAG_CBOR_CODE) return this.get<string>(K.root(key.toString()))
    return narHashFromCid(key)
  }

  async hasNar(key: string | CID): Promise<boolean> {
    const narHash = await this.narHashOf(key)
    if (narHash === undefined) return false
    return (
      (await this.get(K.nar(narHash))) !== undefined && (await this.get(K.damaged(narHash))) === undefined
    )
  }

  async getManifest(key: string | CID): Promise<StoreManifest | undefined> {
    const narHash = await this.narHashOf(key)
    if (narHash === undefined) return undefined
    const record = await this.get<NarRecord>(K.nar(narHash))
    if (record === undefined) return undefined
    if ((await this.get(K.damaged(narHash))) !== undefined) return undefined
    const got = await this.loadManifest(record)
    this.touch(narHash)
    return got
  }

  /**
   * The manifest of `record`, verified against its root and NarHash: from memory when it was loaded or committed
   * lately, otherwise from its file. `fresh` always reads and checks the file (`verify`: a manifest that rotted on
   * disk must be found even while a good copy is in memory).
   */
  private async loadManifest(record: NarRecord, { fresh = false } = {}): Promise<StoreManifest> {
    const known = fresh ? undefined : this.manifests.get(record.root)
    if (known !== undefined && known.manifest.narHash === record.narHash) {
      this.manifests.delete(record.root) // most recently used: last
      this.manifests.set(record.root, known)
      return known
    }
    const loaded = await this.readManifestFile(record)
    this.rememberManifest(record.root, loaded)
    return loaded
  }

  private rememberManifest(root: string, entry: StoreManifest): void {
    this.forgetManifest(root)
    if (entry.bytes.length > MANIFEST_CACHE_BYTES) return
    this.manifests.set(root, entry)
    this.manifestsBytes += entry.bytes.length
    for (const [key, old] of this.manifests) {
      if (this.manifestsBytes <= MANIFEST_CACHE_BYTES) break
      this.manifests.delete(key)
      this.manifestsBytes -= old.bytes.length
    }
  }

  private forgetManifest(root: string): void {
    const old = this.manifests.get(root)
    if (old === undefined) return
    this.manifests.delete(root)
    this.manifestsBytes -= old.bytes.length
  }

  private async readManifestFile(record: NarRecord): Promise<StoreManifest> {
    const root = CIDClass.parse(record.root)
    let bytes: Uint8Array
    try {
      bytes = await readFile(this.manifestPath(record.root))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new NarDamagedError(`the manifest of ${record.narHash} is missing`, { cause: err })
      }
      throw err
    }
    try {
      return { manifest: verifyManifest(bytes, root, { narHash: record.narHash }), bytes, root }
    } catch (err) {
      throw new NarDamagedError(`the manifest of ${record.narHash} is corrupt: ${(err as Error).message}`, {
        cause: err
      })
    }
  }

  async *readNar(key: string | CID, opts: RangeOptions = {}): AsyncGenerator<Uint8Array> {
    const { signal } = opts
    signal?.throwIfAborted()
    const narHash = await this.narHashOf(key)
    const record = narHash === undefined ? undefined : await this.get<NarRecord>(K.nar(narHash))
    if (narHash === undefined || record === undefined)
      throw new NarNotFoundError(`no NAR ${String(key)} in the store`)
    if ((await this.get(K.damaged(narHash))) !== undefined) {
      throw new NarDamagedError(`NAR ${narHash} is damaged (a chunk is corrupt or missing)`)
    }
    const start = opts.start ?? 0
    const end = opts.end ?? record.narSize
    if (
      !Number.isSafeInteger(start) ||
      !Number.isSafeInteger(end) ||
      start < 0 ||
      end > record.narSize ||
      start > end
    ) {
      throw new InvalidRangeError(`range ${start}..${end} is not within the ${record.narSize}-byte NAR`)
    }
    this.narsInUse.add(narHash)
    try {
      const { manifest } = await this.loadManifest(record)
      this.touch(narHash)
      if (start === end) return
      // First chunk overlapping `start`: binary search over cumulative offsets.
      const offsets = new Float64Array(manifest.chunks.length + 1)
      manifest.chunks.forEach((c, i) => {
        offsets[i + 1] = offsets[i]! + c.size
      })
      let lo = 0
      let hi = manifest.chunks.length - 1
      while (lo < hi) {
        const mid = (lo + hi + 1) >>> 1
        if (offsets[mid]! <= start) lo = mid
        else hi = mid - 1
      }
      let last = lo
      while (offsets[last + 1]! < end) last++
      // Consecutive chunks are read into one buffer of about READ_GROUP_BYTES each (each chunk file straight into
      // its slice, no copy), so the consumer gets ~1 MiB pieces: far fewer socket writes and stream steps than one
      // per ~64 KiB chunk. READ_AHEAD groups are read (and checked) ahead of the consumer.
      const groups: ReadGroup[] = []
      for (let i = lo; i <= last; ) {
        let j = i
        while (j < last && offsets[j + 2]! - offsets[i]! <= READ_GROUP_BYTES) j++
        groups.push({ first: i, last: j })
        i = j + 1
      }
      const verify = opts.verify ?? true
      const read =
        opts.reuseBuffers === true && !verify
          ? this.reusedGroupReader(manifest.chunks, offsets, groups)
          : (g: ReadGroup) => this.readGroup(manifest.chunks, offsets, g.first, g.last, verify, signal)
      const queue: Promise<Uint8Array>[] = []
      let next = 0
      const fill = () => {
        while (queue.length < READ_AHEAD && next < groups.length) {
          const p = read(groups[next]!, next)
          next++
          p.catch(() => {})
          queue.push(p)
        }
      }
      for (const g of groups) {
        fill()
        const buf = await queue.shift()!
        signal?.throwIfAborted()
        const from = g.first === lo ? start - offsets[lo]! : 0
        const to = g.last === last ? end - offsets[g.first]! : buf.length
        yield from === 0 && to === buf.length ? buf : buf.subarray(from, to)
      }
    } finally {
      this.narsInUse.remove(narHash)
    }
  }

  /**
   * For readNar with reuseBuffers: reads group number k on the reader thread into slot k % READ_AHEAD of one
   * SharedArrayBuffer. readNar has at most READ_AHEAD groups read or yielded at once, and starts group k only once
   * the consumer has asked past group k - READ_AHEAD, so a slot is never refilled while its view is still in use.
   */
  private reusedGroupReader(
    chunks: readonly { cid: CID; size: number }[],
    offsets: Float64Array,
    groups: readonly ReadGroup[]
  ): (g: ReadGroup, k: number) => Promise<Uint8Array> {
    const sizeOf = (g: ReadGroup) => offsets[g.last + 1]! - offsets[g.first]!
    const slotBytes = groups.reduce((max, g) => Math.max(max, sizeOf(g)), 0)
    const slots = Math.min(groups.length, READ_AHEAD)
    const shared = new SharedArrayBuffer(slotBytes * slots)
    return async (g, k) => {
      const bytes = new Uint8Array(shared, (k % slots) * slotBytes, sizeOf(g))
      const group = chunks.slice(g.first, g.last + 1)
      const keys = group.map((c) => c.cid.toString())
      try {
        await this.reader.read(
          bytes,
          keys.map((key) => this.chunkPath(key)),
          group.map((c) => c.size)
        )
      } catch (err) {
        if (!(err instanceof ChunkFileReadError)) throw err
        const key = keys[err.index]!
        if (err.code === 'ENOENT') await this.chunkUnreadable(key, 'missing', err)
        if (err.code === 'SHORT') await this.chunkUnreadable(key, 'corrupt', err)
        throw Object.assign(new Error(`reading chunk ${key}: ${err.message}`, { cause: err }), {
          code: err.code
        })
      }
      return bytes
    }
  }

  /**
   * A chunk file that is missing (its NARs marked damaged) or corrupt (quarantined): throws NarDamagedError or
   * ChunkCorruptError.
   */
  private async chunkUnreadable(key: string, reason: 'missing' | 'corrupt', cause?: unknown): Promise<never> {
    if (reason === 'missing') {
      await this.markDamaged(key, 'missing')
      throw new NarDamagedError(`chunk ${key} is missing from the store`, { cause })
    }
    await this.quarantine(key)
    throw new ChunkCorruptError(`stored chunk ${key} is corrupt; it has been quarantined`, { cause })
  }

  private touch(narHash: string): void {
    const now = Date.now()
    const last = this.atimeWritten.get(narHash) ?? 0
    if (now - last < ATIME_RESOLUTION_MS) return
    this.atimeWritten.set(narHash, now)
    this.db?.put(K.atime(narHash), now).catch((err: unknown) => log('atime update failed: %O', err))
  }

  async getNarinfo(storePathHash: string): Promise<StoredNarinfo | undefined> {
    const rec = await this.get<NarinfoRecord>(K.narinfo(storePathHash))
    if (rec === undefined) return undefined
    return { text: rec.text, narHash: rec.narHash, storePath: rec.storePath }
  }

  async *listNars(opts: { signal?: AbortSignal } = {}): AsyncGenerator<NarEntry> {
    for await (const value of this.index.values({ gte: 'n!', lt: 'n!\xff' })) {
      opts.signal?.throwIfAborted()
      yield await this.entryOf(value as NarRecord)
    }
  }

  private async entryOf(record: NarRecord): Promise<NarEntry> {
    const [atime, pin, damaged] = (await this.index.getMany([
      K.atime(record.narHash),
      K.pin(record.narHash),
      K.damaged(record.narHash)
    ])) as [number | undefined, number | undefined, string[] | undefined]
    return {
      narHash: record.narHash,
      narSize: record.narSize,
      root: CIDClass.parse(record.root),
      chunker: record.chunker,
      chunkCount: record.chunkCount,
      addedAt: record.addedAt,
      lastAccess: atime ?? record.addedAt,
      pinned: pin !== undefined,
      damaged: damaged !== undefined,
      storePathHashes: record.storePaths
    }
  }

  async stats(): Promise<StoreStats> {
    let nars = 0
    for await (const _ of this.index.keys({ gte: 'n!', lt: 'n!\xff' })) nars++
    return { nars, storedBytes: (await this.get<number>(K.size)) ?? 0 }
  }

  // ---- pins, eviction, gc --------------------------------------------------------------------------------

  async pin(key: string | CID): Promise<void> {
    const narHash = await this.narHashOf(key)
    if (narHash === undefined || (await this.get(K.nar(narHash))) === undefined) {
      throw new NarNotFoundError(`no NAR ${String(key)} in the store`)
    }
    await this.writeIndex([{ type: 'put', key: K.pin(narHash), value: Date.now() }], this.fsync)
  }

  async unpin(key: string | CID): Promise<void> {
    const narHash = await this.narHashOf(key)
    if (narHash !== undefined) await this.writeIndex([{ type: 'del', key: K.pin(narHash) }], this.fsync)
  }

  async removeNar(key: string | CID): Promise<boolean> {
    const narHash = await this.narHashOf(key)
    if (narHash === undefined) return false
    const removed = (await this.mutex.run(() => this.removeLocked(narHash))) !== false
    if (removed) {
      const detail: NarRemovedEvent = { narHash, reason: 'removed' }
      this.dispatchEvent(new CustomEvent('nar:removed', { detail }))
    }
    return removed
  }

  /** index → manifest → chunks (reverse of publishing). Call with the mutex held. Returns whether it existed. */
  private async removeLocked(narHash: string): Promise<{ bytes: number; chunks: number } | false> {
    const db = this.index
    const record = await this.get<NarRecord>(K.nar(narHash))
    if (record === undefined) return false
    let manifest: Manifest | undefined
    try {
      manifest = decodeManifest(await readFile(this.manifestPath(record.root)))
    } catch (err) {
      log('manifest of %s unreadable while removing it: %O', narHash, err)
    }
    const distinct = manifest ? [...new Set(manifest.chunks.map((c) => c.cid.toString()))] : []
    // Without a manifest, find the chunks through the reverse index.
    if (manifest === undefined) {
      for await (const k of db.keys({ gte: 'u!', lt: 'u!\xff' })) {
        if (k.endsWith(`!${narHash}`)) distinct.push(k.slice(2, -narHash.length - 1))
      }
    }
    const sizeOf = new Map(manifest?.chunks.map((c) => [c.cid.toString(), c.size]) ?? [])
    const counts = (await db.getMany(distinct.map(K.refs))) as Array<number | undefined>
    const ops: Op[] = []
    const zero: string[] = []
    let freed = record.manifestSize
    distinct.forEach((key, i) => {
      const n = (counts[i] ?? 1) - 1
      ops.push({ type: 'del', key: K.use(key, narHash) })
      if (n <= 0) {
        ops.push({ type: 'del', key: K.refs(key) })
        zero.push(key)
        freed += sizeOf.get(key) ?? 0
      } else ops.push({ type: 'put', key: K.refs(key), value: n })
    })
    for (const hashPart of record.storePaths) {
      const info = await this.get<NarinfoRecord>(K.narinfo(hashPart))
      if (info?.narHash === narHash) ops.push({ type: 'del', key: K.narinfo(hashPart) })
    }
    const size = (await this.get<number>(K.size)) ?? 0
    ops.push(
      { type: 'del', key: K.nar(narHash) },
      { type: 'del', key: K.root(record.root) },
      { type: 'del', key: K.atime(narHash) },
      { type: 'del', key: K.pin(narHash) },
      { type: 'del', key: K.damaged(narHash) },
      { type: 'put', key: K.size, value: Math.max(0, size - freed) }
    )
    await this.writeIndex(ops, this.fsync)
    await unlink(this.manifestPath(record.root)).catch(() => {})
    this.forgetManifest(record.root)
    this.deletions++
    const victims = zero.filter((k) => !this.chunksInUse.has(k))
    await forEachLimited(victims, 32, (k) => unlink(this.chunkPath(k)).catch(() => {}))
    this.atimeWritten.delete(narHash)
    return { bytes: freed, chunks: victims.length }
  }

  async gc(opts: GcOptions = {}): Promise<GcReport> {
    const { signal } = opts
    const grace = opts.looseGraceMs ?? LOOSE_CHUNK_GRACE_MS
    const report = { evicted: [] as string[], chunksRemoved: 0, bytesFreed: 0 }
    // 1. Loose files: chunks no NAR references, manifests no NAR lists (leftovers of crashes and abandoned
    //    downloads), older than the grace period.
    const cutoff = Date.now() - grace
    for (const [sub, isChunk] of [
      [CHUNKS_DIR, true],
      [MANIFESTS_DIR, false]
    ] as const) {
      const base = join(this.dir, sub)
      for (const shard of await readdir(base)) {
        signal?.throwIfAborted()
        const names = await readdir(join(base, shard)).catch(() => [] as string[])
        if (names.length === 0) continue
        await this.mutex.run(async () => {
          const keys = isChunk ? names.map(K.refs) : names.map(K.root)
          const found = (await this.index.getMany(keys)) as unknown[]
          const loose = names.filter(
            (n, i) => found[i] === undefined && !(isChunk && this.chunksInUse.has(n))
          )
          for (const name of loose) {
            const path = join(base, shard, name)
            const st = await stat(path).catch(() => undefined)
            if (st === undefined || st.mtimeMs > cutoff) continue
            await unlink(path).catch(() => {})
            this.deletions++
            if (isChunk) report.chunksRemoved++
            report.bytesFreed += st.size
          }
        })
      }
    }
    // 2. Evict least recently used unpinned NARs until the store fits in maxSize.
    if (opts.maxSize !== undefined) {
      const evicted = await this.evict(opts.maxSize, opts.keep ?? [], signal)
      report.evicted.push(...evicted.evicted)
      report.chunksRemoved += evicted.chunksRemoved
      report.bytesFreed += evicted.bytesFreed
    }
    if (report.evicted.length > 0 || report.chunksRemoved > 0) {
      log('gc: evicted %d NARs, removed %d chunks', report.evicted.length, report.chunksRemoved)
    }
    return report
  }

  /** Remove least recently used, unpinned NARs (none in `keep`, none being read) until storedBytes ≤ maxSize. */
  private async evict(maxSize: number, keep: readonly string[], signal?: AbortSignal): Promise<GcReport> {
    const report = { evicted: [] as string[], chunksRemoved: 0, bytesFreed: 0 }
    if (((await this.get<number>(K.size)) ?? 0) <= maxSize) return report
    const keepSet = new Set(keep.map(canonicalNarHash))
    const candidates: Array<{ narHash: string; lastAccess: number }> = []
    for await (const e of this.listNars({ signal })) {
      if (!e.pinned && !keepSet.has(e.narHash))
        candidates.push({ narHash: e.narHash, lastAccess: e.lastAccess })
    }
    candidates.sort((a, b) => a.lastAccess - b.lastAccess)
    for (const c of candidates) {
      signal?.throwIfAborted()
      if (((await this.get<number>(K.size)) ?? 0) <= maxSize) break
      if (this.narsInUse.has(c.narHash)) continue
      const removed = await this.mutex.run(() => this.removeLocked(c.narHash))
      if (removed === false) continue
      report.evicted.push(c.narHash)
      report.chunksRemoved += removed.chunks
      report.bytesFreed += removed.bytes
      const detail: NarRemovedEvent = { narHash: c.narHash, reason: 'evicted' }
      this.dispatchEvent(new CustomEvent('nar:removed', { detail }))
    }
    return report
  }

  // ---- verify --------------------------------------------------------------------------------------------

  async verify(opts: VerifyOptions = {}): Promise<VerifyReport> {
    const { signal, onProgress } = opts
    const corrupt: string[] = []
    const missing: string[] = []
    const damaged = new Set<string>()
    let chunksChecked = 0
    let bytesChecked = 0
    // Every chunk file: re-hash against its name.
    const base = join(this.dir, CHUNKS_DIR)
    for (const shard of await readdir(base)) {
      const names = await readdir(join(base, shard)).catch(() => [] as string[])
      await forEachLimited(names, 4, async (name) => {
        signal?.throwIfAborted()
        let cid: CID
        try {
          cid = parseRawCid(name)
        } catch {
          log('verify: stray file %s in chunk directory', name)
          return
        }
        let bytes: Uint8Array
        try {
          bytes = await readFile(join(base, shard, name))
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return // removed meanwhile
          throw err
        }
        const digest = new Uint8Array(await webcrypto.subtle.digest('SHA-256', bytes))
        chunksChecked++
        bytesChecked += bytes.length
        onProgress?.({ chunksChecked, bytesChecked })
        if (!Buffer.from(digest).equals(cid.multihash.digest)) {
          corrupt.push(name)
          await this.quarantine(name)
        }
      })
    }
    // Every indexed NAR: its manifest is intact and each of its chunks is present.
    for await (const value of this.index.values({ gte: 'n!', lt: 'n!\xff' })) {
      signal?.throwIfAborted()
      const record = value as NarRecord
      let manifest: Manifest
      try {
        manifest = (await this.loadManifest(record, { fresh: true })).manifest
      } catch (err) {
        log('verify: %s: %s', record.narHash, (err as Error).message)
        damaged.add(record.narHash)
        await this.mutex.run(() =>
          this.writeIndex([{ type: 'put', key: K.damaged(record.narHash), value: ['manifest'] }], this.fsync)
        )
        continue
      }
      const lost: string[] = []
      await forEachLimited([...new Set(manifest.chunks.map((c) => c.cid.toString()))], 32, async (k) => {
        if (!(await exists(this.chunkPath(k)))) lost.push(k)
      })
      for (const k of lost) {
        if (!corrupt.includes(k) && !missing.includes(k)) {
          missing.push(k)
          await this.markDamaged(k, 'missing')
        }
      }
      if (lost.length > 0) damaged.add(record.narHash)
    }
    for await (const k of this.index.keys({ gte: 'd!', lt: 'd!\xff' })) damaged.add(k.slice(2))
    return { chunksChecked, bytesChecked, corrupt, missing, damagedNars: [...damaged] }
  }
}

// ---- helpers ---------------------------------------------------------------------------------------------

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
}

function parseAnyCid(text: string): CID {
  try {
    return CIDClass.parse(text)
  } catch {
    return parseRawCid(text) // throws InvalidCidError with a clear message
  }
}

/** Run `fn` over `items` with at most `limit` calls in flight; rejects with the first error after all settle. */
async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<unknown>
): Promise<void> {
  let next = 0
  let error: unknown
  const worker = async () => {
    while (next < items.length && error === undefined) {
      const item = items[next++]!
      try {
        await fn(item)
      } catch (err) {
        error ??= err
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  if (error !== undefined) throw error
}

// Chunk reads use the callback API with plain descriptors: a FileHandle costs a handle object, a promise per call
// and a GC finaliser, which showed as ~20 µs per chunk file (open + close) on the main thread when serving a
// cached NAR (docs/benchmarks.md, "substitute").
function openForRead(path: string): Promise<number> {
  return new Promise((resolve, reject) => fsOpen(path, 'r', (err, fd) => (err ? reject(err) : resolve(fd))))
}

function readAt(fd: number, into: Buffer, offset: number, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) =>
    fsRead(fd, into, offset, length, position, (err, n) => (err ? reject(err) : resolve(n)))
  )
}

function closeFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsClose(fd, (err) => (err ? reject(err) : resolve())))
}
