/**
 * Announces the NAR CIDs a seeder holds in the DHT, in the background.
 *
 * - A FIFO queue (deduplicated) worked by `concurrency` workers: kad-dht 16 loses records silently when more
 *   than ~5 provide() calls run at once, so the bound is deliberate.
 * - Each provide() counts acknowledged ADD_PROVIDER messages; fewer than `minAcks` (capped by the size of the
 *   routing table) is a failure, retried with exponential backoff up to `maxAttempts`.
 * - Every announced CID is re-announced `reannounceAfterMs` after its last success, before the provider records
 *   expire on the peers that hold them; a CID whose attempts all failed is retried at the next check.
 * - withdraw() stops re-announcing a CID and drops our own record; remote records lapse at their expiry, and a
 *   downloader asking us meanwhile gets HAVE = false.
 */
import type { KadDHT } from '@libp2p/kad-dht'
import debug from 'debug'
import type { CID } from 'multiformats/cid'
import {
  ANNOUNCE_CONCURRENCY,
  ANNOUNCE_MAX_ATTEMPTS,
  ANNOUNCE_MIN_ACKS,
  ANNOUNCE_RETRY_BASE_MS,
  ANNOUNCE_TIMEOUT_MS,
  REANNOUNCE_AFTER_MS
} from './constants.js'

const log = debug('narthex:p2p:announcer')

export interface AnnouncerInit {
  readonly concurrency?: number
  readonly minAcks?: number
  readonly maxAttempts?: number
  readonly retryBaseMs?: number
  readonly timeoutMs?: number
  readonly reannounceAfterMs?: number
  /** How often the schedule is checked for due re-announcements (default: a sixtieth of reannounceAfterMs). */
  readonly checkIntervalMs?: number
}

export interface AnnouncerStats {
  /** Waiting in the queue. */
  queued: number
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

  constructor(
    private readonly components: { readonly node: { readonly services: { readonly dht: KadDHT } } },
    private readonly init: AnnouncerInit = {}
  ) {}

  start(): void {
    if (this.running) return
    this.running = true
    this.controller = new AbortController()
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
      entry = { cid, due: 0 }
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
    this.pump()
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

  private pump(): void {
    if (!this.running) return
    const concurrency = this.init.concurrency ?? ANNOUNCE_CONCURRENCY
    while (this.stats.inFlight < concurrency && this.queue.length > 0) {
      const entry = this.queue.shift()!
      this.stats.queued = this.queue.length
      this.stats.inFlight++
      this.work(entry)
        .catch((err) => log('announce %s failed: %s', entry.cid.toString(), (err as Error).message))
        .finally(() => {
          this.queued.delete(entry.cid.toString())
          this.stats.inFlight--
          this.pump()
          if (this.queue.length === 0 && this.stats.inFlight === 0) this.resolveIdle()
        })
    }
  }

  private async work(entry: Entry): Promise<void> {
    const maxAttempts = this.init.maxAttempts ?? ANNOUNCE_MAX_ATTEMPTS
    const reannounce = this.init.reannounceAfterMs ?? REANNOUNCE_AFTER_MS
    const signal = this.controller.signal
    let acks = 0
    let attempt = 0
    for (; attempt < maxAttempts; attempt++) {
      if (!this.running || !this.entries.has(entry.cid.toString())) return
      if (attempt > 0) {
        this.stats.retries++
        await sleep((this.init.retryBaseMs ?? ANNOUNCE_RETRY_BASE_MS) * 2 ** (attempt - 1), signal)
      }
      try {
        acks = await this.provideOnce(entry.cid, signal)
      } catch (err) {
        if (signal.aborted) return
        log('provide %s attempt %d: %s', entry.cid.toString(), attempt + 1, (err as Error).message)
        acks = 0
      }
      if (acks >= this.requiredAcks()) break
    }
    const ok = attempt < maxAttempts
    if (ok) this.stats.announced++
    else this.stats.failed++
    // A success is due again before the records expire; a failure is retried at the next check after a backoff.
    entry.due = Date.now() + (ok ? reannounce : Math.min(reannounce, 60_000))
    const outcome: AnnounceOutcome = {
      cid: entry.cid,
      ok,
      acks,
      attempts: Math.min(attempt + 1, maxAttempts)
    }
    for (const l of this.listeners) l(outcome)
  }

  /** Acknowledgements needed: minAcks, or fewer when the routing table knows fewer peers. */
  private requiredAcks(): number {
    const dht = this.components.node.services.dht as KadDHT & { routingTable?: { size: number } }
    const known = dht.routingTable?.size ?? Number.POSITIVE_INFINITY
    return Math.max(1, Math.min(this.init.minAcks ?? ANNOUNCE_MIN_ACKS, known))
  }

  private async provideOnce(cid: CID, signal: AbortSignal): Promise<number> {
    const timeout = AbortSignal.any([signal, AbortSignal.timeout(this.init.timeoutMs ?? ANNOUNCE_TIMEOUT_MS)])
    let acks = 0
    for await (const ev of this.components.node.services.dht.provide(cid, { signal: timeout })) {
      if (ev.name === 'PEER_RESPONSE' && ev.messageName === 'ADD_PROVIDER') acks++
    }
    this.stats.acks += acks
    return acks
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms)
    function done(): void {
      clearTimeout(t)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })
}
