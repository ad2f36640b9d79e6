/**
 * The seeder: a store, a libp2p node serving `/narthex/nar/1.0.0` from it, an announcer, the publication policy,
 * the volunteer controls (quota, upload cap, peer cap), the control socket, metrics and the mirror, wired together.
 *
 * What is published. A stored NAR is *published* (answered to HAVE and GET_MANIFEST, its chunks served, its CID
 * announced) only when the policy allows it; a chunk is served only while it belongs to a published NAR, so a
 * private NAR's chunks do not leave the machine even to a peer that guesses their ids.
 *
 * Bit rot. The store re-hashes every chunk it reads; a chunk that fails is quarantined and its NARs marked damaged
 * (`chunk:corrupt`, `nar:removed`). The seeder then unpublishes those NARs, withdraws them from the DHT, reports
 * the chunk (status, metrics, onEvent), and, when it has peers, re-fetches the missing chunks from them (verified
 * against the manifest root it holds); the repaired NAR is published again.
 */
import { deadline } from '@narthex/abort'
import { type CID, narCidFromNarHash } from '@narthex/content'
import { parseStorePath } from '@narthex/nix'
import {
  Announcer,
  type AnnouncerInit,
  chunkSinkFromStore,
  createNode,
  FetchServer,
  NarDownload,
  type NarthexNode
} from '@narthex/p2p'
import { createStore, type ImportEvent, type NarEntry, type Store } from '@narthex/store'
import debug from 'debug'
import {
  DEFAULT_LISTEN,
  DEFAULT_MAX_PEERS,
  DEFAULT_REPAIR,
  DEFAULT_UPLOAD_BYTES_PER_SECOND,
  MIRROR_DOWNLOAD_TIMEOUT_MS,
  ORCHESTRATOR_CONCURRENCY,
  RECENT_EVENTS,
  STATUS_PEER_IDS,
  STOP_GRACE_MS
} from './constants.js'
import { ControlServer } from './control.js'
import { SeederNotStartedError } from './errors.js'
import { type ImportRequest, importSources } from './imports.js'
import { type Metric, MetricsServer, parseHostPort } from './metrics.js'
import { Mirror, type MirrorStats } from './mirror.js'
import { PeerGate } from './peer-gate.js'
import { Policy, type PolicyReason } from './policy.js'
import { TokenBucket } from './throttle.js'

const log = debug('narthex:seeder')

export interface SeederInit {
  /** The data directory: the store, the node's identity and DHT datastore (`node/`), the control socket. */
  readonly dataDir: string
  /** Listen multiaddrs (default DEFAULT_LISTEN). */
  readonly listen?: readonly string[]
  /** Public addresses to advertise besides the listen addresses (a forwarded port, a DNS name). */
  readonly announce?: readonly string[]
  /** Bootstrap peers (multiaddrs with /p2p/<peer id>). */
  readonly bootstrap?: readonly string[]
  /** Dial and keep private and loopback addresses (LANs, tests). Default false. */
  readonly allowPrivateAddresses?: boolean
  /** Disk quota in bytes of chunks + manifests (least recently used NARs are evicted past it). */
  readonly quotaBytes?: number
  /** Upload cap in bytes per second over chunk bytes served (0: none). */
  readonly uploadBytesPerSecond?: number
  /** Peers served at once (0: no cap). */
  readonly maxPeers?: number
  /** Metrics listener, `HOST:PORT` or `PORT` (loopback); none when absent. */
  readonly metrics?: string
  /** Orchestrator base URL: publish what it agreed on; the mirror lists agreed outputs from it. */
  readonly orchestrator?: string
  /** Publish what is signed by one of these keys (`name:base64`). */
  readonly trustedKeys?: readonly string[]
  /** Publish everything in the store (turns the policy off). */
  readonly serveUnverified?: boolean
  /** Fetch agreed NARs this seeder does not hold (needs `orchestrator`). */
  readonly mirror?: boolean
  /** A binary cache to mirror from when no peer has a NAR. */
  readonly upstream?: string
  /** Re-fetch chunks of damaged NARs from peers (default true). */
  readonly repair?: boolean
  /** fsync store writes (default true; tests turn it off). */
  readonly fsync?: boolean
  /** Announcer tuning (tests). */
  readonly announcer?: AnnouncerInit
  /** Policy re-check interval (default POLICY_RECHECK_MS). */
  readonly policyRecheckMs?: number
  /** Mirror round interval (default MIRROR_INTERVAL_MS). */
  readonly mirrorIntervalMs?: number
  /** Time limit of the mirror's provider counts (default MIRROR_PROVIDER_TIMEOUT_MS). */
  readonly mirrorProviderTimeoutMs?: number
  /** Called for what an operator wants to see in the log. */
  readonly onEvent?: (event: SeederEvent) => void
}

