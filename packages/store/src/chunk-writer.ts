/**
 * Chunk files written by worker threads, in batches: the importing thread sends one message per batch of chunks
 * and the worker creates each file with synchronous calls (the same durable sequence as writeFileAtomic: a temp
 * file in the store's tmp directory, write, fsync, close, rename into place; the caller fsyncs the directories).
 *
 * Why: written through the libuv pool, each chunk costs five round trips (open, write, fsync, close, rename), and
 * each hand-off wakes a pool thread and later this one. Measured on tmpfs, that is ~2.5× the CPU time of the same
 * system calls made in a row on one thread, most of it on the importing thread, which also chunks. Batches move
 * that work to WRITER_THREADS threads that only make system calls, so several file syncs are still in flight.
 *
 * The threads start on the first write and boot in the background (tens of milliseconds, more on a busy machine):
 * the store writes through the libuv pool until they are ready, so a small import never waits for them.
 *
 * Bytes reach the worker without a copy when they are views of a SharedArrayBuffer (ingestNar with HashWorkers
 * yields those); others are copied once (toShared).
 */
import { Worker } from 'node:worker_threads'
import { toShared } from '@narthex/content'

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads')
const fs = require('node:fs')
parentPort.on('message', ({ q, fsync, jobs, dirs }) => {
  if (dirs !== undefined) {
    let error
    for (const dir of dirs) {
      let fd
      try {
        fd = fs.openSync(dir, 'r')
        fs.fsyncSync(fd)
      } catch (err) {
        error ??= { code: err.code, message: err.message }
      } finally {
        if (fd !== undefined) try { fs.closeSync(fd) } catch {}
      }
    }
    parentPort.postMessage({ q, results: [error ?? 'created'] })
    return
  }
  const results = jobs.map(({ tmp, path, b, o, n }) => {
    if (fs.existsSync(path)) return 'exists'
    let fd
    try {
      fd = fs.openSync(tmp, 'wx', 0o644)
      const bytes = new Uint8Array(b, o, n)
      for (let at = 0; at < n; ) at += fs.writeSync(fd, bytes, at, n - at)
      if (fsync) fs.fsyncSync(fd)
      const closing = fd
      fd = undefined
      fs.closeSync(closing)
      fs.renameSync(tmp, path)
      return 'created'
    } catch (err) {
      if (fd !== undefined) try { fs.closeSync(fd) } catch {}
      try { fs.unlinkSync(tmp) } catch {}
      return { code: err.code, message: err.message }
    }
  })
  parentPort.postMessage({ q, results })
})
`

/** One chunk file to create: `tmp` is a fresh name in the store's tmp directory, `path` the final name. */
export interface WriteJob {
  readonly tmp: string
  readonly path: string
  readonly bytes: Uint8Array
}

type Outcome = 'created' | 'exists' | { code?: string; message: string }

interface Thread {
  readonly worker: Worker
  online: boolean
  readonly waiting: Map<number, { resolve: (r: Outcome[]) => void; reject: (e: Error) => void }>
  failure?: Error
}

export class ChunkWriters {
  private threads: Thread[] = []
  private next = 0
  private seq = 0
  private busy = 0

  constructor(private readonly count: number) {}

  /** Start the worker threads; they boot in the background (see ready). Idempotent. */
  start(): void {
    if (this.threads.length > 0) return
    for (let i = 0; i < this.count; i++) this.threads.push(this.spawn())
  }

  async stop(): Promise<void> {
    const threads = this.threads
    this.threads = []
    await Promise.all(threads.map((t) => t.worker.terminate()))
  }

  /** Whether every thread has booted: until then, a caller in a hurry writes another way. */
  get ready(): boolean {
    return this.threads.length > 0 && this.threads.every((t) => t.online)
  }

  private spawn(): Thread {
    const worker = new Worker(WORKER_SOURCE, { eval: true })
    worker.unref()
    const thread: Thread = { worker, online: false, waiting: new Map() }
    worker.once('online', () => {
      thread.online = true
    })
    worker.on('message', ({ q, results }: { q: number; results: Outcome[] }) => {
      const w = thread.waiting.get(q)
      thread.waiting.delete(q)
      if (--this.busy === 0) for (const t of this.threads) t.worker.unref()
      w?.resolve(results)
    })
    const fail = (err: Error) => {
      if (thread.failure !== undefined) return
      thread.failure = new Error(`chunk writer thread failed: ${err.message}`, { cause: err })
      const i = this.threads.indexOf(thread)
      if (i >= 0) this.threads[i] = this.spawn()
      for (const w of thread.waiting.values()) w.reject(thread.failure)
      this.busy -= thread.waiting.size
      thread.waiting.clear()
    }
    worker.on('error', fail)
    worker.on('exit', (code) => fail(new Error(`exited with code ${code}`)))
    return thread
  }

  /**
   * fsync each of `dirs` (making the names renamed into them durable), spread over the threads, with synchronous
   * calls: through the libuv pool each directory is three round trips (open, fsync, close), and a large import
   * touches all 1024 shards. Rejects with the first error met.
   */
  async syncDirs(dirs: readonly string[]): Promise<void> {
    if (this.threads.length === 0) this.start()
    const per = Math.ceil(dirs.length / this.threads.length)
    const parts: Promise<Outcome[]>[] = []
    for (let i = 0; i < dirs.length; i += per) {
      const thread = this.threads[this.next++ % this.threads.length]!
      const q = this.seq++
      parts.push(
        new Promise<Outcome[]>((resolve, reject) => {
          thread.waiting.set(q, { resolve, reject })
          if (this.busy++ === 0) for (const t of this.threads) t.worker.ref()
          thread.worker.postMessage({ q, dirs: dirs.slice(i, i + per) })
        })
      )
    }
    for (const [r] of await Promise.all(parts)) {
      if (typeof r === 'object') throw Object.assign(new Error(r.message), { code: r.code })
    }
  }

  /**
   * Create the files of `jobs` (a file whose final name exists already is left alone). Resolves per job: true when
   * created, false when it existed, or the error that creating it met (its temp file removed).
   */
  write(jobs: readonly WriteJob[], opts: { fsync: boolean }): Promise<Array<boolean | Error>> {
    if (this.threads.length === 0) this.start()
    const thread = this.threads[this.next++ % this.threads.length]!
    const q = this.seq++
    const message = jobs.map(({ tmp, path, bytes }) => {
      const shared = toShared(bytes)
      return { tmp, path, b: shared.buffer, o: shared.byteOffset, n: shared.length }
    })
    return new Promise<Outcome[]>((resolve, reject) => {
      thread.waiting.set(q, { resolve, reject })
      if (this.busy++ === 0) for (const t of this.threads) t.worker.ref()
      thread.worker.postMessage({ q, fsync: opts.fsync, jobs: message })
    }).then((results) =>
      results.map((r) => {
        if (r === 'created') return true
        if (r === 'exists') return false
        return Object.assign(new Error(r.message), { code: r.code })
      })
    )
  }
}
