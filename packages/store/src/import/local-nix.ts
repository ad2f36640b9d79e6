/**
 * Import from the local Nix store: path info (NarHash, NarSize, References, Deriver, signatures, CA) from the Nix
 * database through `nix path-info --json`, the NAR from `nix-store --dump`. The NarHash Nix recorded is what the
 * dumped bytes must hash to, so a path modified on disk since it was registered fails before it is committed.
 * The narinfo stored with it is the one Nix would serve for it uncompressed (`URL: nar/<narhash>.nar`,
 * `Compression: none`), with the path's signatures.
 */
import { formatNarinfo, formatSha256, parseSha256, parseStorePath } from '@narthex/nix'
import { NixCommandError } from '../errors.js'
import type { Store } from '../index.js'
import type { ImportEvent } from './events.js'
import { spawnStream } from './process.js'

export interface LocalImportOptions {
  /** Also import every path the given ones refer to, transitively (`nix path-info --recursive`). */
  readonly closure?: boolean
  readonly signal?: AbortSignal
  readonly onEvent?: (e: ImportEvent) => void
  /** Environment for the nix commands (default process.env). */
  readonly env?: NodeJS.ProcessEnv
}

/** One entry of `nix path-info --json` (Nix 2.8: SRI narHash, full paths in references and deriver). */
interface PathInfo {
  readonly path: string
  readonly narHash: string
  readonly narSize: number
  readonly references?: readonly string[]
  readonly deriver?: string
  readonly signatures?: readonly string[]
  readonly ca?: string
  readonly valid?: boolean
}

function nixFailure(what: string) {
  return ({ code, stderr, error }: { code?: number | null; stderr: string; error?: Error }) =>
    new NixCommandError(
      error !== undefined
        ? `${what}: cannot run nix (${error.message}); is Nix installed?`
        : `${what} failed (exit ${code}): ${stderr.split('\n').slice(-3).join(' ') || 'no message'}`
    )
}

async function collectText(source: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Uint8Array[] = []
  for await (const p of source) parts.push(p)
  return Buffer.concat(parts).toString('utf8')
}

/** Path info of `paths` (and their closure) from the Nix database. */
export async function queryPathInfo(
  paths: readonly string[],
  opts: { closure?: boolean; signal?: AbortSignal; env?: NodeJS.ProcessEnv } = {}
): Promise<PathInfo[]> {
  const args = ['path-info', '--json', ...(opts.closure ? ['--recursive'] : []), '--', ...paths]
  const text = await collectText(
    spawnStream('nix', args, {
      signal: opts.signal,
      onFailure: nixFailure(`nix path-info ${paths.join(' ')}`)
    })
  )
  const infos = JSON.parse(text) as PathInfo[]
  for (const info of infos) {
    if (info.valid === false) throw new NixCommandError(`${info.path} is not a valid path in the Nix store`)
  }
  return infos
}

const baseName = (p: string) => p.slice(p.lastIndexOf('/') + 1)

/** Import local store paths (optionally with their closures) into `store`. */
export async function importStorePaths(
  store: Store,
  paths: readonly string[],
  opts: LocalImportOptions = {}
): Promise<string[]> {
  const { signal, onEvent } = opts
  for (const p of paths) parseStorePath(p)
  const infos = await queryPathInfo(paths, opts)
  const imported: string[] = []
  for (const info of infos) {
    signal?.throwIfAborted()
    const narHash = formatSha256(parseSha256(info.narHash))
    const text = formatNarinfo({
      storePath: info.path,
      url: `nar/${narHash.slice('sha256:'.length)}.nar`,
      compression: 'none',
      narHash,
      narSize: info.narSize,
      references: (info.references ?? []).map(baseName),
      deriver: info.deriver === undefined ? undefined : baseName(info.deriver),
      sigs: info.signatures ?? [],
      ca: info.ca
    })
    const hashPart = parseStorePath(info.path).hashPart
    const stored = await store.getNarinfo(hashPart)
    if (stored?.text === text && (await store.hasNar(narHash))) {
      const m = await store.getManifest(narHash)
      onEvent?.({
        type: 'done',
        storePath: info.path,
        narHash,
        narSize: info.narSize,
        chunkCount: m?.manifest.chunks.length ?? 0,
        created: 0,
        skipped: true
      })
      imported.push(info.path)
      continue
    }
    onEvent?.({ type: 'start', storePath: info.path, narSize: info.narSize })
    const nar = spawnStream('nix-store', ['--dump', info.path], {
      signal,
      onFailure: nixFailure(`nix-store --dump ${info.path}`)
    })
    const r = await store.importNar(nar, {
      expect: { narHash, narSize: info.narSize },
      narinfo: text,
      signal,
      onProgress: ({ bytes }) =>
        onEvent?.({ type: 'progress', storePath: info.path, bytes, total: info.narSize })
    })
    onEvent?.({
      type: 'done',
      storePath: info.path,
      narHash,
      narSize: info.narSize,
      chunkCount: r.chunkCount,
      created: r.created,
      skipped: false
    })
    imported.push(info.path)
  }
  return imported
}