export type SeederEvent =
  | { readonly type: 'published'; readonly narHash: string; readonly reason: PolicyReason }
  | { readonly type: 'not-published'; readonly narHash: string; readonly reason: PolicyReason }
  | { readonly type: 'announced'; readonly narHash: string; readonly ok: boolean; readonly acks: number }
  | { readonly type: 'withdrawn'; readonly narHash: string; readonly reason: string }
  | {
      readonly type: 'corrupt-chunk'
      readonly cid: string
      readonly reason: string
      readonly narHashes: readonly string[]
    }
  | { readonly type: 'repaired'; readonly narHash: string }
  | { readonly type: 'repair-failed'; readonly narHash: string; readonly error: string }
  | { readonly type: 'mirrored'; readonly narHash: string; readonly storePath: string; readonly from: string }
  | { readonly type: 'mirror-failed'; readonly storePath: string; readonly error: string }
  | { readonly type: 'imported'; readonly storePath: string; readonly narHash: string }

export interface CorruptReport {
  readonly cid: string
  readonly reason: string
  readonly narHashes: readonly string[]
  readonly at: number
}

/** What `narthex seeder status` prints (the control socket's `/v1/status`). */
export interface SeederStatus {
  readonly peerId: string
  readonly multiaddrs: readonly string[]
  readonly dataDir: string
  readonly startedAt: number
  readonly policy: string
  readonly nars: { readonly stored: number; readonly published: number; readonly unpublished: number }
  readonly announcements: {
    readonly announced: number
    readonly failed: number
    readonly queued: number
    readonly inFlight: number
    readonly withdrawn: number
  }
  readonly peers: {
    readonly connected: number
    /** Up to STATUS_PEER_IDS of the connected peers. */
    readonly ids: readonly string[]
    readonly serving: number
    readonly rejected: number
    readonly max: number
  }
  readonly upload: {
    readonly bytesServed: number
    readonly chunksServed: number
    readonly bytesPerSecondCap: number
  }
  readonly disk: { readonly storedBytes: number; readonly quotaBytes: number | null }
  readonly corrupt: { readonly chunks: number; readonly recent: readonly CorruptReport[] }
  readonly repairs: { readonly repaired: number; readonly failed: number }
  readonly mirror: MirrorStats | null
  readonly metrics: string | null
  /** The last RECENT_EVENTS NARs this seeder fetched (mirror, repair), newest first. */
  readonly recentFetches: readonly { readonly time: string; readonly what: string; readonly from: string }[]
  /** The last RECENT_EVENTS failures (announce, repair, mirror, corrupt chunks), newest first. */
  readonly recentErrors: readonly { readonly time: string; readonly what: string; readonly message: string }[]
}

interface Published {
  readonly narHash: string
  readonly root: CID
  readonly chunks: readonly string[]
  readonly reason: PolicyReason
}

export class Seeder {
  private store: Store | undefined
  private node: NarthexNode | undefined
  private server: FetchServer | undefined
  private announcer: Announcer | undefined
  private control: ControlServer | undefined
  private metricsServer: MetricsServer | undefined
  private mirrorLoop: Mirror | undefined
  private readonly policy: Policy
  private readonly gate: PeerGate
  private readonly bucket: TokenBucket
  /** NAR CID (string) → what is published of it. */
  private readonly published = new Map<string, Published>()
  /** Chunk CID (string) → number of published NARs it is part of. */
  private readonly chunkRefs = new Map<string, number>()
  /** NarHash → when it was last decided not publishable (re-checked after policy.recheckMs). */
  private readonly refused = new Map<string, number>()
  private readonly corrupt: CorruptReport[] = []
  private readonly recentFetches: { time: string; what: string; from: string }[] = []
  private readonly recentErrors: { time: string; what: string; message: string }[] = []
  private corruptCount = 0
  private withdrawnCount = 0
  private repaired = 0
  private repairFailed = 0
  private readonly repairing = new Set<string>()
  private controller = new AbortController()
  private readonly background = new Set<Promise<unknown>>()
  private recheckTimer: NodeJS.Timeout | undefined
  private startedAt = 0
  private readonly listeners: Array<() => void> = []

