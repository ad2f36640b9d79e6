/**
 * Announces the NAR CIDs a seeder holds in the DHT, in the background.
 *
 * - A FIFO queue (deduplicated) worked by `concurrency` workers, each taking up to `batch` CIDs at a time and
 *   announcing them in one sweep (provider-sweep.ts): DHT walks shared among the CIDs, then ADD_PROVIDER
 *   messages straight to the closest peers of each CID, with bounded concurrency. kad-dht's provide() walks once
 *   per CID, which made 10,000 NARs take over an hour (docs/benchmarks.md "p2p").
 * - Each CID counts its acknowledged ADD_PROVIDER messages; fewer than `minAcks` (capped by the size of the
 *   routing table) is a failure, retried with exponential backoff up to `maxAttempts`.
 * - Every announced CID is re-announced `reannounceAfterMs` after its last success, before the provider records
 *   expire on the peers that hold them; a CID whose attempts all failed is retried at the next check.
 * - withdraw() stops re-announcing a CID and drops our own record; remote records lapse at their expiry, and a
 *   downloader asking us meanwhile gets HAVE = false.
 */
import { setMaxListeners } from 'node:events'
import type { KadDHT } from '@libp2p/kad-dht'
import debug from 'debug'
import type { CID } from 'multiformats/cid'
import {
  ANNOUNCE_BATCH,
  ANNOUNCE_CONCURRENCY,
  ANNOUNCE_MAX_ATTEMPTS,
  ANNOUNCE_MIN_ACKS,
  ANNOUNCE_RETRY_BASE_MS,
  REANNOUNCE_AFTER_MS
} from './constants.js'
import { ProviderSweep, type ProviderSweepInit } from './provider-sweep.js'

const log = debug('narthex:p2p:announcer')

export interface AnnouncerInit extends ProviderSweepInit {
  /** Sweeps in flight (default ANNOUNCE_CONCURRENCY). */
  readonly concurrency?: number
  /** CIDs per sweep (default ANNOUNCE_BATCH). */
  readonly batch?: number
  readonly minAcks?: number
  readonly maxAttempts?: number
  readonly retryBaseMs?: number
  readonly reannounceAfterMs?: number
  /** How often the schedule is checked for due re-announcements (default: a sixtieth of reannounceAfterMs). */
  readonly checkIntervalMs?: number
}

export interface AnnouncerStats {
  /** Waiting in the queue. */
  queued: number
  /** CIDs being announced or waiting for a retry. */
  inFlight: number
  /** Successful announcements (first ones and re-announcements). */
  announced: number
  /** Announcements that failed every attempt. */
  failed: number
  /** provide() calls retried after too few acknowledgements or an error. */
  retries: number
  /** Acknowledged ADD_PROVIDER messages in total. */
  acks: number
  /** CIDs currently held (announced or to be). */
  held: number
}

export interface AnnounceOutcome {
  readonly cid: CID
  readonly ok: boolean
  readonly acks: number
  readonly attempts: number
}

interface Entry {
  readonly cid: CID
  /** When the next announcement is due (0: queued or in flight). */
  due: number
  /** Attempts of the current announcement so far. */
  attempts: number
}

export class Announcer {
  readonly stats: AnnouncerStats = {
    queued: 0,
    inFlight: 0,
    announced: 0,
    failed: 0,
    retries: 0,
    acks: 0,
    held: 0
  }
  private readonly entries = new Map<string, Entry>()
  private readonly queue: Entry[] = []
  private readonly queued = new Set<string>()
  private running = false
  private controller = new AbortController()
  private timer: NodeJS.Timeout | undefined
  private idleWaiters: Array<() => void> = []
  private readonly listeners = new Set<(o: AnnounceOutcome) => void>()
  /** Entries waiting for a retry, by their timer. */
  private readonly retryTimers = new Map<NodeJS.Timeout, Entry>()
  private workers = 0
  private pumpScheduled = false
  readonly sweep: ProviderSweep

  constructor(
    private readonly components: {
      readonly node: ConstructorParameters<typeof ProviderSweep>[0]['node']
    },
    private readonly init: AnnouncerInit = {}
  ) {
    this.sweep = new ProviderSweep(components, init)
  }

  start(): void {
    if (this.running) return
    this.running = true
    this.controller = new AbortController()
    // Every stream and walk of the sweeps in flight listens on it.
    setMaxListeners(Number.POSITIVE_INFINITY, this.controller.signal)
    const reannounce = this.init.reannounceAfterMs ?? REANNOUNCE_AFTER_MS
    const every = this.init.checkIntervalMs ?? Math.max(1000, Math.floor(reannounce / 60))
    this.timer = setInterval(() => this.enqueueDue(), every)
    this.timer.unref()
    this.pump()
  }

  stop(): void {
    if (!this.running) return
    this.running = false
    clearInterval(this.timer)
    for (const [t, entry] of this.retryTimers) {
      clearTimeout(t)
      this.stats.inFlight--
      this.queued.delete(entry.cid.toString())
      entry.due = Date.now()
    }
    this.retryTimers.clear()
    this.controller.abort()
    this.resolveIdle()
  }

