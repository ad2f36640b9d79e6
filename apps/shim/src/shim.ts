/** The shim composed from its parts; see index.ts for the public surface. */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { parsePublicKey } from '@narthex/nix'
import { createStore, type Store } from '@narthex/store'
import createDebug from 'debug'
import { Activity, type ErrorRecord, type FetchRecord } from './activity.js'
import type { ListenAddress } from './config.js'
import {
  DEFAULT_LISTEN_HOST,
  DEFAULT_LISTEN_PORT,
  DEFAULT_PRIORITY,
  DEFAULT_QUOTA_BYTES
} from './constants.js'
import { ShimControlServer } from './control.js'
import { LocalNars } from './local-nars.js'
import { NarService, type NarServiceStats } from './nar-service.js'
import { NarinfoCache } from './narinfo-cache.js'
import { NarinfoService, type NarinfoStats } from './narinfo-service.js'
import { OrchestratorClient } from './orchestrator.js'
import { Prefetcher } from './prefetch.js'
import { ShimServer } from './server.js'
import type { NarinfoSource, NarSource, Reseeder } from './sources.js'
import { UpstreamSource } from './upstream.js'

const log = createDebug('narthex:shim')

export interface ShimInit {
  /** Data directory: narinfo cache, NAR cache, temporary files. Created if missing. */
  readonly data: string
  /** Default 127.0.0.1:37515; port 0 picks a free one. */
  readonly listen?: ListenAddress
  /** The orchestrator's base URL, or any NarinfoSource. */
  readonly orchestrator?: string | NarinfoSource
  /** The swarm downloader as a NarSource (tried before upstreams). */
  readonly swarm?: NarSource
  /** Upstream HTTP binary caches (base URLs), tried in order when the swarm cannot deliver. */
  readonly upstream?: readonly string[]
  /** Re-seeds fetched NARs; used only when `seed` is not false. */
  readonly reseeder?: Reseeder
  readonly seed?: boolean
  readonly prefetch?: boolean
  /** Local NAR cache quota in bytes (for the store the shim creates). */
  readonly quota?: number
  /**
   * The chunk store to cache NARs in (shared with the seeding side when re-seeding). Default: a store the shim
   * creates, starts and stops in `DATA/store` with `quota`.
   */
  readonly store?: Store
  /**
   * fsync in the store the shim creates (default true). Off keeps crash safety against a killed process but not
   * against power loss: for tests and benchmarks only.
   */
  readonly fsync?: boolean
  readonly priority?: number
  readonly allowHosts?: readonly string[]
  /**
   * The orchestrator's public keys (`name:base64`). When given, narinfos not signed by one of them are refused
   * (404) instead of being cached and passed on for Nix to reject.
   */
  readonly orchestratorKeys?: readonly string[]
  /**
   * Serve `narthex status` on the control socket DATA/shim.sock (default true). The peers shown come from
   * `peers`.
   */
  readonly control?: boolean
  /** The peer ids the swarm side is connected to, for the status. */
  readonly peers?: () => readonly string[]
  /** Overrides of internal timings (tests). */
  readonly timing?: {
    readonly negativeTtlMs?: number
    readonly firstByteTimeoutMs?: number
    readonly stallTimeoutMs?: number
    readonly importQuietMs?: number
    readonly importMaxDeferMs?: number
  }
  /** NARs up to this size are fetched into memory, not a spool file (default MEMORY_SPOOL_BYTES; tests use 0). */
  readonly memorySpoolBytes?: number
}

export interface ShimStats {
  readonly narinfo: NarinfoStats
  readonly nar: NarServiceStats
  readonly cachedNarinfos: number
  readonly cachedNarBytes: number
  readonly cachedNars: number
}

/** What `narthex status` shows for a shim (GET /v1/status on its control socket). */
export interface ShimStatus {
  readonly program: 'shim'
  readonly url: string
  readonly data: string
  readonly peers: { readonly connected: number; readonly ids: readonly string[] }
  readonly nars: { readonly stored: number; readonly bytes: number }
  readonly narinfos: { readonly cached: number } & NarinfoStats
  readonly fetches: NarServiceStats
  /** Newest first, at most RECENT_FETCHES. */
  readonly recentFetches: readonly FetchRecord[]
  /** Newest first, at most RECENT_ERRORS. */
  readonly recentErrors: readonly ErrorRecord[]
}

export interface Shim {
  start(): Promise<void>
  stop(): Promise<void>
  /** `http://127.0.0.1:PORT` once started: what goes into Nix's `substituters`. */
  readonly url: string
  readonly address: ListenAddress
  stats(): ShimStats
  /** Peers, stored NARs, recent fetches and errors (also served on DATA/shim.sock). */
  status(): ShimStatus
}

export class NarthexShim implements Shim {
  readonly #cache: NarinfoCache
  readonly #local: LocalNars
  readonly #store: Store
  readonly #ownStore: boolean
  readonly #nars: NarService
  readonly #narinfos: NarinfoService
  readonly #prefetcher: Prefetcher | undefined
  readonly #server: ShimServer
  readonly #data: string
  readonly #activity = new Activity()
  readonly #control: ShimControlServer | undefined
  readonly #peers: () => readonly string[]
  #started = false

