/**
 * The swarm as a NarSource: @narthex/p2p's downloader fetches a NAR from several peers at once, checking every
 * chunk against the agreed manifest root, and yields the bytes in order. `open` resolves with the first verified
 * bytes in hand, so a NAR no peer has fails before the shim sends any header.
 *
 * Chunks already in the shim's store are used instead of fetched (deduplication across NARs), but fetched chunks
 * are not written to the store one by one as they arrive: the NarService spools the NAR and imports the whole file
 * into the store after Nix got it (one batched import, see nar-service.ts). Writing each ~64 KiB chunk as its own
 * synced file on the way to Nix cost one fsync per chunk (~4,000 per 256 MiB), a second SHA-256 of every chunk,
 * and the thread pool the spool and the HTTP response need: it made a cold substitution several times slower.
 * The price: an interrupted download leaves no chunks behind to resume from.
 */
import { deadline } from '@narthex/abort'
import { narCidFromNarHash } from '@narthex/content'
import {
  type ChunkSink,
  findProviders,
  NarDownload,
  type NarthexNode,
  PeerScores,
  PeerSession,
  SessionPool
} from '@narthex/p2p'
import type { Store } from '@narthex/store'
import createDebug from 'debug'
import { LOOKUP_TIMEOUT_MS } from './constants.js'
import { NarNotFoundError, NarUnavailableError } from './errors.js'
import type { NarFetch, NarRequest, NarSource } from './sources.js'

const log = createDebug('narthex:shim:swarm')

type CID = ReturnType<typeof narCidFromNarHash>
type PeerId = Parameters<typeof PeerSession.open>[1]

/** Downloader errors that mean "no peer has it" (404 rather than 502). */
const MISSING = new Set(['NoProvidersError', 'ManifestUnavailableError'])

/** Candidates asked HAVE when deciding whether a narinfo can be answered (the downloader asks more). */
const MAX_HAVE_ASKS = 8

export interface SwarmSourceInit {
  readonly node: NarthexNode
  readonly store: Store
  /** Shared peer reputation, so bans outlive one download. */
  readonly scores?: PeerScores
}

export class SwarmSource implements NarSource {
  readonly name = 'swarm'
  readonly #node: NarthexNode
  readonly #store: Store
  readonly #scores: PeerScores
  /** Peer id → a session kept open for HAVE questions (see #have). */
  readonly #haveSessions = new Map<string, Promise<PeerSession>>()
  /** Fetch sessions kept between downloads: a closure's next NAR starts on the last one's stream. */
  readonly #sessions = new SessionPool()

  constructor(init: SwarmSourceInit) {
    this.#node = init.node
    this.#store = init.store
    this.#scores = init.scores ?? new PeerScores()
  }

  /**
   * Whether some peer holds the NAR: candidates from findProviders (connected peers first, then the DHT) are asked
   * HAVE, up to MAX_HAVE_ASKS of them, within LOOKUP_TIMEOUT_MS.
   */
  async has(req: NarRequest, opts: { signal?: AbortSignal } = {}): Promise<boolean> {
    const cid = narCidFromNarHash(req.narHash)
    const signal = deadline(LOOKUP_TIMEOUT_MS, opts.signal)
    let asked = 0
    for await (const peer of findProviders(this.#node, cid, { signal, timeoutMs: LOOKUP_TIMEOUT_MS })) {
      if (++asked > MAX_HAVE_ASKS) break
      try {
        if (await this.#have(peer, cid, signal)) return true
      } catch (err) {
        log('HAVE to %s failed: %s', peer.toString(), (err as Error).message)
      }
      if (signal.aborted) break
    }
    return false
  }

  /**
   * Ask one peer HAVE on a session kept open for such questions (one per peer, requests pipelined), instead of
   * opening and closing a stream per narinfo: a 500-path closure asked 500 times per peer. Replies carry no CID and
   * come in request order, so a request is never cancelled alone: when the caller's signal fires, or anything
   * fails, the whole session is dropped (its other pending questions fail and are asked again on a new one).
   */
  async #have(peer: PeerId, cid: CID, signal: AbortSignal): Promise<boolean> {
    const key = peer.toString()
    let pending = this.#haveSessions.get(key)
    if (pending !== undefined) {
      const open = await pending.then((s) => s.isOpen).catch(() => false)
      if (!open) {
        if (this.#haveSessions.get(key) === pending) this.#haveSessions.delete(key)
        pending = undefined
      }
    }
    if (pending === undefined) {
      pending = PeerSession.open(this.#node, peer)
      this.#haveSessions.set(key, pending)
    }
    const session = pending
    try {
      return await raceSignal(
        session.then((s) => s.have(cid)),
        signal
      )
    } catch (err) {
      if (this.#haveSessions.get(key) === session) this.#haveSessions.delete(key)
      session.then((s) => s.abort(err as Error)).catch(() => {})
      throw err
    }
  }

  /** Close the sessions kept for HAVE questions and between downloads. */
  async stop(): Promise<void> {
    const sessions = [...this.#haveSessions.values()]
    this.#haveSessions.clear()
    await Promise.allSettled([...sessions.map((p) => p.then((s) => s.close())), this.#sessions.stop()])
  }

  async open(req: NarRequest, opts: { signal?: AbortSignal } = {}): Promise<NarFetch> {
    let local = 0
    const download = new NarDownload(
      {
        node: this.#node,
        sink: readOnlySink(this.#store),
        scores: this.#scores,
        sessions: this.#sessions
      },
      req.narHash,
      {
        narSize: req.narSize,
        ...(req.manifestRoot === undefined ? {} : { manifestRoot: req.manifestRoot }),
        ...(opts.signal === undefined ? {} : { signal: opts.signal }),
        onProgress: (p) => {
          local = p.local
        }
      }
    )
    const bytes = download.bytes()[Symbol.asyncIterator]()
    let first: IteratorResult<Uint8Array>
    try {
      first = await bytes.next()
    } catch (err) {
      const name = (err as Error).name
      log('%s: %s', req.storePath, (err as Error).message)
      if (MISSING.has(name)) throw new NarNotFoundError(`no peer has the NAR (${name})`)
      throw new NarUnavailableError(`swarm download failed (${name})`)
    }
    async function* stream(): AsyncGenerator<Uint8Array> {
      if (first.done) return
      yield first.value
      for (;;) {
        const next = await bytes.next()
        if (next.done) return
        yield next.value
      }
    }
    // Every byte was checked against its chunk's CID (and the chunks against the agreed manifest) before it is
    // yielded: the shim may send it at once.
    const origins = () => {
      const out: Record<string, number> = {}
      for (const [peer, n] of Object.entries(download.stats.bytesByPeer)) out[`peer ${peer}`] = n
      if (local > 0) out['local store'] = local
      return out
    }
    return { stream: stream(), verified: Boolean(req.manifestRoot), origins }
  }
}

/**
 * A downloader sink that reads chunks the store already holds and stores nothing: what is fetched reaches the
 * store through the NarService's import of the spooled NAR.
 */
function readOnlySink(store: Store): ChunkSink {
  return {
    hasChunk: (cid) => store.hasChunk(cid),
    getChunk: async (cid, options) => {
      try {
        return await store.getChunk(cid, options)
      } catch {
        return undefined // corrupt: quarantined by the store; the downloader fetches it again
      }
    },
    putChunk: async () => {},
    commitNar: async () => {}
  }
}

/** `p`, or the signal's reason when it fires first. */
function raceSignal<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort)
        resolve(v)
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(err)
      }
    )
  })
}
