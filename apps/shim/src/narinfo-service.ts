/**
 * Answering `/<hashpart>.narinfo`: from memory when possible (the hot path does no I/O), else one lookup at the
 * orchestrator shared by all concurrent requests for that path. A narinfo is answered only when its NAR can be
 * delivered (local cache, a running fetch, providers in the swarm, or an upstream with the same NarHash);
 * otherwise, and for paths the orchestrator does not know, a fast 404 that is remembered for NEGATIVE_TTL_MS.
 *
 * When the orchestrator is unreachable the cached narinfos keep being served; unknown paths get 404 (Nix then
 * tries its next substituter or builds), and the miss is not remembered, so the path is asked for again next time.
 */
import createDebug from 'debug'
import { DELIVERABLE_TTL_MS, NEGATIVE_TTL_MS } from './constants.js'
import type { NarService } from './nar-service.js'
import type { CachedNarinfo, NarinfoCache } from './narinfo-cache.js'
import type { NarinfoSource, NarRequest } from './sources.js'

const log = createDebug('narthex:shim:narinfo')

export interface NarinfoServiceInit {
  readonly cache: NarinfoCache
  /** The orchestrator; without one only cached narinfos are served. */
  readonly source?: NarinfoSource
  readonly nars: NarService
  readonly deliverableTtlMs?: number
  readonly negativeTtlMs?: number
  /** Told of every failed lookup (for `narthex status`). */
  readonly onError?: (what: string, err: Error) => void
}

export interface NarinfoStats {
  readonly hits: number
  readonly misses: number
  readonly lookups: number
  readonly lookupErrors: number
}

export function narRequestOf(entry: CachedNarinfo): NarRequest {
  const { storePath, narHash, narSize } = entry.fields
  const req = { storePath, narHash, narSize, narinfo: entry.text }
  return entry.manifestRoot === undefined ? req : { ...req, manifestRoot: entry.manifestRoot }
}

export class NarinfoService {
  readonly #cache: NarinfoCache
  readonly #source: NarinfoSource | undefined
  readonly #nars: NarService
  readonly #deliverableTtlMs: number
  readonly #negativeTtlMs: number
  /** hash part → until when "deliverable" is trusted */
  readonly #deliverable = new Map<string, number>()
  /** hash part → until when "agreed but not deliverable" is trusted */
  readonly #undeliverable = new Map<string, number>()
  readonly #lookups = new Map<string, Promise<CachedNarinfo | undefined>>()
  readonly #checks = new Map<string, Promise<boolean>>()
  readonly #stop = new AbortController()
  #stats = { hits: 0, misses: 0, lookups: 0, lookupErrors: 0 }
  readonly #onError: ((what: string, err: Error) => void) | undefined

  constructor(init: NarinfoServiceInit) {
    this.#onError = init.onError
    this.#cache = init.cache
    this.#source = init.source
    this.#nars = init.nars
    this.#deliverableTtlMs = init.deliverableTtlMs ?? DELIVERABLE_TTL_MS
    this.#negativeTtlMs = init.negativeTtlMs ?? NEGATIVE_TTL_MS
  }

  get stats(): NarinfoStats {
    return { ...this.#stats }
  }

  stop(): void {
    this.#stop.abort()
  }

  /** The narinfo to serve for a hash part, or undefined for 404. Never throws for network trouble. */
  async answer(hashPart: string): Promise<CachedNarinfo | undefined> {
    const now = Date.now()
    const cached = this.#cache.get(hashPart)
    if (cached !== undefined && (this.#deliverable.get(hashPart) ?? 0) > now) {
      this.#stats.hits++
      return cached
    }
    if (
      (this.#undeliverable.get(hashPart) ?? 0) > now ||
      (cached === undefined && this.#cache.isNegative(hashPart, now))
    ) {
      this.#stats.misses++
      return undefined
    }
    const entry = cached ?? (await this.resolve(hashPart))
    if (entry === undefined || !(await this.#checkDeliverable(hashPart, entry))) {
      this.#stats.misses++
      return undefined
    }
    this.#stats.hits++
    return entry
  }

  /** The agreed narinfo (cache, else orchestrator), without the deliverability check. */
  resolve(hashPart: string): Promise<CachedNarinfo | undefined> {
    const cached = this.#cache.get(hashPart)
    if (cached !== undefined) return Promise.resolve(cached)
    if (this.#source === undefined || this.#cache.isNegative(hashPart)) return Promise.resolve(undefined)
    let pending = this.#lookups.get(hashPart)
    if (pending === undefined) {
      pending = this.#lookup(hashPart).finally(() => this.#lookups.delete(hashPart))
      this.#lookups.set(hashPart, pending)
    }
    return pending
  }

  async #lookup(hashPart: string): Promise<CachedNarinfo | undefined> {
    this.#stats.lookups++
    try {
      const agreed = await this.#source!.lookup(hashPart, { signal: this.#stop.signal })
      if (agreed === undefined) {
        this.#cache.setNegative(hashPart)
        return undefined
      }
      return this.#cache.put(hashPart, agreed)
    } catch (err) {
      // Unreachable orchestrator or a bad narinfo: 404 now, ask again next time (no negative entry).
      this.#stats.lookupErrors++
      log('lookup of %s failed: %s', hashPart, (err as Error).message)
      this.#onError?.(`narinfo lookup ${hashPart}`, err as Error)
      return undefined
    }
  }

  #checkDeliverable(hashPart: string, entry: CachedNarinfo): Promise<boolean> {
    let pending = this.#checks.get(hashPart)
    if (pending === undefined) {
      pending = this.#nars
        .canDeliver(narRequestOf(entry), { signal: this.#stop.signal })
        .catch(() => false)
        .then((ok) => {
          const until = Date.now() + (ok ? this.#deliverableTtlMs : this.#negativeTtlMs)
          ;(ok ? this.#deliverable : this.#undeliverable).set(hashPart, until)
          ;(ok ? this.#undeliverable : this.#deliverable).delete(hashPart)
          return ok
        })
        .finally(() => this.#checks.delete(hashPart))
      this.#checks.set(hashPart, pending)
    }
    return pending
  }
}
