/**
 * The swarm downloader: one NAR from several peers at once, every chunk verified on arrival, yielded in order.
 *
 * 1. Providers: connected peers first, then the DHT (providers.ts); each is asked HAVE on a fetch stream, up to
 *    `maxPeers` at once. Banned peers are skipped.
 * 2. Manifest: from the first peer that has the NAR. With a trusted root, it must hash to the root and describe
 *    the NarHash. Without one, it must decode and describe the NarHash; the whole NAR is then hashed at the end
 *    and, on a mismatch, the peer that supplied the manifest is banned (NarHashMismatchError).
 * 3. Chunks: requested in NAR order in batches (REQUEST_BATCH_BYTES), several batches in flight per peer
 *    (PEER_WINDOW_BYTES), never more than `maxAheadBytes` past the next byte to yield. Each chunk is hashed
 *    against its CID on arrival: a mismatch bans the sender at once and the chunk goes to another peer. A stall
 *    (no byte for STALL_TIMEOUT_MS with requests outstanding), a reset or NOT_FOUND penalises the peer and moves
 *    its outstanding chunks to others; it is never a ban.
 * 4. Verified chunks go into the ChunkSink before they are yielded; chunks already there are read from it (and
 *    hashed again), so an interrupted download resumes. The NAR is committed to the sink after the last chunk.
 *
 * Memory is bounded by maxAheadBytes plus each stream's read limit, whatever the consumer's speed.
 */

import { createHash } from 'node:crypto'
import { setMaxListeners } from 'node:events'
import { setTimeout as delay } from 'node:timers/promises'
import type { PeerId } from '@libp2p/interface'
import { deadline } from '@narthex/abort'
import {
  decodeManifest,
  type Manifest,
  narCidFromNarHash,
  sameNarHash,
  verifyChunk,
  verifyManifest
} from '@narthex/content'
import { formatSha256 } from '@narthex/nix'
import debug from 'debug'
import { CID } from 'multiformats/cid'
import type { Uint8ArrayList } from 'uint8arraylist'
import {
  BYTES_PER_PEER,
  DHT_DEFER_MS,
  MAX_AHEAD_BYTES,
  MAX_CHUNK_REPEAT_FAILURES,
  MAX_PEERS_PER_DOWNLOAD,
  PEER_WINDOW_BYTES,
  REQUEST_BATCH_BYTES,
  REQUEST_TIMEOUT_MS,
  STALL_PENALTY,
  STALL_TIMEOUT_MS
} from './constants.js'
import {
  DownloadFailedError,
  InvalidManifestRootError,
  ManifestUnavailableError,
  NarHashMismatchError,
  NoProvidersError,
  PeerStalledError
} from './errors.js'
import type { ChunkSink } from './interfaces.js'
import type { NarthexNode } from './node.js'
import { PeerScores } from './peer-scores.js'
import { PeerSession } from './peer-session.js'
import { type FindProvidersOptions, findProviders } from './providers.js'
import type { SessionPool } from './session-pool.js'

const log = debug('narthex:p2p:download')
/** Peers named, with what went wrong, in a DownloadFailedError's message. */
const MAX_TROUBLES_NAMED = 10

export interface DownloadComponents {
  readonly node: NarthexNode
  readonly sink: ChunkSink
  /** Shared reputation; bans outlive one download. A fresh one per download when omitted. */
  readonly scores?: PeerScores
  /**
   * Fetch sessions kept between downloads (session-pool.ts): a download starts on an idle one to a peer instead
   * of a new stream, and hands its sessions back at the end. Without one, sessions are opened and closed per download.
   */
  readonly sessions?: SessionPool
}

export interface DownloadProgress {
  readonly narSize: number
  /** Bytes yielded so far. */
  readonly bytes: number
  /** Bytes received from peers so far (verified). */
  readonly fetched: number
  /** Bytes that were already in the local store. */
  readonly local: number
  readonly peers: number
}

