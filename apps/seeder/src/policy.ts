/**
 * The publication policy: which stored NARs a seeder may announce and serve.
 *
 * A volunteer's store may hold private paths (their own builds, secrets baked into a derivation). Unless the
 * operator turns the policy off (`serveUnverified`), a NAR is published only when one of its narinfos
 *
 * - carries a valid signature by a key given with `--trusted-key` (e.g. the orchestrator's key, or cache.nixos.org's), or
 * - names an output the orchestrator at `--orchestrator URL` has agreed on, with the same NarHash
 *   (`GET <URL>/<hashpart>.narinfo` answers 200; 404 means unknown, pending, disputed or withdrawn).
 *
 * A NAR stored without a narinfo is never published under the policy. Decisions are cached for `recheckMs` and
 * asked again after that, so an output agreed later is published and one withdrawn upstream stops being.
 */

import { deadline } from '@narthex/abort'
import { sameNarHash } from '@narthex/content'
import { type PublicKey, parseNarinfo, parsePublicKey, parseStorePath, verifyNarinfo } from '@narthex/nix'
import type { NarEntry, Store } from '@narthex/store'
import debug from 'debug'
import { ORCHESTRATOR_TIMEOUT_MS, POLICY_RECHECK_MS } from './constants.js'
import { InvalidSeederConfigError, OrchestratorError } from './errors.js'

const log = debug('narthex:seeder:policy')

export type PolicyReason = 'unverified-allowed' | 'trusted-signature' | 'orchestrator-agreed' | 'not-verified'

export interface PolicyDecision {
  readonly allowed: boolean
  readonly reason: PolicyReason
  /** The store path that made it allowed, if any. */
  readonly storePath?: string
}

export interface PolicyInit {
  /** The stored narinfo filed under a store path hash part (the store's getNarinfo). */
  readonly getNarinfo: Store['getNarinfo']
  /** Base URL of the orchestrator (http or https). */
  readonly orchestrator?: string
  /** Trusted public keys, `name:base64`. */
  readonly trustedKeys?: readonly string[]
  /** Publish everything the store holds. */
  readonly serveUnverified?: boolean
  readonly recheckMs?: number
  readonly timeoutMs?: number
}

export interface PolicyStats {
  checks: number
  orchestratorRequests: number
  orchestratorErrors: number
}

export class Policy {
  readonly stats: PolicyStats = { checks: 0, orchestratorRequests: 0, orchestratorErrors: 0 }
  private readonly keys: PublicKey[]
  private readonly orchestrator: string | undefined

  constructor(private readonly init: PolicyInit) {
    this.keys = (init.trustedKeys ?? []).map((k) => {
      try {
        return parsePublicKey(k)
      } catch (err) {
        throw new InvalidSeederConfigError(`bad trusted key ${JSON.stringify(k)}: ${(err as Error).message}`)
      }
    })
    if (init.orchestrator !== undefined) {
      let url: URL
      try {
        url = new URL(init.orchestrator)
      } catch {
        throw new InvalidSeederConfigError(`bad orchestrator URL ${JSON.stringify(init.orchestrator)}`)
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:')
        throw new InvalidSeederConfigError(`the orchestrator URL must be http:// or https://`)
      this.orchestrator = url.toString().replace(/\/+$/, '')
    }
    if (!init.serveUnverified && this.keys.length === 0 && this.orchestrator === undefined) {
      throw new InvalidSeederConfigError(
        'nothing could ever be published: give --orchestrator URL or --trusted-key KEY, or --serve-unverified'
      )
    }
  }

  /** A short description for logs and status: what is published. */
  get mode(): string {
    if (this.init.serveUnverified) return 'serve-unverified'
    const parts: string[] = []
    if (this.orchestrator !== undefined) parts.push(`agreed at ${this.orchestrator}`)
    if (this.keys.length > 0) parts.push(`signed by ${this.keys.map((k) => k.name).join(', ')}`)
    return parts.join(' or ')
  }

  /** How long a decision may be kept before asking again. */
  get recheckMs(): number {
    return this.init.recheckMs ?? POLICY_RECHECK_MS
  }

  /** Decide for one stored NAR. Never throws: an unreachable orchestrator means "not now". */
  async decide(
    entry: Pick<NarEntry, 'narHash' | 'storePathHashes'>,
    options: { signal?: AbortSignal } = {}
  ): Promise<PolicyDecision> {
    this.stats.checks++
    if (this.init.serveUnverified) return { allowed: true, reason: 'unverified-allowed' }
    for (const hashPart of entry.storePathHashes) {
      const stored = await this.init.getNarinfo(hashPart)
      if (stored === undefined) continue
      try {
        const info = parseNarinfo(stored.text)
        if (!sameNarHash(info.narHash, entry.narHash)) continue
        if (this.keys.length > 0 && verifyNarinfo(info, this.keys) !== undefined) {
          return { allowed: true, reason: 'trusted-signature', storePath: info.storePath }
        }
      } catch (err) {
        log('stored narinfo %s does not parse: %s', hashPart, (err as Error).message)
      }
    }
    if (this.orchestrator !== undefined) {
      for (const hashPart of entry.storePathHashes) {
        try {
          const info = await this.agreedNarinfo(hashPart, options)
          if (info !== undefined && sameNarHash(info.narHash, entry.narHash)) {
            return { allowed: true, reason: 'orchestrator-agreed', storePath: info.storePath }
          }
        } catch (err) {
          this.stats.orchestratorErrors++
          log('orchestrator check of %s: %s', hashPart, (err as Error).message)
        }
      }
    }
    return { allowed: false, reason: 'not-verified' }
  }

  /** The orchestrator's narinfo for an output (agreed and served), or undefined (404). */
  async agreedNarinfo(
    hashPart: string,
    options: { signal?: AbortSignal } = {}
  ): Promise<ReturnType<typeof parseNarinfo> | undefined> {
    if (this.orchestrator === undefined) return undefined
    const text = await this.get(`/${hashPart}.narinfo`, options)
    if (text === undefined) return undefined
    const info = parseNarinfo(text)
    if (parseStorePath(info.storePath).hashPart !== hashPart) {
      throw new OrchestratorError(`the orchestrator's ${hashPart}.narinfo names ${info.storePath}`)
    }
    return info
  }

  /** GET a path of the orchestrator: the body as text, undefined on 404, OrchestratorError otherwise. */
  async get(path: string, options: { signal?: AbortSignal } = {}): Promise<string | undefined> {
    if (this.orchestrator === undefined) throw new OrchestratorError('no orchestrator configured')
    this.stats.orchestratorRequests++
    const signal = deadline(this.init.timeoutMs ?? ORCHESTRATOR_TIMEOUT_MS, options.signal)
    let res: Response
    try {
      res = await fetch(`${this.orchestrator}${path}`, { signal, redirect: 'error' })
    } catch (err) {
      throw new OrchestratorError(`GET ${path}: ${(err as Error).message}`, { cause: err })
    }
    if (res.status === 404) {
      await res.body?.cancel()
      return undefined
    }
    if (res.status !== 200) {
      await res.body?.cancel()
      throw new OrchestratorError(`GET ${path}: HTTP ${res.status}`)
    }
    return await res.text()
  }

  /** Whether the policy can consult an orchestrator (the mirror needs one). */
  get hasOrchestrator(): boolean {
    return this.orchestrator !== undefined
  }
}
