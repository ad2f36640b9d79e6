/**
 * Delivering NARs: from the local cache when it has them, else by one network fetch per NAR however many
 * requests wait for it (single flight), tried source by source (swarm first, then upstreams).
 *
 * A fetch spools to a file in the data directory (a NAR of at most MEMORY_SPOOL_BYTES to memory, within
 * MEMORY_SPOOL_TOTAL_BYTES for all fetches); every request for that NAR streams from the spool as verified bytes
 * arrive (a request at the download's edge from the latest verified buffers, still in memory), so memory stays flat
 * whatever the NAR size or number of readers. The finished spool is imported into the local store once no request
 * reads it any more and NAR traffic pauses, one import at a time, then deleted. A request gets its response headers
 * only once its first verified byte exists: a NAR that cannot be delivered fails with a 4xx/5xx before any header,
 * never as a truncated 200.
 */
import { createHash } from 'node:crypto'
import { type FileHandle, open, unlink } from 'node:fs/promises'
import { setTimeout as delay } from 'node:timers/promises'
import { parseSha256 } from '@narthex/nix'
import createDebug from 'debug'
import type { FetchRecord } from './activity.js'
import {
  FIRST_BYTE_TIMEOUT_MS,
  IMPORT_MAX_DEFER_MS,
  IMPORT_QUIET_MS,
  MEMORY_SPOOL_BYTES,
  MEMORY_SPOOL_TOTAL_BYTES,
  READ_CHUNK_BYTES,
  SPOOL_RECENT_BYTES,
  STALL_TIMEOUT_MS,
  WRITE_BATCH_BYTES
} from './constants.js'
import {
  NarNotFoundError,
  NarTimeoutError,
  NarUnavailableError,
  NarVerificationError,
  ShimStoppedError
} from './errors.js'
import type { LocalNars } from './local-nars.js'
import { narFileKey } from './narinfo.js'
import type { ByteRange } from './routes.js'
import type { NarFetch, NarRequest, NarSource, Reseeder } from './sources.js'

const log = createDebug('narthex:shim:nar')

export interface NarServiceInit {
  readonly local: LocalNars
  /** Tried in order. */
  readonly sources: readonly NarSource[]
  readonly reseeder?: Reseeder
  readonly firstByteTimeoutMs?: number
  /** NARs up to this size are fetched into memory instead of a spool file (default MEMORY_SPOOL_BYTES). */
  readonly memorySpoolBytes?: number
  readonly stallTimeoutMs?: number
  /** Imports wait for this long without NAR traffic (default IMPORT_QUIET_MS; 0: import at once). */
  readonly importQuietMs?: number
  /** ...but no longer than this after the NAR was fetched (default IMPORT_MAX_DEFER_MS). */
  readonly importMaxDeferMs?: number
  /** Told of every network fetch when it ends (for `narthex status`). */
  readonly onFetched?: (record: FetchRecord) => void
}

export interface NarServiceStats {
  /** Network fetches started (one per NAR per source tried), the figure single-flight keeps at one. */
  readonly fetches: number
  readonly fetchesFailed: number
  readonly servedFromCache: number
  /** NARs being fetched, or fetched and waiting for their import into the chunk store (read from their spools). */
  readonly inFlight: number
  /** Bytes those NARs hold in memory: small NARs spooled to memory, and the recent buffers of downloads. */
  readonly memoryBytes: number
}

/** An opened NAR range: iterate `stream`, then `close()`. */
export interface OpenedNar {
  /** The NAR's bytes in order. Each view is valid only until the next is asked for (it may be a reused buffer). */
  readonly stream: AsyncIterable<Uint8Array>
  close(): Promise<void>
}

export class NarService {
  readonly #local: LocalNars
  readonly #sources: readonly NarSource[]
  readonly #reseeder: Reseeder | undefined
  readonly #firstByteTimeoutMs: number
  readonly #memorySpoolBytes: number
  readonly #stallTimeoutMs: number
  readonly #importQuietMs: number
  readonly #importMaxDeferMs: number
  readonly #onFetched: ((record: FetchRecord) => void) | undefined
  readonly #flights = new Map<string, Flight>()
  readonly #stop = new AbortController()
  #imports: Promise<void> = Promise.resolve()
  /** NAR streams open and flights fetching: work for Nix, which imports wait for. */
  #busy = 0
  #lastBusy = 0
  /** Bytes of the flights fetching into memory (MEMORY_SPOOL_TOTAL_BYTES at most). */
  #memoryBytes = 0
  #stats = { fetches: 0, fetchesFailed: 0, servedFromCache: 0 }

