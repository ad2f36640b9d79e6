/**
 * Reading chunk files on a worker thread, into shared memory the caller reuses.
 *
 * Streaming a NAR through the thread pool costs three round trips per ~64 KiB chunk file (open, read, close) and a
 * fresh buffer per MiB; on the shim's main thread that was most of its CPU when serving Nix from its own store.
 * The reader thread instead reads a whole group of chunk files with plain blocking calls (fast when the files are
 * in the page cache, and blocking only itself when they are not) into a slot of a SharedArrayBuffer, and answers
 * once per group. The caller owns the slots and reuses them, so nothing is allocated per MiB.
 *
 * The thread is started on the first read (a store that is never read this way pays nothing) and ended by
 * {@link ReaderThread.stop}. It keeps the process alive only while reads are outstanding.
 */
import { Worker } from 'node:worker_threads'
import { ReaderThreadError } from './errors.js'

/** The worker's code: plain JavaScript (a string, so it runs the same from source and from dist). */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads')
const { openSync, readSync, closeSync } = require('node:fs')
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
parentPort.on('message', (m) => {
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

export class ReaderThread {
  #worker: Worker | undefined
  #ids = 0
  readonly #pending = new Map<number, { resolve: () => void; reject: (err: Error) => void }>()

  /**
   * Read the files `paths` (of exactly `sizes` bytes) one after the other into `into`, a view of a
   * SharedArrayBuffer. Rejects with ChunkFileReadError naming the first file that could not be read whole, or
   * ReaderThreadError when the thread died. `into` must not be touched until this settles.
   */
  read(into: Uint8Array, paths: readonly string[], sizes: readonly number[]): Promise<void> {
    if (!(into.buffer instanceof SharedArrayBuffer)) throw new TypeError('into must view a SharedArrayBuffer')
    const worker = this.#start()
    const id = this.#ids++
    return new Promise<void>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      if (this.#pending.size === 1) worker.ref()
      worker.postMessage({ id, b: into.buffer, o: into.byteOffset, n: into.byteLength, paths, sizes })
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
    if (r.code === undefined) p.resolve()
    else p.reject(new ChunkFileReadError(r.i ?? 0, r.code, r.message ?? r.code))
  }

  #failAll(err: Error): void {
    const pending = [...this.#pending.values()]
    this.#pending.clear()
    for (const p of pending) p.reject(err)
  }
}
