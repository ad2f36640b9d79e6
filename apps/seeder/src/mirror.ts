/**
 * The mirror: fetches NARs the orchestrator agreed on that this seeder does not hold yet, so rare outputs get more
 * providers.
 *
 * Each round:
 * 1. list agreed, served outputs: `GET <orchestrator>/api/v1/outputs?status=agreed&limit=500` (most recently
 *    updated first; the API has no offset, so a round sees at most the 500 most recent);
 * 2. drop what the store holds, keep MIRROR_CANDIDATES_PER_ROUND, and fetch each one's agreement record
 *    (`GET /api/v1/agreements/<hashpart>`: NarHash, NarSize, manifest root, signed narinfo);
 * 3. count providers in the DHT (up to MIRROR_PROVIDER_COUNT_LIMIT) and take the fewest-provided first;
 * 4. skip what would not fit the disk quota; download from peers (every chunk checked against the agreed manifest
 *    root) into the store with the orchestrator's narinfo, or, when no peer has it and an upstream binary cache is
 *    configured, import it from there (checked against the agreed NarHash and NarSize).
 */
import { deadline } from '@narthex/abort'
import { narCidFromNarHash, sameNarHash } from '@narthex/content'
import { parseNarinfo } from '@narthex/nix'
import { chunkSinkFromStore, findProviders, NarDownload, type NarthexNode, SessionPool } from '@narthex/p2p'
import { importFromBinaryCache, type Store } from '@narthex/store'
import debug from 'debug'
import {
  MIRROR_CANDIDATES_PER_ROUND,
  MIRROR_DOWNLOAD_TIMEOUT_MS,
  MIRROR_INTERVAL_MS,
  MIRROR_LIST_LIMIT,
  MIRROR_PROVIDER_COUNT_LIMIT,
  MIRROR_PROVIDER_TIMEOUT_MS
} from './constants.js'
import { InvalidSeederConfigError, OrchestratorError } from './errors.js'
import type { Policy } from './policy.js'

const log = debug('narthex:seeder:mirror')

export interface MirrorInit {
  readonly store: Store
  readonly node: NarthexNode
  readonly policy: Policy
  readonly quotaBytes?: number
  readonly upstream?: string
  readonly intervalMs?: number
  /** Time limit of one provider count (default MIRROR_PROVIDER_TIMEOUT_MS). */
  readonly providerTimeoutMs?: number
  readonly onMirrored?: (storePath: string, narHash: string, from: 'peers' | 'upstream') => void
  readonly onFailed?: (storePath: string, error: string) => void
}

export interface MirrorStats {
  rounds: number
  listed: number
  mirrored: number
  failed: number
  skippedQuota: number
  lastRoundAt: number | null
}

/** One agreed output the mirror may fetch. */
export interface MirrorCandidate {
  readonly hashPart: string
  readonly storePath: string
  readonly narHash: string
  readonly narSize: number
  readonly manifestRoot: string
  readonly narinfo: string
  providers: number
}

interface OutputSummary {
  readonly outPath: string
  readonly hashPart: string
  readonly status: string
  readonly served: boolean
  readonly narHash: string
}

interface AgreementView {
  readonly agreement: { readonly narHash: string; readonly narSize: number; readonly manifestRoot: string }
  readonly narinfo: string
}

export class Mirror {
  readonly stats: MirrorStats = {
    rounds: 0,
    listed: 0,
    mirrored: 0,
    failed: 0,
    skippedQuota: 0,
    lastRoundAt: null
  }
  private timer: NodeJS.Timeout | undefined
  private controller = new AbortController()
  private round: Promise<void> | undefined
  /** Fetch sessions kept between the round's downloads (many small NARs from the same few peers). */
  private sessions = new SessionPool()

  constructor(private readonly init: MirrorInit) {
    if (!init.policy.hasOrchestrator) {
      throw new InvalidSeederConfigError('--mirror needs --orchestrator URL (it lists agreed outputs there)')
    }
  }

  start(): void {
    this.controller = new AbortController()
    this.sessions = new SessionPool()
    const run = () => {
      if (this.round !== undefined) return
      this.round = this.runOnce()
        .catch((err) => log('mirror round failed: %s', (err as Error).message))
        .finally(() => {
          this.round = undefined
        })
    }
    run()
    this.timer = setInterval(run, this.init.intervalMs ?? MIRROR_INTERVAL_MS)
    this.timer.unref()
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    this.controller.abort()
    await this.round
    await this.sessions.stop()
  }