  /** Called with the outcome of every announcement. Returns a function that unsubscribes. */
  onOutcome(listener: (o: AnnounceOutcome) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Hold `cid` and announce it as soon as a worker is free (a no-op when already queued). */
  announce(cid: CID): void {
    const key = cid.toString()
    let entry = this.entries.get(key)
    if (entry === undefined) {
      entry = { cid, due: 0, attempts: 0 }
      this.entries.set(key, entry)
      this.stats.held = this.entries.size
    }
    this.push(entry)
  }

  /** Stop announcing `cid` (the seeder evicted it). */
  async withdraw(cid: CID): Promise<void> {
    const key = cid.toString()
    this.entries.delete(key)
    this.stats.held = this.entries.size
    if (this.queued.delete(key)) {
      const i = this.queue.findIndex((e) => e.cid.toString() === key)
      if (i >= 0) this.queue.splice(i, 1)
      this.stats.queued = this.queue.length
    }
    await this.components.node.services.dht.cancelReprovide(cid).catch(() => {})
  }

  /** Whether `cid` is held by the announcer. */
  holds(cid: CID): boolean {
    return this.entries.has(cid.toString())
  }

  /** Resolves when nothing is queued or in flight. */
  onIdle(): Promise<void> {
    if (this.queue.length === 0 && this.stats.inFlight === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  private push(entry: Entry): void {
    const key = entry.cid.toString()
    if (this.queued.has(key)) return
    entry.due = 0
    this.queued.add(key)
    this.queue.push(entry)
    this.stats.queued = this.queue.length
    this.pumpSoon()
  }

  /** Pump after the current task, so that CIDs announced in one go land in one sweep. */
  private pumpSoon(): void {
    if (this.pumpScheduled) return
    this.pumpScheduled = true
    setImmediate(() => {
      this.pumpScheduled = false
      this.pump()
    })
  }

  private enqueueDue(): void {
    const now = Date.now()
    for (const entry of this.entries.values()) {
      if (entry.due !== 0 && entry.due <= now) this.push(entry)
    }
  }

  private resolveIdle(): void {
    const waiters = this.idleWaiters
    this.idleWaiters = []
    for (const w of waiters) w()
  }

  private isIdle(): boolean {
    return this.queue.length === 0 && this.stats.inFlight === 0
  }

  private pump(): void {
    if (!this.running) return
    const concurrency = this.init.concurrency ?? ANNOUNCE_CONCURRENCY
    const batchSize = this.init.batch ?? ANNOUNCE_BATCH
    while (this.workers < concurrency && this.queue.length > 0) {
      const batch = this.queue.splice(0, batchSize)
      this.stats.queued = this.queue.length
      this.stats.inFlight += batch.length
      this.workers++
      this.work(batch)
        .catch((err) => log('sweep of %d CIDs failed: %s', batch.length, (err as Error).message))
        .finally(() => {
          this.workers--
          this.pump()
          if (this.isIdle()) this.resolveIdle()
        })
    }
  }

  /** Announce a batch in one sweep; settle each CID (success, retry later, or failure). */
  private async work(batch: Entry[]): Promise<void> {
    const signal = this.controller.signal
    const live = batch.filter((e) => this.running && this.entries.has(e.cid.toString()))
    let acks = new Map<string, number>()
    if (live.length > 0) {
      try {
        acks = await this.sweep.provide(
          live.map((e) => e.cid),
          { signal }
        )
      } catch (err) {
        if (!signal.aborted) log('sweep: %s', (err as Error).message)
      }
    }
    const required = this.requiredAcks()
    for (const entry of batch) {
      const key = entry.cid.toString()
      const n = acks.get(key) ?? 0
      this.stats.acks += n
      if (signal.aborted || !this.entries.has(key)) {
        // Stopped mid-sweep (perhaps started again since): not an attempt. Due at once, so the first check
        // after a start queues it again.
        this.queued.delete(key)
        this.stats.inFlight--
        entry.due = Date.now()
        continue
      }
      entry.attempts++
      if (n >= required) this.settle(entry, true, n)
      else if (entry.attempts < (this.init.maxAttempts ?? ANNOUNCE_MAX_ATTEMPTS)) this.retryLater(entry)
      else this.settle(entry, false, n)
    }
  }

  /** Queue the entry again after a backoff; it stays counted in flight (and in `queued`) meanwhile. */
  private retryLater(entry: Entry): void {
    this.stats.retries++
    const delay = (this.init.retryBaseMs ?? ANNOUNCE_RETRY_BASE_MS) * 2 ** (entry.attempts - 1)
    const t = setTimeout(() => {
      this.retryTimers.delete(t)
      this.stats.inFlight--
      const key = entry.cid.toString()
      if (!this.running || !this.entries.has(key) || !this.queued.has(key)) {
        this.queued.delete(key)
        if (this.isIdle()) this.resolveIdle()
        return
      }
      this.queue.push(entry)
      this.stats.queued = this.queue.length
      this.pump()
    }, delay)
    this.retryTimers.set(t, entry)
  }

  private settle(entry: Entry, ok: boolean, acks: number): void {
    this.queued.delete(entry.cid.toString())
    this.stats.inFlight--
    const reannounce = this.init.reannounceAfterMs ?? REANNOUNCE_AFTER_MS
    if (ok) this.stats.announced++
    else this.stats.failed++
    // A success is due again before the records expire; a failure is retried at the next check after a backoff.
    entry.due = Date.now() + (ok ? reannounce : Math.min(reannounce, 60_000))
    const outcome: AnnounceOutcome = { cid: entry.cid, ok, acks, attempts: entry.attempts }
    entry.attempts = 0
    for (const l of this.listeners) l(outcome)
  }

  /** Acknowledgements needed: minAcks, or fewer when the routing table knows fewer peers. */
  private requiredAcks(): number {
    const dht = this.components.node.services.dht as KadDHT & { routingTable?: { size: number } }
    const known = dht.routingTable?.size ?? Number.POSITIVE_INFINITY
    return Math.max(1, Math.min(this.init.minAcks ?? ANNOUNCE_MIN_ACKS, known))
  }
}