  constructor(init: ShimInit) {
    this.#data = init.data
    this.#peers = init.peers ?? (() => [])
    this.#control = init.control === false ? undefined : new ShimControlServer(init.data, () => this.status())
    const timing = init.timing ?? {}
    this.#cache = new NarinfoCache({
      dir: join(init.data, 'narinfo'),
      trustedKeys: (init.orchestratorKeys ?? []).map((k) => parsePublicKey(k)),
      onError: (what, err) => this.#activity.error(what, err),
      ...(timing.negativeTtlMs === undefined ? {} : { negativeTtlMs: timing.negativeTtlMs })
    })
    this.#ownStore = init.store === undefined
    this.#store =
      init.store ??
      createStore({
        dir: join(init.data, 'store'),
        maxSize: init.quota ?? DEFAULT_QUOTA_BYTES,
        fsync: init.fsync ?? true
      })
    this.#local = new LocalNars({ store: this.#store, tmpDir: join(init.data, 'tmp') })
    const sources: NarSource[] = []
    if (init.swarm !== undefined) sources.push(init.swarm)
    for (const u of init.upstream ?? []) sources.push(new UpstreamSource(u))
    this.#nars = new NarService({
      local: this.#local,
      sources,
      ...(init.seed !== false && init.reseeder !== undefined ? { reseeder: init.reseeder } : {}),
      ...(timing.firstByteTimeoutMs === undefined ? {} : { firstByteTimeoutMs: timing.firstByteTimeoutMs }),
      ...(timing.stallTimeoutMs === undefined ? {} : { stallTimeoutMs: timing.stallTimeoutMs }),
      ...(timing.importQuietMs === undefined ? {} : { importQuietMs: timing.importQuietMs }),
      ...(timing.importMaxDeferMs === undefined ? {} : { importMaxDeferMs: timing.importMaxDeferMs }),
      ...(init.memorySpoolBytes === undefined ? {} : { memorySpoolBytes: init.memorySpoolBytes }),
      onFetched: (r) => this.#activity.fetched(r)
    })
    const source =
      typeof init.orchestrator === 'string' ? new OrchestratorClient(init.orchestrator) : init.orchestrator
    this.#narinfos = new NarinfoService({
      cache: this.#cache,
      nars: this.#nars,
      ...(source === undefined ? {} : { source }),
      ...(timing.negativeTtlMs === undefined ? {} : { negativeTtlMs: timing.negativeTtlMs }),
      onError: (what, err) => this.#activity.error(what, err)
    })
    this.#prefetcher =
      init.prefetch === false ? undefined : new Prefetcher({ narinfos: this.#narinfos, nars: this.#nars })
    this.#server = new ShimServer({
      listen: init.listen ?? { host: DEFAULT_LISTEN_HOST, port: DEFAULT_LISTEN_PORT },
      allowHosts: init.allowHosts ?? [],
      priority: init.priority ?? DEFAULT_PRIORITY,
      cache: this.#cache,
      narinfos: this.#narinfos,
      nars: this.#nars,
      ...(this.#prefetcher === undefined ? {} : { prefetcher: this.#prefetcher })
    })
  }

  get address(): ListenAddress {
    return this.#server.address
  }

  get url(): string {
    const { host, port } = this.address
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  }

  async start(): Promise<void> {
    if (this.#started) return
    await mkdir(this.#data, { recursive: true, mode: 0o700 })
    await this.#cache.start()
    try {
      if (this.#ownStore) await this.#store.start()
      await this.#local.start()
      await this.#server.start()
      await this.#control?.start()
    } catch (err) {
      await this.#server.stop().catch(() => {})
      this.#local.stop()
      if (this.#ownStore) await this.#store.stop().catch(() => {})
      await this.#cache.stop()
      throw err
    }
    this.#started = true
    log('shim on %s, data in %s', this.url, this.#data)
  }

  async stop(): Promise<void> {
    if (!this.#started) return
    this.#started = false
    await this.#control?.stop()
    await this.#server.stop()
    this.#narinfos.stop()
    await this.#prefetcher?.stop()
    await this.#nars.stop()
    this.#local.stop()
    if (this.#ownStore) await this.#store.stop()
    await this.#cache.stop()
  }

  stats(): ShimStats {
    return {
      narinfo: this.#narinfos.stats,
      nar: this.#nars.stats,
      cachedNarinfos: this.#cache.size,
      cachedNarBytes: this.#local.totalBytes,
      cachedNars: this.#local.count
    }
  }

  status(): ShimStatus {
    const ids = this.#peers()
    return {
      program: 'shim',
      url: this.url,
      data: this.#data,
      peers: { connected: ids.length, ids: ids.slice(0, 20) },
      nars: { stored: this.#local.count, bytes: this.#local.totalBytes },
      narinfos: { cached: this.#cache.size, ...this.#narinfos.stats },
      fetches: this.#nars.stats,
      recentFetches: this.#activity.recentFetches(),
      recentErrors: this.#activity.recentErrors()
    }
  }
}
