/**
 * Import from a Nix binary cache: a `file://` directory or an `http(s)://` URL, as written by
 * `nix copy --to file:///DIR` or served by nix-serve/harmonia/nginx.
 *
 * For each store path: fetch `<hash part>.narinfo`, parse it (strictly), fetch the file at its `URL`, decompress
 * it per `Compression` (absent means bzip2, as in Nix), and import it with the narinfo's NarHash and NarSize as
 * what the bytes must be: a mismatch, a truncated download or corrupt compressed data fails the import before
 * anything is committed. The narinfo text is kept as fetched, signatures included. With `closure`, References are
 * followed (in the same cache).
 */
import { createReadStream } from 'node:fs'
import { readdir, readFile, stat } from 'node:fs/promises'
import { join, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { NARINFO_DEFAULT_COMPRESSION, type Narinfo, parseNarinfo, parseStorePath } from '@narthex/nix'
import createDebug from 'debug'
import {
  CacheRequestError,
  CacheUnreachableError,
  NarinfoNotFoundError,
  TruncatedDownloadError
} from '../errors.js'
import type { Store } from '../index.js'
import { decompress } from './decompress.js'
import type { ImportEvent } from './events.js'

const log = createDebug('narthex:store:import')

export interface BinaryCache {
  readonly url: string
  /** The narinfo text for a store path hash part; NarinfoNotFoundError when the cache has none. */
  getNarinfo(hashPart: string, opts?: { signal?: AbortSignal }): Promise<string>
  /** The bytes of a file of the cache (a NAR, as named by a narinfo's URL). */
  readFile(url: string, opts?: { signal?: AbortSignal }): AsyncIterable<Uint8Array>
  /** Hash parts of every narinfo in the cache, where the cache can list them (file:// only). */
  list?(): Promise<string[]>
}

/** A binary cache at a `file://` or `http(s)://` URL. */
export function openBinaryCache(url: string): BinaryCache {
  const base = url.replace(/\/+$/, '')
  if (base.startsWith('file://')) return fileCache(base)
  if (base.startsWith('http://') || base.startsWith('https://')) return httpCache(base)
  throw new CacheRequestError(`${JSON.stringify(url)} is not a file://, http:// or https:// binary cache URL`)
}

function fileCache(url: string): BinaryCache {
  const root = fileURLToPath(url)
  const reachable = async () => {
    const st = await stat(root).catch(() => undefined)
    if (!st?.isDirectory()) throw new CacheUnreachableError(`binary cache ${url}: ${root} is not a directory`)
  }
  const within = (rel: string) => {
    const path = resolve(root, rel)
    if (!path.startsWith(root + sep))
      throw new CacheRequestError(`cache file ${JSON.stringify(rel)} is outside ${url}`)
    return path
  }
  return {
    url,
    async getNarinfo(hashPart) {
      await reachable()
      try {
        return await readFile(join(root, `${hashPart}.narinfo`), 'utf8')
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          throw new NarinfoNotFoundError(`binary cache ${url} has no narinfo for ${hashPart}`)
        }
        throw err
      }
    },
    async *readFile(rel, opts = {}) {
      const path = within(rel)
      try {
        for await (const chunk of createReadStream(path, { signal: opts.signal, highWaterMark: 1 << 20 })) {
          yield chunk as Uint8Array
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          throw new CacheRequestError(`binary cache ${url} has no file ${rel}`, { cause: err })
        }
        throw err
      }
    },
    async list() {
      await reachable()
      return (await readdir(root))
        .filter((f) => f.endsWith('.narinfo'))
        .map((f) => f.slice(0, -'.narinfo'.length))
    }
  }
}

function httpCache(url: string): BinaryCache {
  const request = async (target: string, signal?: AbortSignal): Promise<Response> => {
    try {
      return await fetch(target, { signal, redirect: 'follow' })
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err
      const cause = (err as { cause?: { code?: string; message?: string } }).cause
      throw new CacheUnreachableError(
        `binary cache ${url} is unreachable: ${cause?.code ?? cause?.message ?? (err as Error).message}`,
        { cause: err }
      )
    }
  }
  return {
    url,
    async getNarinfo(hashPart, opts = {}) {
      const res = await request(`${url}/${hashPart}.narinfo`, opts.signal)
      if (res.status === 404 || res.status === 403 || res.status === 410) {
        await res.body?.cancel()
        throw new NarinfoNotFoundError(
          `binary cache ${url} has no narinfo for ${hashPart} (HTTP ${res.status})`
        )
      }
      if (!res.ok) {
        await res.body?.cancel()
        throw new CacheRequestError(`binary cache ${url}: ${hashPart}.narinfo: HTTP ${res.status}`)
      }
      try {
        return await res.text()
      } catch (err) {
        throw new TruncatedDownloadError(`binary cache ${url}: ${hashPart}.narinfo was cut short`, {
          cause: err
        })
      }
    },
    async *readFile(rel, opts = {}) {
      const target = new URL(rel, `${url}/`).toString()
      const res = await request(target, opts.signal)
      if (!res.ok || res.body === null) {
        await res.body?.cancel()
        throw new CacheRequestError(`binary cache ${url}: ${rel}: HTTP ${res.status}`)
      }
      // fetch decodes a Content-Encoding itself; Content-Length then counts the encoded bytes, not these.
      const encoded = (res.headers.get('content-encoding') ?? 'identity') !== 'identity'
      const declared = encoded ? Number.NaN : Number(res.headers.get('content-length') ?? Number.NaN)
      let received = 0
      const reader = res.body.getReader()
      try {
        for (;;) {
          let r: ReadableStreamReadResult<Uint8Array>
          try {
            r = await reader.read()
          } catch (err) {
            if ((err as Error).name === 'AbortError') throw err
            throw new TruncatedDownloadError(`download of ${target} was cut after ${received} bytes`, {
              cause: err
            })
          }
          if (r.done) break
          received += r.value.length
          yield r.value
        }
      } finally {
        reader.releaseLock()
      }
      if (Number.isFinite(declared) && received !== declared) {
        throw new TruncatedDownloadError(`download of ${target} ended after ${received} of ${declared} bytes`)
      }
    }
  }
}

