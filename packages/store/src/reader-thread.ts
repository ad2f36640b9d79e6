/**
 * Reading chunk files on a worker thread, into shared memory the caller reuses.
 *
 * Streaming a NAR through the thread pool costs three round trips per ~64 KiB chunk file (open, read, close) and a
 * fresh buffer per MiB; on the shim's main thread that was most of its CPU when serving Nix from its own store.
 * The reader thread instead reads a whole group of chunk files with plain blocking calls (fast when the files are
 * in the page cache, and blocking only itself when they are not) into a slot of a SharedArrayBuffer, and answers
 * once per group. The caller owns the slots and reuses them, so nothing is allocated per MiB.
 *
 * A seeder serving chunks by id asks for a group at a time ({@link ReaderThread.readChunks}): the thread opens,
 * reads and re-hashes each file with blocking calls into one fresh buffer of at most ~1 MiB per group, which it
 * hands over (a transfer, not a copy). Read one by one through `fs/promises`, each chunk cost four thread-pool round trips, a
 * `FileHandle`, a buffer and a SHA-256 pass on the main thread.
 *
 * The thread is started on the first read (a store that is never read this way pays nothing) and ended by
 * {@link ReaderThread.stop}. It keeps the process alive only while reads are outstanding.
 */
import { Worker } from 'node:worker_threads'
import { ReaderThreadError } from './errors.js'