export interface DownloadOptions {
  /**
   * The trusted manifest root (from an agreement), as a CID or its string form. Without it the whole NarHash is
   * checked at the end.
   */
  readonly manifestRoot?: CID | string
  /** The NarSize, when known (checked against the manifest). */
  readonly narSize?: number
  readonly signal?: AbortSignal
  readonly onProgress?: (p: DownloadProgress) => void
  readonly maxPeers?: number
  /** Wait this long before asking the DHT when connected peers have the NAR (default DHT_DEFER_MS). */
  readonly dhtDeferMs?: number
  readonly peerWindowBytes?: number
  readonly requestBatchBytes?: number
  readonly maxAheadBytes?: number
  readonly stallTimeoutMs?: number
  readonly requestTimeoutMs?: number
  readonly providers?: FindProvidersOptions
}

export interface DownloadStats {
  chunks: number
  chunksFetched: number
  chunksLocal: number
  bytesFetched: number
  /** Chunks whose bytes did not match their CID (all rejected). */
  badChunks: number
  /** Bad chunks that were accepted: always 0 (kept to report it). */
  badChunksAccepted: number
  stalls: number
  resets: number
  notFound: number
  /** Chunk requests sent again to another peer after a failure. */
  rerequests: number
  peersUsed: number
  /** Peers banned by this download. */
  banned: string[]
  /** Bytes received per peer. */
  bytesByPeer: Record<string, number>
}

interface ChunkState {
  readonly cid: CID
  readonly size: number
  readonly index: number
  /** 'local': in the sink before we started; 'pending': to fetch; 'assigned': in flight; 'ready': in memory. */
  state: 'local' | 'pending' | 'assigned' | 'ready' | 'yielded'
  bytes?: Uint8Array
  attempts: number
  /** Failures on a peer that had already failed to deliver it (see MAX_CHUNK_REPEAT_FAILURES). */
  repeatFailures: number
  /** Peers that failed to deliver it (NOT_FOUND, reset, stall), tried last. */
  failedOn?: Set<string>
}

interface ActivePeer {
  readonly id: string
  readonly peer: PeerId
  readonly session: PeerSession
  outstandingBytes: number
  readonly outstanding: Set<number>
  /** When the peer last made progress (a byte arrived, or its queue went from empty to busy). */
  since: number
  dead: boolean
}

/** Download one NAR from the swarm: an async iterable of its bytes, in order. */
export function downloadNar(
  components: DownloadComponents,
  narHash: string,
  options: DownloadOptions = {}
): AsyncIterable<Uint8Array> {
  return new NarDownload(components, narHash, options).bytes()
}

export class NarDownload {
  readonly stats: DownloadStats = {
    chunks: 0,
    chunksFetched: 0,
    chunksLocal: 0,
    bytesFetched: 0,
    badChunks: 0,
    badChunksAccepted: 0,
    stalls: 0,
    resets: 0,
    notFound: 0,
    rerequests: 0,
    peersUsed: 0,
    banned: [],
    bytesByPeer: {}
  }
  readonly narCid: CID
  readonly manifestRoot: CID | undefined
  readonly scores: PeerScores
  private readonly controller = new AbortController()
  private readonly peers = new Map<string, ActivePeer>()
  /** Peers that were dropped (stall/reset): not reused in this download unless nobody else is left. */
  private readonly dropped = new Set<string>()
  /** What last went wrong with each peer (a failed probe, a drop, a ban): named in a DownloadFailedError. */
  private readonly troubles = new Map<string, string>()
  private chunks: ChunkState[] = []
  private pending: number[] = []
  private aheadBytes = 0
  private nextYield = 0
  private failure: Error | undefined
  private wakeYield: (() => void) | undefined
  private wakePeers: (() => void) | undefined
  private discoveryDone = false
  /** When the stall watchdog last ran (a late run means this process was paused); set when it starts. */
  private lastStallCheck = 0
  private manifestSupplier: string | undefined

