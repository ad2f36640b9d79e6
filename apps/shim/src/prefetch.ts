/**
 * Closure prefetch: when Nix asks for a narinfo, fetch the narinfos and NARs of that path's closure in the
 * background, so Nix's next requests (its references' narinfos, then the NARs) are answered from memory and the
 * local cache. Bounded: PREFETCH_CONCURRENCY paths at a time, PREFETCH_QUEUE_MAX queued; each path once.
 */
import createDebug from 'debug'
import { PREFETCH_CONCURRENCY, PREFETCH_QUEUE_MAX } from './constants.js'
import type { NarService } from './nar-service.js'
import type { CachedNarinfo } from './narinfo-cache.js'
import { type NarinfoService, narRequestOf } from './narinfo-service.js'

const log = createDebug('narthex:shim:prefetch')

export class Prefetcher {
  readonly #narinfos: NarinfoService
  readonly #nars: NarService
  readonly #concurrency: number
  readonly #queueMax: number
  readonly #queue: string[] = []
  /** Hash parts already queued or done; cleared when the queue drains so later requests prefetch again. */
  readonly #seen = new Set<string>()
  readonly #running = new Set<Promise<void>>()
  #stopped = false

  constructor(init: { narinfos: NarinfoService; nars: NarService; concurrency?: number; queueMax?: number }) {
    this.#narinfos = init.narinfos
    this.#nars = init.nars
    this.#concurrency = init.concurrency ?? PREFETCH_CONCURRENCY
    this.#queueMax = init.queueMax ?? PREFETCH_QUEUE_MAX
  }

  /** Start fetching the closure of a path whose narinfo Nix just received (the path itself included). */
  closureOf(entry: CachedNarinfo): void {
    this.#enqueue(entry.fields.hashPart)
    for (const ref of entry.fields.references) this.#enqueue(ref.slice(0, 32))
  }

  async stop(): Promise<void> {
    this.#stopped = true
    this.#queue.length = 0
    await Promise.allSettled([...this.#running])
  }

  #enqueue(hashPart: string): void {
    if (this.#stopped || this.#seen.has(hashPart) || this.#seen.size >= this.#queueMax) return
    this.#seen.add(hashPart)
    this.#queue.push(hashPart)
    this.#pump()
  }

  #pump(): void {
    while (this.#running.size < this.#concurrency && this.#queue.length > 0) {
      const hashPart = this.#queue.shift()!
      const task = this.#one(hashPart).finally(() => {
        this.#running.delete(task)
        if (this.#running.size === 0 && this.#queue.length === 0) this.#seen.clear()
        this.#pump()
      })
      this.#running.add(task)
    }
  }

  async #one(hashPart: string): Promise<void> {
    try {
      const entry = await this.#narinfos.resolve(hashPart)
      if (entry === undefined || this.#stopped) return
      for (const ref of entry.fields.references) this.#enqueue(ref.slice(0, 32))
      const req = narRequestOf(entry)
      if (await this.#nars.canDeliver(req)) await this.#nars.prefetch(req)
    } catch (err) {
      log('prefetch of %s failed: %s', hashPart, (err as Error).message)
    }
  }
}
