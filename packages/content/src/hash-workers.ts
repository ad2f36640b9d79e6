/**
 * SHA-256 on worker threads, so that an ingest uses more than one core: one worker computes the NarHash of each
 * NAR being ingested, the other the digest of each chunk, while the calling thread only reads and chunks.
 *
 * Bytes reach the workers without a copy: they must be views of a SharedArrayBuffer (see {@link toShared}), and
 * the message carries the buffer, the offset and the length. Several ingests may share one HashWorkers; each opens
 * its own {@link HashSession}.
 *
 * The workers are started on the first session (so a store that never imports pays nothing) and ended by
 * {@link HashWorkers.stop}. They keep the process alive only while a session is open.
 */
import { Worker } from 'node:worker_threads'
import { IDLE_RINGS, INGEST_RING_BYTES } from './constants.js'
import { HashWorkerError } from './errors.js'
import { SharedRing } from './shared-ring.js'

/** The worker's code: plain JavaScript (a string, so it runs the same from source and from dist). */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads')
const { createHash } = require('node:crypto')
const open = new Map()
const hashOf = (id) => {
  let h = open.get(id)
  if (h === undefined) open.set(id, (h = createHash('sha256')))
  return h
}
parentPort.on('message', (m) => {
  if (m.t === 'u') {
    hashOf(m.id).update(new Uint8Array(m.b, m.o, m.n))
    parentPort.postMessage({ t: 'a', id: m.id, n: m.n })
  } else if (m.t === 'd') {
    const d = hashOf(m.id).digest()
    open.delete(m.id)
    parentPort.postMessage({ t: 'd', id: m.id, d })
  } else if (m.t === 'x') {
    open.delete(m.id)
  } else if (m.t === 'c') {
    const bytes = m.n === 0 ? new Uint8Array(0) : new Uint8Array(m.b, m.o, m.n)
    const d = new Uint8Array(32 * m.cuts.length)
    let from = 0
    m.cuts.forEach((cut, j) => {
      d.set(hashOf(m.id).update(bytes.subarray(from, cut)).digest(), 32 * j)
      open.delete(m.id)
      from = cut
    })
    if (from < bytes.length) hashOf(m.id).update(bytes.subarray(from))
    parentPort.postMessage({ t: 'c', id: m.id, q: m.q, d }, [d.buffer])
  }
})
`

/** A view of `bytes` backed by a SharedArrayBuffer: `bytes` itself when it already is, otherwise a copy. */
export function toShared(bytes: Uint8Array): Uint8Array {
  if (bytes.buffer instanceof SharedArrayBuffer) return bytes
  const shared = new Uint8Array(new SharedArrayBuffer(bytes.length))
  shared.set(bytes)
  return shared
}

interface Reply {
  readonly t: 'a' | 'd' | 'c'
  readonly id: number
  readonly n?: number
  readonly q?: number
  readonly d?: Uint8Array
}

/** One running worker, with the sessions waiting for its replies. */
class HashThread {
  readonly worker: Worker
  /** Per session id: what to do with a reply, and with the worker's failure. */
  readonly handlers = new Map<number, { reply: (r: Reply) => void; fail: (err: Error) => void }>()
  failure: Error | undefined

  constructor(onFail: (t: HashThread) => void) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true })
    this.worker.unref()
    const fail = (err: Error) => {
      if (this.failure !== undefined) return
      this.failure = new HashWorkerError(`hash worker failed: ${err.message}`, { cause: err })
      onFail(this)
    }
    this.worker.on('message', (r: Reply) => this.handlers.get(r.id)?.reply(r))
    this.worker.on('error', fail)
    this.worker.on('exit', (code) => fail(new Error(`exited with code ${code}`)))
  }

  post(message: unknown): void {
    if (this.failure !== undefined) throw this.failure
    this.worker.postMessage(message)
  }
}

/** The NarHash and chunk digests of one stream, computed on the workers. */
export interface HashSession {
  /** Add the next bytes of the stream to the NarHash (a view of a SharedArrayBuffer; do not modify it). */
  update(bytes: Uint8Array): void
  /** Bytes given to update() and not yet hashed: wait with drained() when this grows too large. */
  readonly backlog: number
  /** Resolves once the backlog is at most `bytes`. */
  drained(bytes: number): Promise<void>
  /**
   * The chunk digests of the next piece of the stream (the same pieces as update(), in order): `cuts` are the ends
   * of the chunks that end in it, as offsets into it, ascending. Resolves to their 32-byte digests, concatenated.
   * The bytes after the last cut start the next chunk; the stream's final chunk is ended by a call with an
   * empty piece and cuts `[0]`.
   */
  digestCuts(bytes: Uint8Array, cuts: readonly number[]): Promise<Uint8Array>
  /** The NarHash of everything given to update(); ends the session. */
  digest(): Promise<Uint8Array>
  /** End the session without a digest (on error). */
  close(): void
}

export class HashWorkers {
  private narThread: HashThread | undefined
  private chunkThread: HashThread | undefined
  private nextId = 1
  private open = 0
  private stopped = true
  /** Shared memory of finished ingests, kept for the next ones. */
  private readonly idleRings: SharedRing[] = []

  /** A ring of shared memory for one ingest (see shared-ring.ts); give it back with {@link HashWorkers.returnRing}. */
  takeRing(): SharedRing {
    return this.idleRings.pop() ?? new SharedRing(INGEST_RING_BYTES)
  }

  /** Give back a ring nothing reads or writes any more (no worker, no consumer of its chunks). */
  returnRing(ring: SharedRing): void {
    ring.clear()
    if (this.idleRings.length < IDLE_RINGS) this.idleRings.push(ring)
  }

  /** Allow sessions; the workers themselves start with the first one. */
  start(): void {
    this.stopped = false
  }

  /** End the workers; sessions still open fail with HashWorkerError. */
  async stop(): Promise<void> {
    this.stopped = true
    const threads = [this.narThread, this.chunkThread].filter((t) => t !== undefined)
    this.narThread = undefined
    this.chunkThread = undefined
    await Promise.all(threads.map((t) => t.worker.terminate()))
  }

  get running(): boolean {
    return !this.stopped
  }

  /** Open a session (call start() first). */
  session(): HashSession {
    if (this.stopped) throw new HashWorkerError('the hash workers are stopped')
    const dropped = (t: HashThread) => {
      if (this.narThread === t) this.narThread = undefined
      if (this.chunkThread === t) this.chunkThread = undefined
      for (const h of [...t.handlers.values()]) h.fail(t.failure!)
    }
    this.narThread ??= new HashThread(dropped)
    this.chunkThread ??= new HashThread(dropped)
    const nar = this.narThread
    const chunks = this.chunkThread
    const id = this.nextId++
    if (this.open++ === 0) {
      nar.worker.ref()
      chunks.worker.ref()
    }
    let backlog = 0
    let seq = 0
    let closed = false
    let drainWait: { bytes: number; resolve: () => void; reject: (e: Error) => void } | undefined
    let final: { resolve: (d: Uint8Array) => void; reject: (e: Error) => void } | undefined
    const digests = new Map<number, { resolve: (d: Uint8Array) => void; reject: (e: Error) => void }>()
    const close = () => {
      if (closed) return
      closed = true
      nar.handlers.delete(id)
      chunks.handlers.delete(id)
      if (nar.failure === undefined) nar.worker.postMessage({ t: 'x', id })
      if (chunks.failure === undefined) chunks.worker.postMessage({ t: 'x', id })
      if (--this.open === 0) {
        nar.worker.unref()
        chunks.worker.unref()
      }
    }
    const failAll = (err: Error) => {
      drainWait?.reject(err)
      drainWait = undefined
      final?.reject(err)
      final = undefined
      for (const w of digests.values()) w.reject(err)
      digests.clear()
      close()
    }
    nar.handlers.set(id, {
      fail: failAll,
      reply: (r) => {
        if (r.t === 'a') {
          backlog -= r.n!
          if (drainWait !== undefined && backlog <= drainWait.bytes) {
            drainWait.resolve()
            drainWait = undefined
          }
        } else if (r.t === 'd') {
          final?.resolve(new Uint8Array(r.d!))
          final = undefined
          close()
        }
      }
    })
    chunks.handlers.set(id, {
      fail: failAll,
      reply: (r) => {
        digests.get(r.q!)?.resolve(r.d!)
        digests.delete(r.q!)
      }
    })
    const check = () => {
      if (closed) throw new HashWorkerError('the hash session is closed')
    }
    return {
      update(bytes) {
        check()
        if (bytes.length === 0) return
        backlog += bytes.length
        nar.post({ t: 'u', id, b: bytes.buffer, o: bytes.byteOffset, n: bytes.length })
      },
      get backlog() {
        return backlog
      },
      drained(bytes) {
        if (backlog <= bytes) return Promise.resolve()
        check()
        return new Promise((resolve, reject) => {
          drainWait = { bytes, resolve, reject }
        })
      },
      digestCuts(bytes, cuts) {
        check()
        const q = seq++
        return new Promise((resolve, reject) => {
          digests.set(q, { resolve, reject })
          chunks.post({ t: 'c', id, q, b: bytes.buffer, o: bytes.byteOffset, n: bytes.length, cuts })
        })
      },
      digest() {
        check()
        return new Promise((resolve, reject) => {
          final = { resolve, reject }
          nar.post({ t: 'd', id })
        })
      },
      close
    }
  }
}