  constructor(init: NarServiceInit) {
    this.#local = init.local
    this.#sources = init.sources
    this.#reseeder = init.reseeder
    this.#firstByteTimeoutMs = init.firstByteTimeoutMs ?? FIRST_BYTE_TIMEOUT_MS
    this.#memorySpoolBytes = init.memorySpoolBytes ?? MEMORY_SPOOL_BYTES
    this.#stallTimeoutMs = init.stallTimeoutMs ?? STALL_TIMEOUT_MS
    this.#importQuietMs = init.importQuietMs ?? IMPORT_QUIET_MS
    this.#importMaxDeferMs = init.importMaxDeferMs ?? IMPORT_MAX_DEFER_MS
    this.#onFetched = init.onFetched
  }

  get stats(): NarServiceStats {
    let memoryBytes = 0
    for (const f of this.#flights.values()) memoryBytes += f.memoryBytes
    return { ...this.#stats, inFlight: this.#flights.size, memoryBytes }
  }

  /** Cancel running fetches and wait for them to settle. */
  async stop(): Promise<void> {
    this.#stop.abort(new ShimStoppedError('shim stopping'))
    await Promise.allSettled([...this.#flights.values()].map((f) => f.settled))
  }

  /** Whether the NAR can be delivered: cached, being fetched, or some source says it has it. */
  async canDeliver(req: NarRequest, opts: { signal?: AbortSignal } = {}): Promise<boolean> {
    if (this.#local.has(req.narHash) || this.#flights.has(narFileKey(req.narHash))) return true
    for (const source of this.#sources) {
      try {
        if (await source.has(req, opts)) return true
      } catch (err) {
        log('%s.has(%s) failed: %s', source.name, req.storePath, (err as Error).message)
      }
    }
    return false
  }

  /**
   * Fetch without a reader (closure prefetch). Resolves once the whole NAR is verified in the spool, where
   * requests read it (not when the import into the store is done: imports run one at a time, and waiting for them
   * would hold a prefetch slot while no network fetch is running). Never rejects; errors are logged.
   */
  prefetch(req: NarRequest): Promise<void> {
    if (this.#local.has(req.narHash)) return Promise.resolve()
    const flight = this.#flight(req)
    return Promise.race([flight.fetched, flight.settled])
  }

  /**
   * Open a NAR range for streaming. Resolves once bytes can be sent (first verified byte present); rejects with a
   * typed error (NarNotFoundError, NarUnavailableError, NarVerificationError, NarTimeoutError...) before anything
   * is sent otherwise. Call `close()` when done with the stream.
   */
  async open(req: NarRequest, range: ByteRange, opts: { signal?: AbortSignal } = {}): Promise<OpenedNar> {
    if (this.#local.has(req.narHash)) {
      try {
        const stream = await this.#local.open(req.narHash, range, opts.signal)
        this.#stats.servedFromCache++
        const done = this.#busyUntil()
        return {
          stream,
          close: async () => done()
        }
      } catch (err) {
        if (!(err instanceof NarNotFoundError)) throw err
      }
    }
    const flight = this.#flight(req)
    flight.readers++
    const done = this.#busyUntil()
    try {
      await waitReady(flight.ready, this.#firstByteTimeoutMs, opts.signal)
    } catch (err) {
      done()
      await flight.release()
      throw err
    }
    return {
      stream: flight.read(range),
      close: () => {
        done()
        return flight.release()
      }
    }
  }

  /** Count work for Nix (a NAR streamed or fetched) from now until the returned function is first called. */
  #busyUntil(): () => void {
    this.#busy++
    this.#lastBusy = Date.now()
    let ended = false
    return () => {
      if (ended) return
      ended = true
      this.#busy--
      this.#lastBusy = Date.now()
    }
  }

  /**
   * Resolves once no NAR has been fetched or streamed for importQuietMs, importMaxDeferMs after `since` at the
   * latest, or when the service stops.
   */
  async #quiet(since: number): Promise<void> {
    const quietMs = this.#importQuietMs
    const signal = this.#stop.signal
    for (;;) {
      const now = Date.now()
      if (quietMs <= 0 || signal.aborted || now - since >= this.#importMaxDeferMs) return
      const wait = this.#busy > 0 ? quietMs : this.#lastBusy + quietMs - now
      if (wait <= 0) return
      await delay(Math.min(wait, this.#importMaxDeferMs - (now - since)), undefined, { signal }).catch(
        () => {}
      )
    }
  }

  /** Imports run one at a time, each once NAR traffic pauses (see #quiet). */
  #serialImport(task: () => Promise<void>): Promise<void> {
    const since = Date.now()
    const run = this.#imports.then(() => this.#quiet(since)).then(task)
    this.#imports = run.catch(() => {})
    return run
  }

  #flight(req: NarRequest): Flight {
    const key = narFileKey(req.narHash)
    let flight = this.#flights.get(key)
    if (flight === undefined) {
      const inMemory =
        req.narSize <= this.#memorySpoolBytes && this.#memoryBytes + req.narSize <= MEMORY_SPOOL_TOTAL_BYTES
      if (inMemory) this.#memoryBytes += req.narSize
      flight = new Flight(req, inMemory ? undefined : this.#local.tmpPath())
      this.#flights.set(key, flight)
      const f = flight
      const fetched = this.#busyUntil()
      void f.fetched.then(fetched)
      f.settled = this.#run(f).finally(() => {
        fetched()
        if (inMemory) this.#memoryBytes -= req.narSize
        if (this.#flights.get(key) === f) this.#flights.delete(key)
      })
    }
    return flight
  }

  async #run(flight: Flight): Promise<void> {
    const { req } = flight
    const signal = this.#stop.signal
    const reasons: string[] = []
    let onlyMissing = true
    const started = new Date()
    const bytesFrom: Record<string, number> = {}
    const count = (source: NarSource, fetch: NarFetch | undefined, received: number) => {
      const origins = fetch?.origins?.() ?? (received > 0 ? { [source.name]: received } : {})
      for (const [k, v] of Object.entries(origins)) if (v > 0) bytesFrom[k] = (bytesFrom[k] ?? 0) + v
    }
    const record = (err?: Error) =>
      this.#onFetched?.({
        storePath: req.storePath,
        narHash: req.narHash,
        narSize: req.narSize,
        started: started.toISOString(),
        durationMs: Date.now() - started.getTime(),
        ok: err === undefined,
        bytesFrom,
        ...(err === undefined ? {} : { error: { name: err.name, message: err.message } })
      })
    try {
      await flight.create()
      for (const source of this.#sources) {
        if (signal.aborted) throw signal.reason
        let fetch: NarFetch
        this.#stats.fetches++
        // One controller per attempt: a stalled source is aborted (its HTTP request or stream with it).
        const attempt = new AbortController()
        const attemptSignal = AbortSignal.any([signal, attempt.signal])
        try {
          fetch = await source.open(req, { signal: attemptSignal })
        } catch (err) {
          this.#stats.fetchesFailed++
          if (!(err instanceof NarNotFoundError)) onlyMissing = false
          reasons.push(`${source.name}: ${(err as Error).message}`)
          log('%s cannot deliver %s: %s', source.name, req.storePath, (err as Error).message)
          continue
        }
        try {
          await flight.consume(fetch, this.#stallTimeoutMs, attempt)
          count(source, fetch, flight.received)
          log('fetched %s (%d bytes) from %s', req.storePath, req.narSize, source.name)
          break
        } catch (err) {
          count(source, fetch, flight.received)
          this.#stats.fetchesFailed++
          onlyMissing = false
          reasons.push(`${source.name}: ${(err as Error).message}`)
          log('%s failed delivering %s: %s', source.name, req.storePath, (err as Error).message)
          if (flight.published > 0 || signal.aborted) throw err
          await flight.reset()
        }
      }
      if (flight.received !== req.narSize) {
        // Every source said "not here": 404 (Nix tries its next substituter). Any real failure: 502.
        if (onlyMissing)
          throw new NarNotFoundError(`no source has the NAR (${reasons.join('; ') || 'none configured'})`)
        throw new NarUnavailableError(
          reasons.length === 0
            ? 'no source for NARs is configured'
            : `no source delivered the NAR (${reasons.join('; ')})`
        )
      }
      flight.finish()
      // Importing into the chunk store costs CPU and many small writes (~30 MiB/s on a busy disk): it waits until
      // the requests streaming this NAR are done, and imports run one at a time, so serving Nix never competes with
      // them. Until the import is done, new requests read the spool.
      await flight.idle()
      if (signal.aborted) throw signal.reason
      await this.#serialImport(() =>
        this.#local.adopt(req.narHash, flight.spool, req.narSize, req.narinfo, signal)
      )
      record()
      if (this.#reseeder !== undefined) {
        await this.#reseeder
          .seed(req, { signal })
          .catch((err: Error) => log('re-seeding %s failed: %s', req.storePath, err.message))
      }
    } catch (err) {
      log('fetch of %s ended: %s', req.storePath, (err as Error).message)
      record(err as Error)
      flight.fail(err as Error)
      // A failed flight is never joined: the next request for this NAR starts a fresh fetch instead of reading
      // the dead one while its readers drain (which cut such a request before it got any answer).
      const key = narFileKey(req.narHash)
      if (this.#flights.get(key) === flight) this.#flights.delete(key)
      if (flight.path !== undefined) await unlink(flight.path).catch(() => {})
    } finally {
      await flight.doneFetching()
    }
  }
}

/** Wait for a flight's first byte, bounded by a timeout and the request's signal. */
function waitReady(ready: Promise<void>, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new NarTimeoutError('no verified bytes in time')), timeoutMs)
    const onAbort = () => done(signal!.reason ?? new NarUnavailableError('request aborted'))
    const done = (err?: unknown) => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      if (err === undefined) resolve()
      else reject(err)
    }
    if (signal?.aborted) return onAbort()
    signal?.addEventListener('abort', onAbort, { once: true })
    ready.then(() => done(), done)
  })
}