  constructor(readonly init: SeederInit) {
    this.policy = new Policy({
      getNarinfo: (hashPart) => this.requireStore().getNarinfo(hashPart),
      ...(init.orchestrator !== undefined ? { orchestrator: init.orchestrator } : {}),
      ...(init.trustedKeys !== undefined ? { trustedKeys: init.trustedKeys } : {}),
      serveUnverified: init.serveUnverified ?? false,
      ...(init.policyRecheckMs !== undefined ? { recheckMs: init.policyRecheckMs } : {})
    })
    if (init.metrics !== undefined) parseHostPort(init.metrics)
    const rate = init.uploadBytesPerSecond ?? DEFAULT_UPLOAD_BYTES_PER_SECOND
    this.bucket = new TokenBucket(rate, rate)
    this.gate = new PeerGate(init.maxPeers ?? DEFAULT_MAX_PEERS)
  }

  /** The node's full multiaddrs (with /p2p/<peer id>). */
  get multiaddrs(): string[] {
    return (this.node?.getMultiaddrs() ?? []).map((m) => m.toString())
  }

  get peerId(): string {
    if (this.node === undefined) throw new SeederNotStartedError()
    return this.node.peerId.toString()
  }

  /** The metrics listener's bound address, when metrics are on. */
  get metricsAddress(): { host: string; port: number } | undefined {
    return this.metricsServer?.address
  }

  get controlSocket(): string | undefined {
    return this.control?.path
  }

  async start(): Promise<void> {
    if (this.store !== undefined) return
    this.controller = new AbortController()
    const { init } = this
    const store = createStore({
      dir: init.dataDir,
      ...(init.quotaBytes !== undefined ? { maxSize: init.quotaBytes } : {}),
      ...(init.fsync !== undefined ? { fsync: init.fsync } : {})
    })
    await store.start()
    this.store = store
    try {
      this.control = new ControlServer(init.dataDir, {
        status: () => this.status(),
        import: (req, onEvent, signal) => this.importSources(req, onEvent, signal)
      })
      await this.control.start()
      const allowPrivate = init.allowPrivateAddresses ?? false
      this.node = await createNode({
        dataDir: `${init.dataDir}/node`,
        listen: [...(init.listen ?? DEFAULT_LISTEN)],
        announce: [...(init.announce ?? [])],
        bootstrap: [...(init.bootstrap ?? [])],
        allowPrivateAddresses: allowPrivate,
        ...(allowPrivate ? { allow: ['/ip4/127.0.0.1', '/ip6/::1'] } : {}),
        dhtServer: true
      })
      this.server = new FetchServer({ node: this.gate.wrap(this.node), source: this.source() })
      await this.server.start()
      this.announcer = new Announcer({ node: this.node }, init.announcer)
      this.announcer.start()
      this.announcer.onOutcome((o) => {
        const p = this.published.get(o.cid.toString())
        if (p !== undefined) this.emit({ type: 'announced', narHash: p.narHash, ok: o.ok, acks: o.acks })
      })
      this.listen(store)
      if (init.metrics !== undefined) {
        this.metricsServer = new MetricsServer(parseHostPort(init.metrics), () => this.metrics())
        await this.metricsServer.start()
      }
      this.startedAt = Date.now()
      this.track(this.scan())
      this.recheckTimer = setInterval(() => this.track(this.scan(true)), this.policy.recheckMs)
      this.recheckTimer.unref()
      if (init.mirror) {
        this.mirrorLoop = new Mirror({
          store,
          node: this.node,
          policy: this.policy,
          ...(init.quotaBytes !== undefined ? { quotaBytes: init.quotaBytes } : {}),
          ...(init.upstream !== undefined ? { upstream: init.upstream } : {}),
          ...(init.mirrorIntervalMs !== undefined ? { intervalMs: init.mirrorIntervalMs } : {}),
          ...(init.mirrorProviderTimeoutMs !== undefined
            ? { providerTimeoutMs: init.mirrorProviderTimeoutMs }
            : {}),
          onMirrored: (storePath, narHash, from) => {
            this.emit({ type: 'mirrored', storePath, narHash, from })
            this.track(
              this.consider(
                { narHash, storePathHashes: [parseStorePath(storePath).hashPart] },
                { fresh: true }
              )
            )
          },
          onFailed: (storePath, error) => this.emit({ type: 'mirror-failed', storePath, error })
        })
        this.mirrorLoop.start()
      }
    } catch (err) {
      await this.stop().catch(() => {})
      throw err
    }
  }

