/**
 * Upstream HTTP binary caches as a NarSource: when no peer has a NAR, the shim fetches it from a configured
 * cache (cache.nixos.org, or a `file://` cache served over HTTP), checks it against the *agreed* NarHash and
 * NarSize (not the upstream's say-so), serves it and, by default, re-seeds it.
 *
 * The upstream's narinfo is only used to find the NAR (URL, Compression) and to check it is the same NAR
 * (NarHash, NarSize). Nothing from it is served to Nix. Compressions undone here: none, br, gzip (node:zlib);
 * an upstream serving xz, zstd or bzip2 is skipped with UnsupportedCompressionError.
 */

import { get as httpGetRaw, type IncomingMessage } from 'node:http'
import { get as httpsGetRaw } from 'node:https'
import { pipeline, type Readable, type Transform } from 'node:stream'
import { createBrotliDecompress, createGunzip } from 'node:zlib'
import { deadline } from '@narthex/abort'
import { parseStorePath } from '@narthex/nix'
import createDebug from 'debug'
import { batched } from './batched.js'
import { DELIVERABLE_TTL_MS, LOOKUP_TIMEOUT_MS, MAX_NARINFO_BYTES, WRITE_BATCH_BYTES } from './constants.js'
import { NarNotFoundError, UnsupportedCompressionError, UpstreamError } from './errors.js'
import { readText } from './http-client.js'
import { readNarinfo } from './narinfo.js'
import type { NarFetch, NarRequest, NarSource } from './sources.js'

const log = createDebug('narthex:shim:upstream')

const DECOMPRESS: Readonly<Record<string, (() => Transform) | null>> = {
  none: null,
  br: createBrotliDecompress,
  gzip: createGunzip
}

interface Located {
  readonly url: string
  readonly compression: string
  readonly expires: number
}

export class UpstreamSource implements NarSource {
  readonly name: string
  readonly #base: string
  /** narHash → where this upstream has it (positive answers only, DELIVERABLE_TTL_MS). */
  readonly #located = new Map<string, Located>()

  constructor(base: string) {
    this.#base = base.replace(/\/+$/, '')
    this.name = `upstream ${this.#base}`
  }

  async has(req: NarRequest, opts: { signal?: AbortSignal } = {}): Promise<boolean> {
    try {
      return (await this.#locate(req, opts.signal)) !== undefined
    } catch (err) {
      log('%s: %s', this.#base, (err as Error).message)
      return false
    }
  }

  async open(req: NarRequest, opts: { signal?: AbortSignal } = {}): Promise<NarFetch> {
    const where = await this.#locate(req, opts.signal)
    if (where === undefined) throw new NarNotFoundError(`${this.#base} does not have ${req.storePath}`)
    let body: IncomingMessage
    try {
      body = await httpGet(where.url, opts.signal)
    } catch (err) {
      throw new UpstreamError(`${this.#base}: ${(err as Error).message}`)
    }
    if (body.statusCode !== 200) {
      body.destroy()
      this.#located.delete(req.narHash)
      throw new UpstreamError(`${this.#base} answered ${body.statusCode} for the NAR of ${req.storePath}`)
    }
    const decompress = DECOMPRESS[where.compression]!
    let out: Readable = body
    if (decompress !== null) {
      const inflate = decompress()
      pipeline(body, inflate, () => {}) // an error on either side destroys both; the reader sees it
      out = inflate
    }
    const stream = batched(out, WRITE_BATCH_BYTES)
    // Upstream bytes can only be checked whole (against the agreed NarHash): verified = false.
    return { stream, verified: false }
  }

  async #locate(req: NarRequest, signal: AbortSignal | undefined): Promise<Located | undefined> {
    const known = this.#located.get(req.narHash)
    if (known !== undefined && known.expires > Date.now()) return known
    const { hashPart } = parseStorePath(req.storePath)
    let res: Response
    try {
      res = await fetch(`${this.#base}/${hashPart}.narinfo`, { signal: deadline(LOOKUP_TIMEOUT_MS, signal) })
    } catch (err) {
      throw new UpstreamError(`${this.#base} unreachable: ${(err as Error).message}`)
    }
    if (res.status === 404 || res.status === 403) {
      await res.body?.cancel().catch(() => {})
      return undefined
    }
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => {})
      throw new UpstreamError(`${this.#base} answered ${res.status} for ${hashPart}.narinfo`)
    }
    const text = await readText(res, MAX_NARINFO_BYTES, () => new UpstreamError('narinfo too large'))
    const info = readNarinfo(text)
    if (info.storePath !== req.storePath || info.narHash !== req.narHash || info.narSize !== req.narSize) {
      throw new UpstreamError(`${this.#base} has a different NAR for ${req.storePath} than the agreed one`)
    }
    if (!Object.hasOwn(DECOMPRESS, info.compression)) {
      throw new UnsupportedCompressionError(`${this.#base} serves ${info.compression}-compressed NARs`)
    }
    const located = {
      url: new URL(info.url, `${this.#base}/`).href,
      compression: info.compression,
      expires: Date.now() + DELIVERABLE_TTL_MS
    }
    this.#located.set(req.narHash, located)
    return located
  }
}

/**
 * GET with node:http(s) rather than fetch: NAR bodies are large and node:http's stream is markedly faster than
 * fetch's web stream on Node 20 (measured in bench/shim). Resolves with the response (any status).
 */
function httpGet(url: string, signal?: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const get = url.startsWith('https:') ? httpsGetRaw : httpGetRaw
    const req = get(url, signal === undefined ? {} : { signal }, resolve)
    req.on('error', reject)
  })
}