/** The worker's code: plain JavaScript (a string, so it runs the same from source and from dist). */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads')
const { openSync, fstatSync, readSync, closeSync } = require('node:fs')
const { createHash } = require('node:crypto')
// Read one file of exactly size bytes into into[at..]: undefined, or why not as { code, message }.
const readFile = (path, into, at, size) => {
  let fd
  try {
    fd = openSync(path, 'r')
    let got = 0
    while (got < size) {
      const n = readSync(fd, into, at + got, size - got, got)
      if (n === 0) return { code: 'SHORT', message: 'read ' + got + ' of ' + size + ' bytes' }
      got += n
    }
  } catch (err) {
    return { code: err.code || 'EIO', message: err.message }
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}
// Chunk files by id, in order, as many as fit in m.bytes (at least one): each one's size from fstat (at most
// m.max), all read into one buffer, each hashed against its SHA-256 digest (m.digests, 32 bytes each). Per file
// taken: its offset and size in the buffer, or a code: ENOENT, CORRUPT (wrong hash, or larger than any chunk),
// EISDIR or EINVAL (not a regular file), or the system error.
const readChunks = (m) => {
  const fds = [], sizes = [], codes = [], at = []
  try {
    let total = 0
    for (let i = 0; i < m.paths.length; i++) {
      let fd, size = 0, code
      try {
        fd = openSync(m.paths[i], 'r')
        const st = fstatSync(fd)
        if (!st.isFile()) code = st.isDirectory() ? 'EISDIR' : 'EINVAL'
        else if (st.size > m.max) code = 'CORRUPT'
        else size = st.size
      } catch (err) {
        code = err.code || 'EIO'
      }
      if (i > 0 && total + size > m.bytes) {
        if (fd !== undefined) closeSync(fd)
        break
      }
      fds.push(fd); codes.push(code); sizes.push(size); at.push(total)
      total += size
    }
    const buffer = new ArrayBuffer(total)
    for (let i = 0; i < fds.length; i++) {
      if (codes[i] !== undefined) continue
      const view = new Uint8Array(buffer, at[i], sizes[i])
      try {
        let got = 0
        while (got < view.length) {
          const r = readSync(fds[i], view, got, view.length - got, got)
          if (r === 0) break
          got += r
        }
        const digest = createHash('sha256').update(view.subarray(0, got)).digest()
        if (got !== view.length || !digest.equals(m.digests.subarray(32 * i, 32 * i + 32))) codes[i] = 'CORRUPT'
      } catch (err) {
        codes[i] = err.code || 'EIO'
      }
    }
    parentPort.postMessage({ id: m.id, buffer, at, sizes, codes }, [buffer])
  } finally {
    for (const fd of fds) if (fd !== undefined) closeSync(fd)
  }
}
parentPort.on('message', (m) => {
  if (m.digests !== undefined) return readChunks(m)
  const into = new Uint8Array(m.b, m.o, m.n)
  let at = 0
  for (let i = 0; i < m.paths.length; i++) {
    const failed = readFile(m.paths[i], into, at, m.sizes[i])
    if (failed !== undefined) return parentPort.postMessage({ id: m.id, i, ...failed })
    at += m.sizes[i]
  }
  parentPort.postMessage({ id: m.id })
})
`

interface Reply {
  readonly id: number
  /** readChunks: the group's bytes, and per file its offset and size in them or why it could not be served. */
  readonly buffer?: ArrayBuffer
  readonly at?: number[]
  readonly sizes?: number[]
  readonly codes?: Array<string | undefined>
  /** On failure: the index of the file that failed, its error code ('SHORT' for a short file) and message. */
  readonly i?: number
  readonly code?: string
  readonly message?: string
}

/** A read that failed on one file of the group. */
export class ChunkFileReadError extends Error {
  override readonly name = 'ChunkFileReadError'
  constructor(
    /** Index, in the group, of the file that failed. */
    readonly index: number,
    /** The system error code (ENOENT, EIO...), or SHORT when the file is shorter than expected. */
    readonly code: string,
    message: string
  ) {
    super(message)
  }
}

/** What {@link ReaderThread.readChunks} gives for one file. */
export type ChunkRead =
  | { readonly ok: true; readonly bytes: Uint8Array }
  /** ENOENT, CORRUPT (its bytes do not hash to its id, or it is larger than any chunk) or the system error code. */
  | { readonly ok: false; readonly code: string }

export class ReaderThread {
  #worker: Worker | undefined
  #ids = 0
  readonly #pending = new Map<number, { resolve: (r: Reply) => void; reject: (err: Error) => void }>()

  /**
   * Read the files `paths` (of exactly `sizes` bytes) one after the other into `into`, a view of a
   * SharedArrayBuffer. Rejects with ChunkFileReadError naming the first file that could not be read whole, or
   * ReaderThreadError when the thread died. `into` must not be touched until this settles.
   */
  read(into: Uint8Array, paths: readonly string[], sizes: readonly number[]): Promise<void> {
    if (!(into.buffer instanceof SharedArrayBuffer)) throw new TypeError('into must view a SharedArrayBuffer')
    return this.#ask({ b: into.buffer, o: into.byteOffset, n: into.byteLength, paths, sizes }).then((r) => {
      if (r.code !== undefined) throw new ChunkFileReadError(r.i ?? 0, r.code, r.message ?? r.code)
    })
  }

  /**
   * Read chunk files from the start of `paths` into one fresh buffer, as many as fit in `maxBytes` (at least one),
   * each checked against its SHA-256 digest (`digests`, 32 bytes per path, in order) and none larger than
   * `maxSize`. Resolves with one result per file read, a prefix of `paths`; rejects only with ReaderThreadError
   * when the thread died.
   */
  async readChunks(
    paths: readonly string[],
    digests: Uint8Array,
    maxSize: number,
    maxBytes: number
  ): Promise<ChunkRead[]> {
    if (digests.length !== 32 * paths.length) throw new TypeError('one 32-byte digest per path')
    if (paths.length === 0) return []
    const r = await this.#ask({ paths, digests, max: maxSize, bytes: maxBytes })
    return r.codes!.map((code, i) =>
      code === undefined
        ? { ok: true, bytes: new Uint8Array(r.buffer!, r.at![i], r.sizes![i]) }
        : { ok: false, code: code }
    )
  }

  /** Reads sent and not yet answered. */
  get pending(): number {
    return this.#pending.size
  }

  #ask(message: object): Promise<Reply> {
    const worker = this.#start()
    const id = this.#ids++
    return new Promise<Reply>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      if (this.#pending.size === 1) worker.ref()
      worker.postMessage({ id, ...message })
    })
  }

  /** End the thread; reads still outstanding fail with ReaderThreadError. */
  async stop(): Promise<void> {
    const worker = this.#worker
    this.#worker = undefined
    if (worker === undefined) return
    this.#failAll(new ReaderThreadError('the store is stopping'))
    await worker.terminate()
  }

  #start(): Worker {
    if (this.#worker !== undefined) return this.#worker
    const worker = new Worker(WORKER_SOURCE, { eval: true })
    worker.unref()
    worker.on('message', (r: Reply) => this.#settle(r))
    const fail = (err: Error) => {
      if (this.#worker !== worker) return
      this.#worker = undefined
      this.#failAll(new ReaderThreadError(`chunk reader thread failed: ${err.message}`, { cause: err }))
    }
    worker.on('error', fail)
    worker.on('exit', (code) => fail(new Error(`exited with code ${code}`)))
    this.#worker = worker
    return worker
  }

  #settle(r: Reply): void {
    const p = this.#pending.get(r.id)
    if (p === undefined) return
    this.#pending.delete(r.id)
    if (this.#pending.size === 0) this.#worker?.unref()
    p.resolve(r)
  }

  #failAll(err: Error): void {
    const pending = [...this.#pending.values()]
    this.#pending.clear()
    for (const p of pending) p.reject(err)
  }
}

/**
 * Up to `max` reader threads, each started only when every one before it is busy: one serves a single reader
 * without contention, and several readers (a seeder serving many peers from a cold disk) each get a thread of
 * their own, as the thread pool gave them, instead of queueing behind one blocking read.
 */
export class ReaderThreads {
  readonly #threads: ReaderThread[] = []

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError('max must be a positive integer')
  }

  /** See {@link ReaderThread.read}. */
  read(into: Uint8Array, paths: readonly string[], sizes: readonly number[]): Promise<void> {
    return this.#pick().read(into, paths, sizes)
  }

  /** See {@link ReaderThread.readChunks}. */
  readChunks(
    paths: readonly string[],
    digests: Uint8Array,
    maxSize: number,
    maxBytes: number
  ): Promise<ChunkRead[]> {
    return this.#pick().readChunks(paths, digests, maxSize, maxBytes)
  }

  /** Threads created so far (each runs from its first read to stop()). */
  get started(): number {
    return this.#threads.length
  }

  /** End every thread; reads still outstanding fail with ReaderThreadError. */
  async stop(): Promise<void> {
    await Promise.all(this.#threads.map((t) => t.stop()))
  }

  #pick(): ReaderThread {
    let least: ReaderThread | undefined
    for (const t of this.#threads) {
      if (t.pending === 0) return t
      if (least === undefined || t.pending < least.pending) least = t
    }
    if (least === undefined || this.#threads.length < this.max) {
      const t = new ReaderThread()
      this.#threads.push(t)
      return t
    }
    return least
  }
}