  /** One round (see the module comment). */
  async runOnce(): Promise<void> {
    const signal = this.controller.signal
    const { store, policy } = this.init
    this.stats.rounds++
    this.stats.lastRoundAt = Date.now()
    const text = await policy.get(`/api/v1/outputs?status=agreed&limit=${MIRROR_LIST_LIMIT}`, { signal })
    if (text === undefined) throw new OrchestratorError('the orchestrator has no /api/v1/outputs')
    const { outputs } = JSON.parse(text) as { outputs: OutputSummary[] }
    this.stats.listed = outputs.length
    const missing: OutputSummary[] = []
    for (const o of outputs) {
      if (o.status !== 'agreed' || !o.served) continue
      if (await store.hasNar(o.narHash)) continue
      missing.push(o)
      if (missing.length >= MIRROR_CANDIDATES_PER_ROUND) break
    }
    const candidates: MirrorCandidate[] = []
    for (const o of missing) {
      signal.throwIfAborted()
      const body = await policy.get(`/api/v1/agreements/${o.hashPart}`, { signal }).catch(() => undefined)
      if (body === undefined) continue
      const view = JSON.parse(body) as AgreementView
      const info = parseNarinfo(view.narinfo)
      if (!sameNarHash(info.narHash, view.agreement.narHash)) continue
      candidates.push({
        hashPart: o.hashPart,
        storePath: o.outPath,
        narHash: view.agreement.narHash,
        narSize: view.agreement.narSize,
        manifestRoot: view.agreement.manifestRoot,
        narinfo: view.narinfo,
        providers: await this.countProviders(view.agreement.narHash, signal)
      })
    }
    candidates.sort((a, b) => a.providers - b.providers)
    for (const c of candidates) {
      signal.throwIfAborted()
      if (this.init.quotaBytes !== undefined) {
        const { storedBytes } = await store.stats()
        if (storedBytes + c.narSize > this.init.quotaBytes) {
          this.stats.skippedQuota++
          continue
        }
      }
      await this.fetchOne(c, signal)
    }
  }

  private async countProviders(narHash: string, signal: AbortSignal): Promise<number> {
    let n = 0
    try {
      for await (const _ of findProviders(this.init.node, narCidFromNarHash(narHash), {
        signal,
        timeoutMs: this.init.providerTimeoutMs ?? MIRROR_PROVIDER_TIMEOUT_MS,
        maxProviders: MIRROR_PROVIDER_COUNT_LIMIT
      })) {
        // Connected peers are yielded as candidates too; only DHT providers are counted by maxProviders.
        if (++n >= MIRROR_PROVIDER_COUNT_LIMIT) break
      }
    } catch {
      // counting only ranks; a failed walk counts what it saw
    }
    return n
  }

  private async fetchOne(c: MirrorCandidate, signal: AbortSignal): Promise<void> {
    const { store, node } = this.init
    const timeout = deadline(MIRROR_DOWNLOAD_TIMEOUT_MS, signal)
    try {
      const download = new NarDownload(
        { node, sink: chunkSinkFromStore(store, { narinfo: c.narinfo }), sessions: this.sessions },
        c.narHash,
        { manifestRoot: c.manifestRoot, narSize: c.narSize, signal: timeout }
      )
      for await (const _ of download.bytes()) {
        // chunks go to the store as they are verified; the NAR is committed with the narinfo at the end
      }
      this.stats.mirrored++
      this.init.onMirrored?.(c.storePath, c.narHash, 'peers')
      return
    } catch (err) {
      if (signal.aborted) throw err
      log('mirror %s from peers: %s', c.storePath, (err as Error).message)
      if (this.init.upstream === undefined) {
        this.stats.failed++
        this.init.onFailed?.(c.storePath, (err as Error).message)
        return
      }
    }
    try {
      const [info] = await importFromBinaryCache(store, this.init.upstream, [c.hashPart], { signal: timeout })
      if (info === undefined || !sameNarHash(info.narHash, c.narHash) || info.narSize !== c.narSize) {
        // The upstream has another NAR under this path than the one agreed: do not keep it.
        if (info !== undefined) await store.removeNar(info.narHash)
        throw new OrchestratorError(`upstream ${this.init.upstream} has another NAR for ${c.storePath}`)
      }
      this.stats.mirrored++
      this.init.onMirrored?.(c.storePath, c.narHash, 'upstream')
    } catch (err) {
      if (signal.aborted) throw err
      this.stats.failed++
      this.init.onFailed?.(c.storePath, (err as Error).message)
    }
  }
}
