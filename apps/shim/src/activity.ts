/**
 * What the shim did lately, for `narthex status`: the last RECENT_FETCHES NAR fetches (what, how big, how many
 * bytes from which source, how long, ok or why not) and the last RECENT_ERRORS errors, in bounded ring buffers.
 */
import { RECENT_ERRORS, RECENT_FETCHES } from './constants.js'

/** One NAR fetch from the network (cache hits are not fetches). */
export interface FetchRecord {
  readonly storePath: string
  readonly narHash: string
  readonly narSize: number
  /** ISO time the fetch started. */
  readonly started: string
  readonly durationMs: number
  readonly ok: boolean
  /**
   * Bytes by where they came from: `peer <peer id>` (the swarm), `local store` (chunks the store already held),
   * `upstream <url>`. Failed attempts count what they delivered before they failed.
   */
  readonly bytesFrom: Readonly<Record<string, number>>
  /** Why it failed, when it did. */
  readonly error?: { readonly name: string; readonly message: string }
}

export interface ErrorRecord {
  readonly time: string
  /** What was being done: `fetch /nix/store/...`, `narinfo lookup <hash>`. */
  readonly what: string
  readonly name: string
  readonly message: string
}

/** A bounded list keeping the newest `capacity` items. */
class Ring<T> {
  readonly #items: T[] = []
  constructor(readonly capacity: number) {}
  push(item: T): void {
    this.#items.push(item)
    if (this.#items.length > this.capacity) this.#items.splice(0, this.#items.length - this.capacity)
  }
  /** Newest first. */
  list(): T[] {
    return [...this.#items].reverse()
  }
}

export class Activity {
  readonly #fetches: Ring<FetchRecord>
  readonly #errors: Ring<ErrorRecord>

  constructor(init: { fetches?: number; errors?: number } = {}) {
    this.#fetches = new Ring(init.fetches ?? RECENT_FETCHES)
    this.#errors = new Ring(init.errors ?? RECENT_ERRORS)
  }

  fetched(record: FetchRecord): void {
    this.#fetches.push(record)
    if (record.error !== undefined)
      this.error(`fetch ${record.storePath}`, Object.assign(new Error(record.error.message), record.error))
  }

  error(what: string, err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err))
    this.#errors.push({ time: new Date().toISOString(), what, name: e.name, message: e.message })
  }

  /** Newest first. */
  recentFetches(): FetchRecord[] {
    return this.#fetches.list()
  }

  /** Newest first. */
  recentErrors(): ErrorRecord[] {
    return this.#errors.list()
  }
}