export interface BinaryCacheImportOptions {
  /** Also import every path the given ones refer to, transitively (from the same cache). */
  readonly closure?: boolean
  readonly signal?: AbortSignal
  readonly onEvent?: (e: ImportEvent) => void
}

/** The hash part of a store path, a base name, or a hash part. */
function hashPartOf(path: string): string {
  if (path.startsWith('/')) return parseStorePath(path).hashPart
  return path.length === 32 ? path : path.slice(0, 32)
}

/**
 * Import store paths (full paths, base names or hash parts) from a binary cache into `store`. With no paths and a
 * `file://` cache, imports everything the cache holds. Returns the narinfos imported or already present.
 */
export async function importFromBinaryCache(
  store: Store,
  cacheOrUrl: BinaryCache | string,
  paths: readonly string[],
  opts: BinaryCacheImportOptions = {}
): Promise<Narinfo[]> {
  const cache = typeof cacheOrUrl === 'string' ? openBinaryCache(cacheOrUrl) : cacheOrUrl
  const { signal } = opts
  let queue = paths.map(hashPartOf)
  if (queue.length === 0) {
    if (cache.list === undefined) {
      throw new CacheRequestError(
        `binary cache ${cache.url} cannot be listed: name the store paths to import`
      )
    }
    queue = await cache.list()
  }
  const seen = new Set(queue)
  const done: Narinfo[] = []
  while (queue.length > 0) {
    signal?.throwIfAborted()
    const hashPart = queue.shift()!
    const text = await cache.getNarinfo(hashPart, { signal })
    const info = parseNarinfo(text)
    if (parseStorePath(info.storePath).hashPart !== hashPart) {
      throw new CacheRequestError(
        `binary cache ${cache.url}: ${hashPart}.narinfo describes ${info.storePath}`
      )
    }
    await importOne(store, cache, info, text, opts)
    done.push(info)
    if (opts.closure) {
      for (const ref of info.references) {
        const h = ref.slice(0, 32)
        if (!seen.has(h)) {
          seen.add(h)
          queue.push(h)
        }
      }
    }
  }
  return done
}

async function importOne(
  store: Store,
  cache: BinaryCache,
  info: Narinfo,
  text: string,
  opts: BinaryCacheImportOptions
): Promise<void> {
  const { signal, onEvent } = opts
  const { storePath, narHash, narSize } = info
  const hashPart = parseStorePath(storePath).hashPart
  const stored = await store.getNarinfo(hashPart)
  if (stored?.text === text && (await store.hasNar(narHash))) {
    const m = await store.getManifest(narHash)
    onEvent?.({
      type: 'done',
      storePath,
      narHash,
      narSize,
      chunkCount: m?.manifest.chunks.length ?? 0,
      created: 0,
      skipped: true
    })
    return
  }
  onEvent?.({ type: 'start', storePath, narSize })
  const existing = await store.getManifest(narHash)
  if (existing !== undefined) {
    // The NAR is stored already (under another narinfo, or before this narinfo): just file the narinfo.
    const entry = await store.commitNar(existing.bytes, { narinfo: text, signal })
    onEvent?.({
      type: 'done',
      storePath,
      narHash,
      narSize,
      chunkCount: entry.chunkCount,
      created: 0,
      skipped: true
    })
    return
  }
  const file = countFile(cache.readFile(info.url, { signal }), info.fileSize, `${cache.url}/${info.url}`)
  const nar = decompress(file, info.compression ?? NARINFO_DEFAULT_COMPRESSION, { signal })
  log('importing %s from %s (%s)', storePath, cache.url, info.compression ?? NARINFO_DEFAULT_COMPRESSION)
  const r = await store.importNar(nar, {
    expect: { narHash, narSize },
    narinfo: text,
    signal,
    onProgress: ({ bytes }) => onEvent?.({ type: 'progress', storePath, bytes, total: narSize })
  })
  onEvent?.({
    type: 'done',
    storePath,
    narHash,
    narSize,
    chunkCount: r.chunkCount,
    created: r.created,
    skipped: false
  })
}

/** Pass a file through, failing if it ends before the FileSize its narinfo states (a longer one fails NarSize). */
async function* countFile(
  source: AsyncIterable<Uint8Array>,
  fileSize: number | undefined,
  what: string
): AsyncGenerator<Uint8Array> {
  let n = 0
  for await (const chunk of source) {
    n += chunk.length
    yield chunk
  }
  if (fileSize !== undefined && fileSize > 0 && n < fileSize) {
    throw new TruncatedDownloadError(`${what} ended after ${n} of its ${fileSize} bytes`)
  }
}