  constructor(
    private readonly components: DownloadComponents,
    readonly narHash: string,
    private readonly options: DownloadOptions = {}
  ) {
    // Every pipelined request of every peer waits for its stream to drain with this signal (libp2p adds an abort
    // listener per wait): bounded by the peers' windows, but more than Node's default of 10 warns about.
    setMaxListeners(Number.POSITIVE_INFINITY, this.controller.signal)
    this.narCid = narCidFromNarHash(narHash)
    this.scores = components.scores ?? new PeerScores()
    const root = options.manifestRoot
    if (typeof root === 'string') {
      try {
        this.manifestRoot = CID.parse(root)
      } catch (err) {
        throw new InvalidManifestRootError(`not a CID: ${root} (${(err as Error).message})`)
      }
    } else {
      this.manifestRoot = root
    }
  }

  private get signal(): AbortSignal {
    return this.controller.signal
  }

  /** The NAR's bytes in order. Throws a typed error when it cannot be completed. */
  async *bytes(): AsyncGenerator<Uint8Array> {
    const outer = this.options.signal
    const onAbort = (): void => this.fail(outer?.reason ?? new Error('aborted'))
    outer?.addEventListener('abort', onAbort, { once: true })
    this.lastStallCheck = Date.now()
    const watchdog = setInterval(() => this.checkStalls(), this.stallCheckMs())
    watchdog.unref()
    try {
      outer?.throwIfAborted()
      this.discover().catch((err) => this.fail(err as Error))
      const { manifest, manifestBytes, trusted } = await this.obtainManifest()
      await this.plan(manifest)
      const hash = trusted ? undefined : createHash('sha256')
      let yielded = 0
      let local = 0
      this.schedule()
      for (let i = 0; i < this.chunks.length; i++) {
        const c = this.chunks[i]!
        let bytes: Uint8Array
        if (c.state === 'local') {
          const stored = await this.components.sink.getChunk(c.cid, { signal: this.signal })
          if (stored === undefined || !this.checks(c, stored)) {
            // Gone or rotten since we looked: fetch it like any other.
            c.state = 'pending'
            this.stats.chunksLocal--
            this.requeue(i)
            this.schedule()
            bytes = await this.waitReady(i)
          } else {
            bytes = stored
            local += bytes.byteLength
          }
        } else {
          bytes = await this.waitReady(i)
        }
        this.nextYield = i + 1
        if (c.state === 'ready') this.aheadBytes -= c.size
        c.state = 'yielded'
        c.bytes = undefined
        hash?.update(bytes)
        yielded += bytes.byteLength
        this.schedule()
        this.options.onProgress?.({
          narSize: manifest.narSize,
          bytes: yielded,
          fetched: this.stats.bytesFetched,
          local,
          peers: this.peers.size
        })
        yield bytes
      }
      if (hash !== undefined) {
        const actual = formatSha256(hash.digest())
        if (!sameNarHash(actual, this.narHash)) {
          if (this.manifestSupplier !== undefined)
            this.banPeer(this.manifestSupplier, 'manifest for another NAR')
          throw new NarHashMismatchError(this.narHash, actual)
        }
      }
      await this.components.sink.commitNar(this.narCid, manifestBytes, { signal: this.signal })
    } finally {
      clearInterval(watchdog)
      outer?.removeEventListener('abort', onAbort)
      this.controller.abort(new Error('download finished'))
      for (const p of this.peers.values()) this.release(p.session)
      this.peers.clear()
      // Discovery may be waiting for room for another peer: let it see the abort and end.
      this.notifyPeers()
    }
  }

  private stallTimeout(): number {
    return this.options.stallTimeoutMs ?? STALL_TIMEOUT_MS
  }

