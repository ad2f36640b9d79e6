/**
 * The shim's narinfo cache: every agreed narinfo it has served, in memory (a Map, for microsecond answers) and
 * on disk (level under `<data>/narinfo`), loaded at start so the shim keeps answering while the orchestrator is
 * unreachable and across restarts. Also the NarHash → narinfo index the NAR route needs, and a short negative
 * cache of hash parts the orchestrator did not know.
 *
 * Agreed narinfos are immutable (an output path's agreed NarHash does not change), so positive entries do not
 * expire; they are small (~1 KiB) and bounded by what this machine's Nix asked for.
 *
 * Writes are behind: `put` answers from memory at once and the narinfos put during one turn of the event loop go
 * to disk in one batch after it (`stop` and `flush` wait for them). The disk copy is only for answering across an
 * orchestrator outage or a restart, and a narinfo lost in a crash is fetched again; waiting for one write per
 * narinfo cost a cold closure of 500 paths ~0.13 CPU-s and a thread-pool round trip per answer. A failed write is
 * reported (`onError`) and the narinfo is still served from memory.
 */
import { type PublicKey, verifyNarinfo } from '@narthex/nix'
import createDebug from 'debug'
import { Level } from 'level'
import { NEGATIVE_TTL_MS } from './constants.js'
import { InvalidNarinfoError } from './errors.js'
import { type NarinfoFields, narFileKey, readNarinfo } from './narinfo.js'
import type { AgreedNarinfo } from './sources.js'

const log = createDebug('narthex:shim:narinfo-cache')

export interface CachedNarinfo extends AgreedNarinfo {
  readonly fields: NarinfoFields
}

interface Stored {
  readonly text: string
  readonly manifestRoot?: string
}

export class NarinfoCache {
  readonly #db: Level<string, Stored>
  readonly #byHashPart = new Map<string, CachedNarinfo>()
  /** nix32 NarHash digest → hash part */
  readonly #byNarHash = new Map<string, string>()
  /** hash part → time the negative answer expires */
  readonly #negative = new Map<string, number>()
  readonly #negativeTtlMs: number
  readonly #trustedKeys: readonly PublicKey[]
  readonly #onError: ((what: string, err: Error) => void) | undefined
  /** Narinfos put and not yet handed to the database, written together by the next #write (one is scheduled
   * whenever this is not empty). */
  #unwritten = new Map<string, Stored>()
  /** The writes handed to the database, one after another. */
  #writing: Promise<void> = Promise.resolve()

  /**
   * `trustedKeys`: when given, a narinfo must carry a signature by one of them to be cached or served (what
   * was cached under other keys is skipped at start). `onError`: told when narinfos could not be written to disk.
   */
  constructor(init: {
    dir: string
    negativeTtlMs?: number
    trustedKeys?: readonly PublicKey[]
    onError?: (what: string, err: Error) => void
  }) {
    this.#db = new Level<string, Stored>(init.dir, { valueEncoding: 'json' })
    this.#negativeTtlMs = init.negativeTtlMs ?? NEGATIVE_TTL_MS
    this.#trustedKeys = init.trustedKeys ?? []
    this.#onError = init.onError
  }

  async start(): Promise<void> {
    await this.#db.open()
    let bad = 0
    for await (const [hashPart, stored] of this.#db.iterator()) {
      try {
        this.#remember(hashPart, stored)
      } catch {
        bad++
      }
    }
    log('loaded %d narinfos (%d unreadable skipped)', this.#byHashPart.size, bad)
  }

  async stop(): Promise<void> {
    await this.flush()
    await this.#db.close()
  }

  /** Resolves once every narinfo put so far has been written to disk (or its write has failed and been reported). */
  flush(): Promise<void> {
    this.#writing = this.#writing.then(() => this.#write())
    return this.#writing
  }

  get size(): number {
    return this.#byHashPart.size
  }

  get(hashPart: string): CachedNarinfo | undefined {
    return this.#byHashPart.get(hashPart)
  }

  byNarHash(narHash: string): CachedNarinfo | undefined {
    const hashPart = this.#byNarHash.get(narFileKey(narHash))
    return hashPart === undefined ? undefined : this.#byHashPart.get(hashPart)
  }

  /** Check (InvalidNarinfoError) and remember an agreed narinfo; it is written to disk just after (see above). */
  put(hashPart: string, agreed: AgreedNarinfo): CachedNarinfo {
    const stored: Stored =
      agreed.manifestRoot === undefined
        ? { text: agreed.text }
        : { text: agreed.text, manifestRoot: agreed.manifestRoot }
    const entry = this.#remember(hashPart, stored)
    this.#negative.delete(hashPart)
    if (this.#unwritten.size === 0) setImmediate(() => void this.flush())
    this.#unwritten.set(hashPart, stored)
    return entry
  }

  async #write(): Promise<void> {
    if (this.#unwritten.size === 0) return
    const batch = [...this.#unwritten].map(([key, value]) => ({ type: 'put' as const, key, value }))
    this.#unwritten = new Map()
    try {
      await this.#db.batch(batch)
    } catch (err) {
      log('writing %d narinfos failed: %s', batch.length, (err as Error).message)
      this.#onError?.(`writing ${batch.length} narinfos to disk`, err as Error)
    }
  }

  isNegative(hashPart: string, now = Date.now()): boolean {
    const until = this.#negative.get(hashPart)
    if (until === undefined) return false
    if (until > now) return true
    this.#negative.delete(hashPart)
    return false
  }

  setNegative(hashPart: string, now = Date.now()): void {
    // Bounded: expired entries are swept whenever the map grows large.
    if (this.#negative.size > 100_000) {
      for (const [k, until] of this.#negative) if (until <= now) this.#negative.delete(k)
    }
    this.#negative.set(hashPart, now + this.#negativeTtlMs)
  }

  #remember(hashPart: string, stored: Stored): CachedNarinfo {
    const fields = readNarinfo(stored.text)
    if (fields.hashPart !== hashPart)
      throw new InvalidNarinfoError(`narinfo is for ${fields.hashPart}, not ${hashPart}`)
    // Served unchanged, so its URL must be this shim's NAR route (as the orchestrator writes it).
    if (fields.url !== `nar/${narFileKey(fields.narHash)}.nar` || fields.compression !== 'none') {
      throw new InvalidNarinfoError(
        `narinfo of ${fields.storePath} points at ${fields.url} (${fields.compression}); the shim serves only nar/<NarHash>.nar uncompressed`
      )
    }
    if (this.#trustedKeys.length > 0 && verifyNarinfo(fields.parsed, this.#trustedKeys) === undefined) {
      throw new InvalidNarinfoError(
        `narinfo of ${fields.storePath} is not signed by a trusted orchestrator key`
      )
    }
    const entry: CachedNarinfo = { ...stored, fields }
    this.#byHashPart.set(hashPart, entry)
    this.#byNarHash.set(narFileKey(fields.narHash), hashPart)
    return entry
  }
}
