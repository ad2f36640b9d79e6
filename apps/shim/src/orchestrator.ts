/**
 * The orchestrator as a NarinfoSource, over its HTTP API (docs/api.md):
 * - `GET /<hashpart>.narinfo` → the signed narinfo of an agreed output (404 when there is none). This is what
 *   the shim serves, byte for byte. Its `x-narthex-manifest-root` header carries the agreed manifest root, which
 *   lets the swarm downloader check every chunk as it arrives: one request per path.
 * - `GET /api/v1/agreements/<hashpart>` → the agreement record (JSON), asked only when a narinfo came without that
 *   header (an orchestrator from before it, or another narinfo source); its `agreement.manifestRoot` is used when
 *   the record matches the narinfo (NarHash, StorePath, NarSize). Without a root the path is still served, from
 *   upstreams only (their NARs are checked against NarHash as a whole).
 *
 * A root from either place is as trusted as the narinfo's channel, and no more is needed: the downloader takes a
 * manifest only if it hashes to the root and describes the narinfo's NarHash and NarSize, so a wrong root can
 * make a download fail, never deliver other bytes.
 *
 * A plain binary cache (narinfos signed by some key, no agreement route) therefore also works as the narinfo
 * source; the end-to-end tests use that.
 */
import { deadline } from '@narthex/abort'
import createDebug from 'debug'
import { LOOKUP_TIMEOUT_MS, MAX_NARINFO_BYTES } from './constants.js'
import { OrchestratorError } from './errors.js'
import { getText, type TextResponse } from './http-client.js'
import { readNarinfo } from './narinfo.js'
import type { AgreedNarinfo, NarinfoSource } from './sources.js'

const log = createDebug('narthex:shim:orchestrator')

/** Largest agreement record read (it lists the supporting attestations). */
const MAX_AGREEMENT_BYTES = 4 * 1024 * 1024
const CID = /^b[a-z2-7]{20,200}$/

export class OrchestratorClient implements NarinfoSource {
  readonly #base: string

  /** `base`: the orchestrator's URL, e.g. `http://orchestrator.example:8080` (no trailing slash needed). */
  constructor(base: string) {
    this.#base = base.replace(/\/+$/, '')
  }

  async lookup(hashPart: string, opts: { signal?: AbortSignal } = {}): Promise<AgreedNarinfo | undefined> {
    const res = await this.#get(`/${hashPart}.narinfo`, MAX_NARINFO_BYTES, 'narinfo too large', opts.signal)
    if (res === undefined) return undefined
    const { text } = res
    const header = res.headers['x-narthex-manifest-root']
    const manifestRoot =
      typeof header === 'string' && CID.test(header)
        ? header
        : await this.#manifestRoot(hashPart, text, opts.signal).catch((err: Error) => {
            log('no agreement record for %s: %s', hashPart, err.message)
            return undefined
          })
    log('%s.narinfo: %d bytes%s', hashPart, text.length, manifestRoot ? `, manifest ${manifestRoot}` : '')
    return manifestRoot === undefined ? { text } : { text, manifestRoot }
  }

  async #manifestRoot(hashPart: string, narinfo: string, signal?: AbortSignal): Promise<string | undefined> {
    const res = await this.#get(
      `/api/v1/agreements/${hashPart}`,
      MAX_AGREEMENT_BYTES,
      'record too large',
      signal
    )
    if (res === undefined) return undefined
    const body = JSON.parse(res.text)
    const a = body?.agreement
    const fields = readNarinfo(narinfo)
    if (typeof a?.manifestRoot !== 'string' || !CID.test(a.manifestRoot)) {
      throw new OrchestratorError('agreement record has no manifest root')
    }
    if (a.narHash !== fields.narHash || a.outPath !== fields.storePath || a.narSize !== fields.narSize) {
      throw new OrchestratorError('agreement record does not match the narinfo')
    }
    return a.manifestRoot
  }

  /** GET a path: its body and headers for 200, undefined for 404/403, OrchestratorError otherwise (redirects too). */
  async #get(
    path: string,
    max: number,
    tooLarge: string,
    signal?: AbortSignal
  ): Promise<{ text: string; headers: TextResponse['headers'] } | undefined> {
    let res: TextResponse
    try {
      res = await getText(new URL(`${this.#base}${path}`), {
        max,
        onTooLarge: () => new OrchestratorError(tooLarge),
        signal: deadline(LOOKUP_TIMEOUT_MS, signal)
      })
    } catch (err) {
      if (err instanceof OrchestratorError) throw err
      throw new OrchestratorError(`orchestrator unreachable: ${(err as Error).message}`)
    }
    if (res.status === 200) return { text: res.text ?? '', headers: res.headers }
    if (res.status === 404 || res.status === 403) return undefined
    throw new OrchestratorError(`orchestrator answered ${res.status} for ${path}`)
  }
}
