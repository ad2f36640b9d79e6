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
import { narCidFromNarHash } from '@narthex/content'
import {
  type ChunkSink,
  downloadNar,
  findProviders,
  type NarthexNode,
  PeerScores,
  PeerSession
} from '@narthex/p2p'
import type { Store } from '@narthex/store'
import createDebug from 'debug'
import { LOOKUP_TIMEOUT_MS } from './constants.js'
import { NarNotFoundError, NarUnavailableError } from './errors.js'
import { withTimeout } from './http-client.js'
import type { NarFetch, NarRequest, NarSource } from './sources.js'

const log = createDebug('narthex:shim:swarm')

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
    const signal = withTimeout(opts.signal)
    let asked = 0
    for await (const peer of findProviders(this.#node, cid, { signal, timeoutMs: LOOKUP_TIMEOUT_MS })) {
      if (++asked > MAX_HAVE_ASKS) break
      let session: PeerSession | undefined
      try {
        session = await PeerSession.open(this.#node, peer, { signal })
        if (await session.have(cid, { signal })) return true
      } catch (err) {
        log('HAVE to %s failed: %s', peer.toString(), (err as Error).message)
      } finally {
        await session?.close().catch(() => {})
      }
      if (signal.aborted) break
    }
    return false
  }

  async open(req: NarRequest, opts: { signal?: AbortSignal } = {}): Promise<NarFetch> {
    // Connected peers first: when they have the NAR, no DHT lookup is made for it (a lookup per NAR costs this
    // process and every peer it asks CPU and round trips, which dominated a 500-path closure). Only when none of
    // them has it is the DHT asked.
    if (this.#node.getConnections().length > 0) {
      try {
        return await this.#open(req, { connectedOnly: true }, opts)
      } catch (err) {
        if (!(err instanceof NarNotFoundError)) throw err
        log('%s: no connected peer has it; asking the DHT', req.storePath)
      }
    }
    return this.#open(req, {}, opts)
  }

  async #open(
    req: NarRequest,
    providers: { connectedOnly?: boolean },
    opts: { signal?: AbortSignal }
  ): Promise<NarFetch> {
    const bytes = downloadNar(
      {
        node: this.#node,
        sink: readOnlySink(this.#store),
        scores: this.#scores
      },
      req.narHash,
      {
        narSize: req.narSize,
        providers,
        ...(req.manifestRoot === undefined ? {} : { manifestRoot: req.manifestRoot }),
        ...(opts.signal === undefined ? {} : { signal: opts.signal })
      }
    )[Symbol.asyncIterator]()
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
    return { stream: stream(), verified: Boolean(req.manifestRoot) }
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
