/**
 * What `narthex seed add` hands a running seeder: store paths of the local Nix store and binary cache URLs,
 * imported into the seeder's store (through @narthex/store's importers, which check every NAR against its NarHash
 * before committing it).
 */
import { type ImportEvent, importFromBinaryCache, importStorePaths, type Store } from '@narthex/store'
import { InvalidImportSourceError } from './errors.js'

export interface ImportRequest {
  /** `/nix/store/<hash>-<name>`, `file:///DIR`, `file:///DIR/<hash>.narinfo`, `http(s)://HOST/PATH[/<hash>.narinfo]`. */
  readonly sources: readonly string[]
  /** Also import what the paths refer to, transitively. */
  readonly closure?: boolean
}

const CACHE_URL = /^(file|https?):\/\//

/** Check the shape of every source before anything is imported (InvalidImportSourceError). */
export function checkImportRequest(value: unknown): ImportRequest {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InvalidImportSourceError('the import request must be a JSON object')
  const { sources, closure, ...rest } = value as Record<string, unknown>
  const unknown = Object.keys(rest)
  if (unknown.length > 0) throw new InvalidImportSourceError(`unknown keys: ${unknown.join(', ')}`)
  if (!Array.isArray(sources) || sources.length === 0 || !sources.every((s) => typeof s === 'string'))
    throw new InvalidImportSourceError('sources must be a non-empty array of strings')
  if (closure !== undefined && typeof closure !== 'boolean')
    throw new InvalidImportSourceError('closure must be a boolean')
  for (const s of sources as string[]) {
    if (!s.startsWith('/') && !CACHE_URL.test(s))
      throw new InvalidImportSourceError(`${JSON.stringify(s)} is neither a store path nor a cache URL`)
  }
  return { sources: sources as string[], ...(closure !== undefined ? { closure } : {}) }
}

/** Import every source into `store`, in order; events for each path. */
export async function importSources(
  store: Store,
  request: ImportRequest,
  options: { signal?: AbortSignal; onEvent?: (e: ImportEvent) => void } = {}
): Promise<void> {
  const opts = {
    closure: request.closure === true,
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
    ...(options.onEvent !== undefined ? { onEvent: options.onEvent } : {})
  }
  const local = request.sources.filter((s) => s.startsWith('/'))
  if (local.length > 0) await importStorePaths(store, local, opts)
  for (const url of request.sources.filter((s) => CACHE_URL.test(s))) {
    const m = /^(.*)\/([^/]+)\.narinfo$/.exec(url)
    if (m) await importFromBinaryCache(store, m[1]!, [m[2]!], opts)
    else await importFromBinaryCache(store, url, [], opts)
  }
}