/**
 * Iterate a source's stream, failing with NarTimeoutError (and aborting the attempt, which cancels the source's
 * request) when no chunk arrives for `ms`.
 */
async function* withStallTimeout(
  stream: AsyncIterable<Uint8Array>,
  ms: number,
  attempt: AbortController
): AsyncGenerator<Uint8Array> {
  const it = stream[Symbol.asyncIterator]()
  let finished = false
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined
      const stalled = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          const err = new NarTimeoutError(`source stalled for ${ms} ms`)
          attempt.abort(err)
          reject(err)
        }, ms)
      })
      let step: IteratorResult<Uint8Array>
      try {
        step = await Promise.race([it.next(), stalled])
      } finally {
        clearTimeout(timer)
      }
      if (step.done) {
        finished = true
        return
      }
      yield step.value
    }
  } finally {
    if (!finished)
      await Promise.race([it.return?.(), new Promise((r) => setTimeout(r, 1000))]).catch(() => {})
  }
}

/** One NAR being fetched into a spool (a file, or memory for a small NAR), readable while it grows. */
class Flight {
  readonly req: NarRequest
  /** The spool file; undefined for a flight fetched into memory. */
  readonly path: string | undefined
  /** The NAR's bytes, for a flight fetched into memory (its first `received` bytes are the NAR's). */
  #memory: Buffer | undefined
  settled: Promise<void> = Promise.resolve()
  /** Bytes written to the spool. */
  received = 0
  /** Bytes readers may send (verified). */
  published = 0
  readers = 0
  readonly ready: Promise<void>
  /** Resolves once the whole NAR is in the spool and verified (never rejects; see `settled` for failures). */
  readonly fetched: Promise<void>
  #resolveFetched!: () => void
  #fh: FileHandle | undefined
  /**
   * A file spool's latest verified chunks, kept in memory: every byte not yet written to the file, and at least
   * SPOOL_RECENT_BYTES in all. Requests reading at the edge are sent these instead of reading the file.
   * `#recentStart` is the NAR offset of the first.
   */
  #recent: Uint8Array[] = []
  #recentStart = 0
  #recentBytes = 0
  #fetching = true
  #error: Error | undefined
  #wake: (() => void)[] = []
  #idle: (() => void)[] = []
  #resolveReady!: () => void
  #rejectReady!: (err: Error) => void

