/**
 * The swarm as a NarSource: @narthex/p2p's downloader fetches a NAR from several peers at once, checking every
 * chunk against the agreed manifest root, putting each verified chunk into the shim's chunk store (so the NAR is
 * cached, and seedable, as it arrives) and yielding the bytes in order. `open` resolves with the first verified
 * bytes in hand, so a NAR no peer has fails before the shim sends any header.
 */
import { narCidFromNarHash } from '@narthex/content'
import {
  chunkSinkFromStore,
  findProviders,
  NarDownload,
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
    let local = 0
    const download = new NarDownload(
      {
        node: this.#node,
        sink: chunkSinkFromStore(this.#store, req.narinfo === undefined ? {} : { narinfo: req.narinfo }),
        scores: this.#scores
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