  /** Stop: mirror, control socket, metrics, announcer, fetch server, node, then the store. */
  async stop(): Promise<void> {
    const store = this.store
    if (store === undefined) return
    this.controller.abort()
    clearInterval(this.recheckTimer)
    await this.mirrorLoop?.stop()
    this.mirrorLoop = undefined
    await this.control?.stop(STOP_GRACE_MS)
    this.control = undefined
    await this.metricsServer?.stop()
    this.metricsServer = undefined
    this.announcer?.stop()
    this.announcer = undefined
    await this.server?.stop()
    this.server = undefined
    await Promise.race([
      Promise.allSettled([...this.background]),
      new Promise((r) => setTimeout(r, STOP_GRACE_MS).unref())
    ])
    await Promise.resolve(this.node?.stop()).catch(() => {})
    this.node = undefined
    for (const off of this.listeners.splice(0)) off()
    this.store = undefined
    await store.stop()
    this.published.clear()
    this.chunkRefs.clear()
  }

  /** Import sources into the store and publish what the policy allows (the control socket's import). */
  async importSources(
    request: ImportRequest,
    onEvent: (e: ImportEvent) => void = () => {},
    signal?: AbortSignal
  ): Promise<void> {
    const store = this.requireStore()
    const combined = AbortSignal.any([this.controller.signal, ...(signal !== undefined ? [signal] : [])])
    const done: Array<Promise<void>> = []
    await importSources(store, request, {
      signal: combined,
      onEvent: (e) => {
        onEvent(e)
        if (e.type === 'done') {
          this.emit({ type: 'imported', storePath: e.storePath, narHash: e.narHash })
          // A narinfo added to a NAR already stored fires no nar:added: decide here in every case.
          done.push(
            this.consider(
              { narHash: e.narHash, storePathHashes: [parseStorePath(e.storePath).hashPart] },
              { fresh: true }
            )
          )
        }
      }
    })
    await Promise.all(done)
  }

  /** Resolves when every queued announcement has been tried. */
  async onAnnounced(): Promise<void> {
    await Promise.allSettled([...this.background])
    await this.announcer?.onIdle()
  }

  async status(): Promise<SeederStatus> {
    const store = this.requireStore()
    const stats = await store.stats()
    const a = this.announcer?.stats
    const s = this.server?.stats
    const metrics = this.metricsAddress
    const connected = new Set(this.node?.getConnections().map((c) => c.remotePeer.toString()))
    return {
      peerId: this.peerId,
      multiaddrs: this.multiaddrs,
      dataDir: this.init.dataDir,
      startedAt: this.startedAt,
      policy: this.policy.mode,
      nars: {
        stored: stats.nars,
        published: this.published.size,
        unpublished: stats.nars - this.published.size
      },
      announcements: {
        announced: a?.announced ?? 0,
        failed: a?.failed ?? 0,
        queued: a?.queued ?? 0,
        inFlight: a?.inFlight ?? 0,
        withdrawn: this.withdrawnCount
      },
      peers: {
        connected: connected.size,
        ids: [...connected].slice(0, STATUS_PEER_IDS),
        serving: this.gate.stats.servingPeers,
        rejected: this.gate.stats.rejectedPeers,
        max: this.gate.maxPeers
      },
      upload: {
        bytesServed: s?.bytesServed ?? 0,
        chunksServed: s?.chunksServed ?? 0,
        bytesPerSecondCap: this.bucket.rate
      },
      disk: { storedBytes: stats.storedBytes, quotaBytes: this.init.quotaBytes ?? null },
      corrupt: { chunks: this.corruptCount, recent: [...this.corrupt] },
      repairs: { repaired: this.repaired, failed: this.repairFailed },
      mirror: this.mirrorLoop?.stats ?? null,
      metrics: metrics === undefined ? null : `${metrics.host}:${metrics.port}`,
      recentFetches: [...this.recentFetches],
      recentErrors: [...this.recentErrors]
    }
  }