  private checks(c: ChunkState, bytes: Uint8Array): boolean {
    if (bytes.byteLength !== c.size) return false
    try {
      verifyChunk(c.cid, bytes)
      return true
    } catch {
      return false
    }
  }

  private fail(err: Error): void {
    if (this.failure !== undefined) return
    this.failure = err
    this.controller.abort(err)
    this.wakeYield?.()
    this.wakePeers?.()
  }

  // ------------------------------------------------------------------------------------------------ providers

  /**
   * Find peers that hold the NAR: connected peers first (one per BYTES_PER_PEER of a NAR of known size, the next
   * asked only when one fails or says no); the DHT only when none of them has it, or once the download has run
   * for DHT_DEFER_MS with every connected peer it wanted asked (a large NAR then gains more peers). A small NAR that connected peers
   * deliver at once costs no DHT query: in a cold 500-path closure from two connected seeders, those queries (one
   * per path, cancelled when the NAR was done) took half the shim's CPU and 60 % of the seeders'
   * (docs/benchmarks.md, "substitute").
   */
  private async discover(): Promise<void> {
    const maxPeers = this.options.maxPeers ?? MAX_PEERS_PER_DOWNLOAD
    // A NAR known to be small needs one peer: probing every connected peer costs each a stream and a HAVE.
    const narSize = this.options.narSize
    const wanted =
      narSize === undefined ? maxPeers : Math.min(maxPeers, Math.max(1, Math.ceil(narSize / BYTES_PER_PEER)))
    const probes = new Set<Promise<void>>()
    const probeOrPeerChange = () => Promise.race([...probes, this.peersChanged()])
    const asked = new Set<string>()
    const from = async (candidates: AsyncIterable<PeerId>, limit: number): Promise<void> => {
      for await (const peer of candidates) {
        const id = peer.toString()
        if (asked.has(id) || this.scores.isBanned(peer)) continue
        asked.add(id)
        while (this.peers.size + probes.size >= limit && !this.signal.aborted) await probeOrPeerChange()
        if (this.signal.aborted) break
        const p = this.probe(peer).finally(() => probes.delete(p))
        probes.add(p)
      }
    }
    const find = (connectedOnly: boolean) =>
      findProviders(this.components.node, this.narCid, {
        ...this.options.providers,
        signal: this.signal,
        ...(connectedOnly ? { connectedOnly } : {})
      })
    try {
      await from(find(true), wanted)
      if (this.options.providers?.connectedOnly === true) return
      // Until a connected peer has it, or all of them said no; then, with one, hold the DHT back a while.
      while (this.peers.size === 0 && probes.size > 0 && !this.signal.aborted) await probeOrPeerChange()
      if (this.peers.size > 0) {
        // Resolves early (rejecting, ignored) when the download ends.
        await delay(this.options.dhtDeferMs ?? DHT_DEFER_MS, undefined, { signal: this.signal }).catch(
          () => {}
        )
      }
      if (this.signal.aborted) return
      await from(find(false), maxPeers)
    } finally {
      await Promise.all(probes)
      this.discoveryDone = true
      this.notifyPeers()
      // With every peer dropped before discovery ended, nothing else would ask for the dropped ones again (or fail).
      this.schedule()
    }
  }

  private peersChanged(): Promise<void> {
    return new Promise((resolve) => {
      const prev = this.wakePeers
      this.wakePeers = () => {
        prev?.()
        resolve()
      }
    })
  }

  private notifyPeers(): void {
    const w = this.wakePeers
    this.wakePeers = undefined
    w?.()
  }

  /** A session is done with: back to the pool when there is one (it closes what it cannot keep), else closed. */
  private release(session: PeerSession): void {
    if (this.components.sessions !== undefined) this.components.sessions.release(session)
    else void session.close()
  }