  constructor(req: NarRequest, path: string | undefined) {
    this.req = req
    this.path = path
    this.ready = new Promise((resolve, reject) => {
      this.#resolveReady = resolve
      this.#rejectReady = reject
    })
    this.ready.catch(() => {}) // a prefetch has no reader to see the rejection
    this.fetched = new Promise((resolve) => {
      this.#resolveFetched = resolve
    })
  }

  async create(): Promise<void> {
    if (this.path === undefined) this.#memory = Buffer.allocUnsafe(this.req.narSize)
    else this.#fh = await open(this.path, 'w+', 0o600)
  }

  /** Bytes held in memory: the whole NAR for a memory spool, the recent buffers for a file spool. */
  get memoryBytes(): number {
    return (this.#memory?.length ?? 0) + this.#recentBytes
  }

  /** What the import reads: the spool file, or the fetched bytes. */
  get spool(): string | Uint8Array {
    return this.path ?? this.#memory!.subarray(0, this.received)
  }

  /** Write a source's stream to the spool, publishing as it goes when the source verifies its bytes. */
  async consume(fetch: NarFetch, stallTimeoutMs: number, attempt: AbortController): Promise<void> {
    const fh = this.#fh
    const memory = this.#memory
    // An unverified stream (an upstream) is checked as a whole against the agreed NarHash before anything is
    // published. A verified one (the swarm) had every chunk checked against the agreed manifest root, whose
    // manifest names the NarHash, before it was yielded: a second SHA-256 pass would only cost CPU on the path
    // to Nix (the import into the store checks NarHash once more anyway).
    const hash = fetch.verified ? undefined : createHash('sha256')
    const size = this.req.narSize
    // A file spool gathers chunks into writes of up to WRITE_BATCH_BYTES: one write per batch instead of one per
    // (often 16–64 KiB) network chunk. Verified chunks are published at once all the same: readers get them from
    // the recent buffers (#remember) until the file has them.
    let batch: Uint8Array[] = []
    let batchBytes = 0
    const write = async () => {
      if (batchBytes === 0) return
      let pos = this.received
      const end = pos + batchBytes
      const bufs = batch
      batch = []
      batchBytes = 0
      while (pos < end) {
        const { bytesWritten } = await fh!.writev(bufs, pos)
        pos += bytesWritten
        if (pos < end) dropWritten(bufs, bytesWritten)
      }
      this.received = end
      this.#trimRecent()
    }
    let accepted = this.received
    for await (const chunk of withStallTimeout(fetch.stream, stallTimeoutMs, attempt)) {
      const at = accepted
      accepted += chunk.length
      if (accepted > size) throw new NarVerificationError('NAR is longer than NarSize')
      hash?.update(chunk)
      if (memory !== undefined) {
        memory.set(chunk, at)
        this.received = accepted
      } else {
        if (fetch.verified) this.#remember(chunk, at)
        batch.push(chunk)
        batchBytes += chunk.length
        if (batchBytes >= WRITE_BATCH_BYTES) await write()
      }
      if (fetch.verified) this.#publish(accepted)
    }
    await write()
    if (this.received !== size)
      throw new NarVerificationError(`NAR is ${this.received} bytes, NarSize is ${size}`)
    if (hash !== undefined && !hash.digest().equals(Buffer.from(parseSha256(this.req.narHash)))) {
      throw new NarVerificationError('NAR does not hash to the agreed NarHash')
    }
  }

  /** Forget a failed attempt that published nothing, so the next source starts at offset 0. */
  async reset(): Promise<void> {
    this.received = 0
    this.#forget()
    await this.#fh?.truncate(0)
  }

  /**
   * The whole NAR is verified: readable in full at once. The spool is not made durable: it is never renamed into
   * the cache but imported into the store (which syncs its own files) and then deleted, and the spool directory
   * is emptied at start, so a crash loses only a spool that would have been deleted anyway.
   */
  finish(): void {
    this.#publish(this.received)
    this.#resolveFetched()
    this.#dropRecentIfDone()
  }

  fail(err: Error): void {
    this.#error = err
    this.#rejectReady(err)
    this.#wakeAll()
  }

  async doneFetching(): Promise<void> {
    this.#fetching = false
    this.#wakeAll()
    await this.#maybeClose()
  }

  async release(): Promise<void> {
    this.readers--
    if (this.readers === 0) {
      this.#dropRecentIfDone()
      const idle = this.#idle
      this.#idle = []
      for (const resolve of idle) resolve()
    }
    await this.#maybeClose()
  }

  /** Resolves when no request is reading this flight (at once if none is). */
  idle(): Promise<void> {
    if (this.readers === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idle.push(resolve))
  }

  async *read(range: ByteRange): AsyncGenerator<Uint8Array> {
    let pos = range.start
    while (pos < range.end) {
      if (pos >= this.published) {
        if (this.#error !== undefined) throw this.#error
        if (!this.#fetching) throw new NarUnavailableError('fetch ended early')
        await new Promise<void>((resolve) => this.#wake.push(resolve))
        continue
      }
      const recent = this.#recentAt(pos)
      if (recent !== undefined) {
        // Published bytes never change and these buffers are never reused: a view, no copy, no file read.
        const n = Math.min(recent.length, range.end - pos)
        yield n === recent.length ? recent : recent.subarray(0, n)
        pos += n
        continue
      }
      if (this.#memory !== undefined) {
        // Bytes once published never change: a view, no copy.
        const n = Math.min(READ_CHUNK_BYTES, range.end - pos, this.published - pos)
        yield this.#memory.subarray(pos, pos + n)
        pos += n
        continue
      }
      // Bytes below the recent ones are in the file (#trimRecent keeps whatever is not written yet).
      const n = Math.min(READ_CHUNK_BYTES, range.end - pos, this.received - pos)
      if (n <= 0) throw new NarUnavailableError('spool behind what was published')
      const buf = Buffer.allocUnsafe(n)
      const { bytesRead } = await this.#fh!.read(buf, 0, n, pos)
      if (bytesRead === 0) throw new NarUnavailableError('spool shorter than published')
      pos += bytesRead
      yield bytesRead === n ? buf : buf.subarray(0, bytesRead)
    }
  }

  /** Keep a verified chunk (at NAR offset `at`, right after the recent ones) in memory. */
  #remember(chunk: Uint8Array, at: number): void {
    if (this.#recent.length === 0) this.#recentStart = at
    this.#recent.push(chunk)
    this.#recentBytes += chunk.length
  }

  /** Drop the oldest recent chunks beyond SPOOL_RECENT_BYTES that the file already holds. */
  #trimRecent(): void {
    for (;;) {
      const first = this.#recent[0]
      if (first === undefined) return
      if (this.#recentBytes - first.length < SPOOL_RECENT_BYTES) return
      if (this.#recentStart + first.length > this.received) return
      this.#recent.shift()
      this.#recentBytes -= first.length
      this.#recentStart += first.length
    }
  }

  /**
   * Drop the recent buffers once the spool has every byte and no request reads this NAR: they serve only requests
   * at the edge of a running download.
   */
  #dropRecentIfDone(): void {
    if (this.readers === 0 && this.received === this.req.narSize) this.#forget()
  }

  #forget(): void {
    this.#recent = []
    this.#recentStart = 0
    this.#recentBytes = 0
  }

  /**
   * The recent bytes from NAR offset `pos` to the end of the buffer holding it, if still in memory. Every recent
   * byte is published (consume publishes each chunk as it remembers it).
   */
  #recentAt(pos: number): Uint8Array | undefined {
    if (pos < this.#recentStart) return undefined
    let start = this.#recentStart
    for (const b of this.#recent) {
      const end = start + b.length
      if (pos < end) return b.subarray(pos - start)
      start = end
    }
    return undefined
  }

  #publish(upTo: number): void {
    if (upTo <= this.published) return
    this.published = upTo
    this.#resolveReady()
    this.#wakeAll()
  }

  #wakeAll(): void {
    const wake = this.#wake
    this.#wake = []
    for (const w of wake) w()
  }

  async #maybeClose(): Promise<void> {
    if (this.#fetching || this.readers > 0) return
    this.#forget()
    if (this.#fh === undefined) return
    const fh = this.#fh
    this.#fh = undefined
    await fh.close().catch(() => {})
  }
}

/** After a short writev of `written` bytes, drop what was written from the front of `bufs` (in place). */
function dropWritten(bufs: Uint8Array[], written: number): void {
  while (written > 0 && bufs.length > 0) {
    const first = bufs[0]!
    if (first.length <= written) {
      written -= first.length
      bufs.shift()
    } else {
      bufs[0] = first.subarray(written)
      written = 0
    }
  }
}