  async metrics(): Promise<Metric[]> {
    const st = await this.status()
    const s = this.server?.stats
    const c = (name: string, help: string, value: number, labels?: Record<string, string>): Metric => ({
      name,
      help,
      type: 'counter',
      value,
      ...(labels !== undefined ? { labels } : {})
    })
    const g = (name: string, help: string, value: number): Metric => ({ name, help, type: 'gauge', value })
    const out: Metric[] = [
      c('narthex_seeder_bytes_served_total', 'Chunk bytes sent to peers.', st.upload.bytesServed),
      c('narthex_seeder_chunks_served_total', 'Chunks sent to peers.', st.upload.chunksServed),
      c('narthex_seeder_requests_total', 'Fetch protocol requests answered.', s?.requests ?? 0),
      c('narthex_seeder_not_found_total', 'Requests answered NOT_FOUND.', s?.notFound ?? 0),
      c('narthex_seeder_streams_total', 'Fetch streams opened by peers.', s?.streams ?? 0),
      c(
        'narthex_seeder_peers_rejected_total',
        'Fetch streams refused BUSY by the peer cap.',
        st.peers.rejected
      ),
      g('narthex_seeder_peers_connected', 'Peers with an open connection.', st.peers.connected),
      g('narthex_seeder_peers_serving', 'Peers with a fetch stream open.', st.peers.serving),
      g('narthex_seeder_peers_max', 'The concurrent peer cap (0: none).', st.peers.max),
      g(
        'narthex_seeder_upload_cap_bytes_per_second',
        'The upload cap (0: none).',
        st.upload.bytesPerSecondCap
      ),
      g('narthex_seeder_nars_stored', 'NARs in the store.', st.nars.stored),
      g('narthex_seeder_nars_published', 'NARs published (served and announced).', st.nars.published),
      g('narthex_seeder_chunks_published', 'Distinct chunks of published NARs.', this.chunkRefs.size),
      g('narthex_seeder_stored_bytes', 'Bytes of chunks and manifests stored.', st.disk.storedBytes),
      g('narthex_seeder_quota_bytes', 'The disk quota (0: none).', st.disk.quotaBytes ?? 0),
      c('narthex_seeder_announcements_total', 'DHT announcements by outcome.', st.announcements.announced, {
        result: 'ok'
      }),
      c('narthex_seeder_announcements_total', 'DHT announcements by outcome.', st.announcements.failed, {
        result: 'failed'
      }),
      c('narthex_seeder_withdrawals_total', 'NARs withdrawn from the DHT.', st.announcements.withdrawn),
      g(
        'narthex_seeder_announcements_queued',
        'Announcements waiting or in flight.',
        st.announcements.queued + st.announcements.inFlight
      ),
      c(
        'narthex_seeder_corrupt_chunks_total',
        'Chunks that failed their hash check and were quarantined.',
        st.corrupt.chunks
      ),
      c('narthex_seeder_repairs_total', 'Damaged NARs re-fetched from peers.', st.repairs.repaired, {
        result: 'ok'
      }),
      c('narthex_seeder_repairs_total', 'Damaged NARs re-fetched from peers.', st.repairs.failed, {
        result: 'failed'
      })
    ]
    if (st.mirror !== null) {
      out.push(
        c('narthex_seeder_mirrored_total', 'NARs fetched by the mirror.', st.mirror.mirrored),
        c('narthex_seeder_mirror_failures_total', 'Mirror fetches that failed.', st.mirror.failed)
      )
    }
    return out
  }

  private requireStore(): Store {
    if (this.store === undefined) throw new SeederNotStartedError()
    return this.store
  }