  /**
   * A session to `peer` that has answered HAVE: a kept one when the pool has one still working, else a new stream.
   * A kept session the peer closed meanwhile (its own idle timer, a restart) is not the peer's fault: its failure
   * is logged and the question asked again on a new stream; only a failure there counts against the peer.
   */
  private async openAndAsk(
    peer: PeerId,
    signal: AbortSignal
  ): Promise<{ session: PeerSession; has: boolean }> {
    const kept = this.components.sessions?.take(peer)
    if (kept !== undefined) {
      try {
        return { session: kept, has: await kept.have(this.narCid, { signal }) }
      } catch (err) {
        kept.abort(err as Error)
        if (this.signal.aborted) throw err
        log('kept session to %s failed (%s): asking on a new stream', peer.toString(), (err as Error).message)
      }
    }
    const session = await PeerSession.open(this.components.node, peer, { signal })
    try {
      return { session, has: await session.have(this.narCid, { signal }) }
    } catch (err) {
      session.abort(err as Error)
      throw err
    }
  }

  private async probe(peer: PeerId): Promise<void> {
    const id = peer.toString()
    const timeout = this.options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS
    try {
      const { session, has } = await this.openAndAsk(peer, deadline(timeout, this.signal))
      if (!has) {
        this.release(session)
        return
      }
      if (this.signal.aborted || this.scores.isBanned(peer)) {
        session.abort(new Error('download over'))
        return
      }
      this.peers.set(id, {
        id,
        peer,
        session,
        outstandingBytes: 0,
        outstanding: new Set(),
        since: Date.now(),
        dead: false
      })
      this.stats.peersUsed++
      log('peer %s has %s', id, this.narCid.toString())
      this.notifyPeers()
      this.schedule()
    } catch (err) {
      if (!this.signal.aborted) {
        this.troubles.set(id, `probe failed: ${(err as Error).message}`)
        this.scores.penalise(peer, STALL_PENALTY, `probe failed: ${(err as Error).message}`)
      }
    }
  }

