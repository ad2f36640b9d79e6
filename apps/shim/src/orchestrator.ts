/**
 * The orchestrator as a NarinfoSource, over its HTTP API (docs/api.md): `GET /<hashpart>.narinfo` serves the
 * signed narinfo of an agreed output (404 when there is none). The agreed manifest root comes with it.
 *
 * TODO(orchestrator): align the manifest-root lookup with the orchestrator's agreement-record route once its
 * API lands on main; until then the `X-Narthex-Manifest-Root` response header (when present) carries it.
 */
import createDebug from 'debug'
import { MAX_NARINFO_BYTES } from './constants.js'
import { OrchestratorError } from './errors.js'
import { readText, withTimeout } from './http-client.js'
import type { AgreedNarinfo, NarinfoSource } from './sources.js'

const log = createDebug('narthex:shim:orchestrator')

export const MANIFEST_ROOT_HEADER = 'x-narthex-manifest-root'

export class OrchestratorClient implements NarinfoSource {
  readonly #base: string

  /** `base`: the orchestrator's URL, e.g. `http://orchestrator.example:8080` (no trailing slash needed). */
  constructor(base: string) {
    this.#base = base.replace(/\/+$/, '')
  }

  async lookup(hashPart: string, opts: { signal?: AbortSignal } = {}): Promise<AgreedNarinfo | undefined> {
    let res: Response
    try {
      res = await fetch(`${this.#base}/${hashPart}.narinfo`, {
        signal: withTimeout(opts.signal),
        redirect: 'error'
      })
    } catch (err) {
      throw new OrchestratorError(`orchestrator unreachable: ${(err as Error).message}`)
    }
    if (res.status === 404 || res.status === 403) {
      await res.body?.cancel().catch(() => {})
      return undefined
    }
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => {})
      throw new OrchestratorError(`orchestrator answered ${res.status} for ${hashPart}.narinfo`)
    }
    const text = await readText(res, MAX_NARINFO_BYTES, () => new OrchestratorError('narinfo too large'))
    const manifestRoot = res.headers.get(MANIFEST_ROOT_HEADER) ?? undefined
    log('%s.narinfo: %d bytes%s', hashPart, text.length, manifestRoot ? `, manifest ${manifestRoot}` : '')
    return manifestRoot === undefined ? { text } : { text, manifestRoot }
  }
}