  private emit(event: SeederEvent): void {
    log('%o', event)
    const time = new Date().toISOString()
    const remember = <T>(list: T[], item: T) => {
      list.unshift(item)
      if (list.length > RECENT_EVENTS) list.pop()
    }
    if (event.type === 'mirrored')
      remember(this.recentFetches, { time, what: event.storePath, from: event.from })
    if (event.type === 'repaired')
      remember(this.recentFetches, { time, what: event.narHash, from: 'peers (repair)' })
    if (event.type === 'repair-failed')
      remember(this.recentErrors, { time, what: `repair ${event.narHash}`, message: event.error })
    if (event.type === 'mirror-failed')
      remember(this.recentErrors, { time, what: `mirror ${event.storePath}`, message: event.error })
    if (event.type === 'announced' && !event.ok)
      remember(this.recentErrors, { time, what: `announce ${event.narHash}`, message: 'no DHT peer took it' })
    if (event.type === 'corrupt-chunk')
      remember(this.recentErrors, { time, what: `chunk ${event.cid}`, message: `corrupt (${event.reason})` })
    try {
      this.init.onEvent?.(event)
    } catch {}
  }

  private track<T>(p: Promise<T>): void {
    const q = p.catch((err) => log('background task failed: %s', (err as Error).message))
    this.background.add(q)
    q.finally(() => this.background.delete(q))
  }

  /** The fetch server's view of the store: published NARs only, chunks re-hashed, uploads throttled. */
  private source() {
    const getChunks = async (
      cids: readonly CID[],
      options: { signal?: AbortSignal; maxBytes: number }
    ): Promise<Array<Uint8Array | undefined>> => {
      const store = this.store
      // The chunks this seeder serves from the start of `cids`; the first it does not serve is answered alone.
      const held: CID[] = []
      for (const cid of cids) {
        if (!this.chunkRefs.has(cid.toString())) break
        held.push(cid)
      }
      if (store === undefined || held.length === 0) return [undefined]
      let read: Array<Uint8Array | undefined>
      try {
        read = await store.getChunks(held, options) // re-hashed; corrupt ones quarantined
      } catch {
        return held.map(() => undefined)
      }
      const bytes = read.reduce((sum, b) => sum + (b?.byteLength ?? 0), 0)
      if (bytes > 0) await this.bucket.take(bytes, options)
      return read
    }
    return {
      hasNar: async (narCid: CID) => {
        const store = this.store
        return store !== undefined && this.published.has(narCid.toString()) && (await store.hasNar(narCid))
      },
      getManifest: async (narCid: CID) => {
        const store = this.store
        if (store === undefined || !this.published.has(narCid.toString())) return undefined
        return (await store.getManifest(narCid))?.bytes
      },
      getChunks,
      // One chunk is a group of one (the fetch server uses getChunks; getChunk completes the interface).
      getChunk: async (cid: CID, options: { signal?: AbortSignal } = {}) =>
        (await getChunks([cid], { ...options, maxBytes: Number.MAX_SAFE_INTEGER }))[0]
    }
  }

  private listen(store: Store): void {
    const added = (e: CustomEvent<NarEntry>) => {
      this.track(this.consider(e.detail, { fresh: true }))
    }
    const removed = (e: CustomEvent<{ narHash: string; reason: string }>) => {
      const { narHash, reason } = e.detail
      const root = this.published.get(narCidFromNarHash(narHash).toString())?.root
      this.track(this.unpublish(narHash, reason))
      if (reason === 'damaged' && root !== undefined && (this.init.repair ?? DEFAULT_REPAIR)) {
        this.track(this.repair(narHash, root))
      }
    }
    const corrupt = (e: CustomEvent<{ cid: string; reason: string; narHashes: readonly string[] }>) => {
      const report: CorruptReport = { ...e.detail, at: Date.now() }
      this.corruptCount++
      this.corrupt.push(report)
      if (this.corrupt.length > 20) this.corrupt.shift()
      this.emit({
        type: 'corrupt-chunk',
        cid: report.cid,
        reason: report.reason,
        narHashes: report.narHashes
      })
    }
    store.addEventListener('nar:added', added)
    store.addEventListener('nar:removed', removed as (e: CustomEvent) => void)
    store.addEventListener('chunk:corrupt', corrupt as (e: CustomEvent) => void)
    this.listeners.push(
      () => store.removeEventListener('nar:added', added),
      () => store.removeEventListener('nar:removed', removed as (e: CustomEvent) => void),
      () => store.removeEventListener('chunk:corrupt', corrupt as (e: CustomEvent) => void)
    )
  }