  /** Wait until a usable peer is there, or discovery ended without one. */
  private async anyPeer(tried: Set<string>): Promise<ActivePeer | undefined> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure
      const candidates = [...this.peers.values()].filter((p) => !p.dead && !tried.has(p.id))
      if (candidates.length > 0) {
        candidates.sort((a, b) => this.scores.score(b.id) - this.scores.score(a.id))
        return candidates[0]
      }
      if (this.discoveryDone) return undefined
      await this.peersChanged()
    }
  }

  // ------------------------------------------------------------------------------------------------ manifest

  private async obtainManifest(): Promise<{
    manifest: Manifest
    manifestBytes: Uint8Array
    trusted: boolean
  }> {
    const root = this.manifestRoot
    const tried = new Set<string>()
    let sawPeer = false
    for (;;) {
      const p = await this.anyPeer(tried)
      if (p === undefined) {
        if (!sawPeer) throw new NoProvidersError(`no peer holds ${this.narCid.toString()}`)
        throw new ManifestUnavailableError()
      }
      sawPeer = true
      tried.add(p.id)
      let bytes: Uint8Array | undefined
      try {
        const signal = deadline(this.options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS, this.signal)
        bytes = await p.session.getManifest(this.narCid, { signal })
      } catch (err) {
        if (this.failure !== undefined) throw this.failure
        this.dropPeer(p, err as Error)
        continue
      }
      if (bytes === undefined) {
        // It said HAVE and then has no manifest: not proof (it may have just evicted it).
        this.scores.penalise(p.id, STALL_PENALTY, 'no manifest after HAVE')
        this.dropPeer(p, new Error('no manifest'))
        continue
      }
      try {
        if (root !== undefined) {
          const manifest = verifyManifest(bytes, root, {
            narHash: this.narHash,
            ...(this.options.narSize !== undefined ? { narSize: this.options.narSize } : {})
          })
          return { manifest, manifestBytes: bytes, trusted: true }
        }
        const manifest = decodeManifest(bytes)
        this.checkDescribes(manifest)
        this.manifestSupplier = p.id
        return { manifest, manifestBytes: bytes, trusted: false }
      } catch (err) {
        this.judgeManifest(p, bytes, err as Error)
      }
    }
  }

  /** The manifest describes the NAR asked for (hash, and size when known). */
  private checkDescribes(m: Manifest): void {
    if (!sameNarHash(m.narHash, this.narHash))
      throw new ManifestUnavailableError('manifest describes another NAR')
    if (this.options.narSize !== undefined && m.narSize !== this.options.narSize) {
      throw new ManifestUnavailableError('manifest describes a NAR of another size')
    }
  }

  /**
   * A manifest that failed the checks. Proof of misbehaviour (ban) when it does not decode or describes another
   * NAR; a manifest of the right NAR cut by another chunker (a different but honest root) only makes the peer
   * unusable for this download.
   */
  private judgeManifest(p: ActivePeer, bytes: Uint8Array, err: Error): void {
    let manifest: Manifest | undefined
    try {
      manifest = decodeManifest(bytes)
    } catch {
      this.banPeer(p.id, `undecodable manifest: ${err.message}`)
      return
    }
    if (!sameNarHash(manifest.narHash, this.narHash)) {
      this.banPeer(p.id, 'manifest of another NAR')
      return
    }
    if (this.options.narSize !== undefined && manifest.narSize !== this.options.narSize) {
      // Every honest manifest of this NAR, whatever its chunker, has the NAR's true size.
      this.banPeer(p.id, 'manifest with a false NarSize')
      return
    }
    log('peer %s has another manifest of the NAR (%s): %s', p.id, manifest.chunker, err.message)
    this.dropPeer(p, err, false)
  }

  // ------------------------------------------------------------------------------------------------ chunks

  private async plan(manifest: Manifest): Promise<void> {
    let offset = 0
    this.chunks = manifest.chunks.map((c, index) => {
      const s: ChunkState = {
        cid: c.cid,
        size: c.size,
        index,
        state: 'pending',
        attempts: 0,
        repeatFailures: 0
      }
      offset += c.size
      return s
    })
    this.stats.chunks = this.chunks.length
    for (const c of this.chunks) {
      if (await this.components.sink.hasChunk(c.cid, { signal: this.signal })) {
        c.state = 'local'
        this.stats.chunksLocal++
      } else {
        this.pending.push(c.index)
      }
    }
    log(
      '%s: %d chunks, %d local, %d bytes',
      this.narCid.toString(),
      this.chunks.length,
      this.stats.chunksLocal,
      offset
    )
  }

  private requeue(index: number): void {
    // Keep `pending` sorted: the earliest chunk is always requested first.
    let lo = 0
    let hi = this.pending.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.pending[mid]! < index) lo = mid + 1
      else hi = mid
    }
    if (this.pending[lo] !== index) this.pending.splice(lo, 0, index)
  }

  /** Hand out pending chunks to peers with room in their window, in NAR order. */
  private schedule(): void {
    if (this.failure !== undefined || this.chunks.length === 0) return
    const window = this.options.peerWindowBytes ?? PEER_WINDOW_BYTES
    const batchBytes = this.options.requestBatchBytes ?? REQUEST_BATCH_BYTES
    const maxAhead = this.options.maxAheadBytes ?? MAX_AHEAD_BYTES
    const peers = [...this.peers.values()].filter((p) => !p.dead)
    if (peers.length === 0) {
      if (this.discoveryDone && this.pending.length > 0) this.reviveOrFail()
      return
    }
    peers.sort((a, b) => this.scores.score(b.id) - this.scores.score(a.id))
    let progress = true
    while (progress && this.pending.length > 0) {
      progress = false
      // Peers with the most room first, so batches spread across peers.
      peers.sort((a, b) => a.outstandingBytes - b.outstandingBytes)
      for (const p of peers) {
        if (p.dead || p.outstandingBytes >= window) continue
        const batch: ChunkState[] = []
        let bytes = 0
        for (let k = 0; k < this.pending.length && batch.length < 256; ) {
          const c = this.chunks[this.pending[k]!]!
          // Never run further ahead of the consumer than maxAhead (the first chunk always goes).
          if (this.aheadBytes + c.size > maxAhead && c.index !== this.nextYield) break
          if (bytes > 0 && bytes + c.size > batchBytes) break
          if (c.failedOn?.has(p.id) && peers.some((q) => q !== p && !q.dead && !c.failedOn!.has(q.id))) {
            k++
            continue
          }
          this.pending.splice(k, 1)
          batch.push(c)
          bytes += c.size
          this.aheadBytes += c.size
        }
        if (batch.length === 0) continue
        progress = true
        this.request(p, batch)
      }
    }
  }

  private request(p: ActivePeer, batch: ChunkState[]): void {
    if (p.outstanding.size === 0) p.since = Date.now()
    for (const c of batch) {
      c.state = 'assigned'
      c.attempts++
      if (c.attempts > 1) this.stats.rerequests++
      p.outstanding.add(c.index)
      p.outstandingBytes += c.size
    }
    const onChunk = async (i: number, data: Uint8ArrayList | undefined): Promise<void> => {
      const c = batch[i]!
      if (p.dead || !p.outstanding.has(c.index)) return
      p.outstanding.delete(c.index)
      p.outstandingBytes -= c.size
      if (data === undefined) {
        this.stats.notFound++
        this.scores.penalise(p.id, 1, 'chunk not found')
        this.retry(c, p.id)
        return
      }
      const bytes = data.subarray()
      if (!this.checks(c, bytes)) {
        this.stats.badChunks++
        this.banPeer(p.id, `bad chunk ${c.cid.toString()}`)
        this.retry(c, p.id)
        return
      }
      this.stats.chunksFetched++
      this.stats.bytesFetched += bytes.byteLength
      this.stats.bytesByPeer[p.id] = (this.stats.bytesByPeer[p.id] ?? 0) + bytes.byteLength
      try {
        await this.components.sink.putChunk(c.cid, bytes, { signal: this.signal })
      } catch (err) {
        // A local failure (disk full...): no peer is to blame and no other peer can help.
        this.fail(err as Error)
        return
      }
      if (c.state === 'assigned') {
        c.state = 'ready'
        c.bytes = bytes
        if (c.index === this.nextYield) this.wakeYield?.()
      }
      this.schedule()
    }
    p.session
      .getChunks(
        batch.map((c) => c.cid),
        onChunk,
        { signal: this.signal }
      )
      .then(
        () => this.schedule(),
        (err: Error) => {
          if (this.failure !== undefined || this.signal.aborted) return
          this.dropPeer(p, err)
        }
      )
  }

  /** Put a chunk back in the queue for another peer, or fail when it ran out of attempts. */
  private retry(c: ChunkState, failedOn: string): void {
    this.aheadBytes -= c.size
    c.state = 'pending'
    if (c.failedOn === undefined) c.failedOn = new Set()
    if (c.failedOn.has(failedOn)) c.repeatFailures++
    c.failedOn.add(failedOn)
    if (c.repeatFailures >= MAX_CHUNK_REPEAT_FAILURES) {
      this.fail(
        new DownloadFailedError(
          `chunk ${c.index} failed ${c.attempts} times (${this.describeTroubles([...c.failedOn])})`
        )
      )
      return
    }
    this.requeue(c.index)
    this.schedule()
  }

  private banPeer(id: string, reason: string): void {
    this.troubles.set(id, `banned: ${reason}`)
    this.scores.ban(id, reason)
    if (!this.stats.banned.includes(id)) this.stats.banned.push(id)
    const p = this.peers.get(id)
    if (p !== undefined) this.dropPeer(p, new Error(reason), false)
  }

  /** Stop using a peer in this download and move its outstanding chunks to others. */
  private dropPeer(p: ActivePeer, err: Error, penalise = true): void {
    if (p.dead) return
    p.dead = true
    this.peers.delete(p.id)
    this.dropped.add(p.id)
    if (err instanceof PeerStalledError) this.stats.stalls++
    else this.stats.resets++
    // a ban (banPeer drops the peer too) says more than the error that ends its session
    if (!this.scores.isBanned(p.id)) this.troubles.set(p.id, err.message)
    if (penalise) this.scores.penalise(p.id, STALL_PENALTY, err.message)
    log('dropping peer %s: %s', p.id, err.message)
    p.session.abort(err)
    const outstanding = [...p.outstanding]
    p.outstanding.clear()
    p.outstandingBytes = 0
    for (const index of outstanding) {
      const c = this.chunks[index]!
      if (c.state === 'assigned') this.retry(c, p.id)
    }
    this.notifyPeers()
    this.schedule()
  }

  /** No peer left: reopen sessions to dropped (not banned) peers once more, else fail. */
  private reviveOrFail(): void {
    const candidates = [...this.dropped].filter((id) => !this.scores.isBanned(id))
    this.dropped.clear()
    if (candidates.length === 0) {
      this.fail(this.noPeerLeft())
      return
    }
    this.discoveryDone = false
    const node = this.components.node
    Promise.all(
      candidates.map((id) => {
        const conn = node.getConnections().find((c) => c.remotePeer.toString() === id)
        return conn !== undefined ? this.probe(conn.remotePeer) : Promise.resolve()
      })
    ).finally(() => {
      this.discoveryDone = true
      if (this.peers.size === 0 && this.failure === undefined) {
        this.fail(this.noPeerLeft())
      }
    })
  }

  private noPeerLeft(): DownloadFailedError {
    return new DownloadFailedError(
      `no peer left to fetch ${this.narCid.toString()} from (${this.describeTroubles([...this.troubles.keys()])})`
    )
  }

  /** "peer: what went wrong" for up to MAX_TROUBLES_NAMED of the given peers, for an error message. */
  private describeTroubles(ids: string[]): string {
    if (ids.length === 0) return 'no peer was usable'
    const named = ids
      .slice(0, MAX_TROUBLES_NAMED)
      .map((id) => `${id}: ${this.troubles.get(id) ?? 'failed'}`)
      .join('; ')
    return ids.length > MAX_TROUBLES_NAMED ? `${named}; and ${ids.length - MAX_TROUBLES_NAMED} more` : named
  }

  private stallCheckMs(): number {
    return Math.min(1000, this.stallTimeout() / 4)
  }

  private checkStalls(): void {
    const now = Date.now()
    const limit = this.stallTimeout()
    const late = now - this.lastStallCheck - this.stallCheckMs()
    this.lastStallCheck = now
    if (late > limit / 2) {
      // This process itself did not run for a while (a long GC, a swapped-out or suspended process): the peers'
      // data may be waiting unread in the sockets, and timers run before I/O. Blame no peer for that pause; give
      // each a fresh start instead.
      log('watchdog %d ms late: no stall judged this time', late)
      for (const p of this.peers.values()) p.since = now
      return
    }
    for (const p of [...this.peers.values()]) {
      const last = Math.max(p.since, p.session.lastDataAt)
      if (p.outstanding.size > 0 && now - last > limit) {
        this.dropPeer(p, new PeerStalledError(`no data for ${now - last} ms`))
      }
    }
  }

  private async waitReady(index: number): Promise<Uint8Array> {
    const c = this.chunks[index]!
    for (;;) {
      if (this.failure !== undefined) throw this.failure
      if (c.state === 'ready' && c.bytes !== undefined) return c.bytes
      await new Promise<void>((resolve) => {
        this.wakeYield = resolve
      })
    }
  }
}