  /**
   * Go through the store: publish what the policy allows. With `recheck`, also ask again about NARs refused
   * longer than the recheck interval ago and about published ones (an output withdrawn upstream is unpublished).
   */
  private async scan(recheck = false): Promise<void> {
    const store = this.requireStore()
    const signal = this.controller.signal
    const pending = new Set<Promise<void>>()
    for await (const entry of store.listNars({ signal })) {
      if (signal.aborted) return
      if (entry.damaged) continue
      const p = this.consider(entry, { recheck })
      pending.add(p)
      p.finally(() => pending.delete(p))
      if (pending.size >= ORCHESTRATOR_CONCURRENCY) await Promise.race(pending)
    }
    await Promise.all(pending)
  }

  /**
   * Decide about one NAR and publish or unpublish it accordingly. A published NAR is decided again only with
   * `recheck` (and then `entry` must name all its narinfos, as listNars does); a refused one only after the
   * recheck interval, unless `fresh` (it just got a new narinfo).
   */
  private async consider(
    entry: Pick<NarEntry, 'narHash' | 'storePathHashes'>,
    opts: { recheck?: boolean; fresh?: boolean } = {}
  ): Promise<void> {
    if (this.store === undefined) return
    const cid = narCidFromNarHash(entry.narHash)
    const wasPublished = this.published.has(cid.toString())
    if (wasPublished && !opts.recheck) return
    const refusedAt = this.refused.get(entry.narHash)
    if (!opts.fresh && refusedAt !== undefined && Date.now() - refusedAt < this.policy.recheckMs) return
    const decision = await this.policy.decide(entry, { signal: this.controller.signal })
    if (this.store === undefined) return
    if (decision.allowed) {
      this.refused.delete(entry.narHash)
      if (!wasPublished) await this.publish(entry.narHash, decision.reason)
    } else {
      this.refused.set(entry.narHash, Date.now())
      if (wasPublished) await this.unpublish(entry.narHash, 'no longer verified')
      else this.emit({ type: 'not-published', narHash: entry.narHash, reason: decision.reason })
    }
  }

  private async publish(narHash: string, reason: PolicyReason): Promise<void> {
    const store = this.store
    if (store === undefined) return
    const m = await store.getManifest(narHash)
    if (m === undefined) return // removed or damaged meanwhile
    const cid = narCidFromNarHash(narHash)
    const key = cid.toString()
    if (this.published.has(key)) return
    const chunks = [...new Set(m.manifest.chunks.map((c) => c.cid.toString()))]
    for (const c of chunks) this.chunkRefs.set(c, (this.chunkRefs.get(c) ?? 0) + 1)
    this.published.set(key, { narHash, root: m.root, chunks, reason })
    this.emit({ type: 'published', narHash, reason })
    this.announcer?.announce(cid)
  }

  private async unpublish(narHash: string, reason: string): Promise<void> {
    const cid = narCidFromNarHash(narHash)
    const key = cid.toString()
    const p = this.published.get(key)
    if (p === undefined) return
    this.published.delete(key)
    for (const c of p.chunks) {
      const n = (this.chunkRefs.get(c) ?? 1) - 1
      if (n <= 0) this.chunkRefs.delete(c)
      else this.chunkRefs.set(c, n)
    }
    this.withdrawnCount++
    await this.announcer?.withdraw(cid)
    this.emit({ type: 'withdrawn', narHash, reason })
  }

  /** Re-fetch the chunks a damaged NAR lost from peers, verified against the manifest root already held. */
  private async repair(narHash: string, root: CID): Promise<void> {
    const store = this.store
    const node = this.node
    if (store === undefined || node === undefined || this.repairing.has(narHash)) return
    this.repairing.add(narHash)
    try {
      const download = new NarDownload({ node, sink: chunkSinkFromStore(store) }, narHash, {
        manifestRoot: root,
        signal: deadline(MIRROR_DOWNLOAD_TIMEOUT_MS, this.controller.signal)
      })
      for await (const _ of download.bytes()) {
        // the sink stores each verified chunk; commitNar at the end clears the damage (nar:added republishes)
      }
      this.repaired++
      this.emit({ type: 'repaired', narHash })
    } catch (err) {
      if (this.controller.signal.aborted) return
      this.repairFailed++
      this.emit({ type: 'repair-failed', narHash, error: (err as Error).message })
    } finally {
      this.repairing.delete(narHash)
    }
  }
}
