/**
 * @packageDocumentation
 *
 * The local NAR store: every NAR kept as content-addressed chunks (one file per chunk, named by its CID), its
 * manifest (one file, named by its root) and a `level` index. Identical chunks are stored once, whichever NARs
 * share them.
 *
 * On disk, under `dir`:
 * ```
 * chunks/<2 chars>/<chunk CID>         chunk bytes (sharded by the two characters before the CID's last)
 * manifests/<2 chars>/<manifest root>  DAG-CBOR manifests
 * index/                               level: NarHash → NAR record, root → NarHash, store path hash → narinfo,
 *                                      chunk → reference count and users, last access, pins, damage
 * tmp/                                 temp files (emptied at start)
 * quarantine/                          chunks that failed their hash check
 * ```
 *
 * Durability and visibility. A file is written to `tmp/`, fsynced, renamed into place, and its directory fsynced.
 * A NAR is published in the order chunks → manifest → index (one synced level batch), so the index never names a
 * NAR whose bytes are not durable; deletion runs in the reverse order. A process killed at any point leaves at
 * worst unreferenced files, which `gc` removes. Only one process may open a data directory
 * ({@link StoreLockedError}).
 *
 * Who uses what:
 * - **seeder**: `getManifest` + `getChunks` to serve by id (every chunk re-hashed on read; a corrupt one is
 *   quarantined, its NARs marked damaged, and `chunk:corrupt` / `nar:removed` fire so it can withdraw them),
 *   `listNars` and `nar:added` to announce.
 * - **shim**: `readNar` to stream a NAR or a byte range to Nix; `putChunk` for each verified chunk fetched from a
 *   peer, then `commitNar(manifestBytes, { narinfo })` once all are present (an interrupted download resumes:
 *   chunks already put stay, `hasChunk` says which); `pin` what must not be evicted.
 * - **builder / import**: `importNar(source, { expect, narinfo })` hashes, chunks, writes and commits in one pass,
 *   committing nothing if the bytes do not match what the narinfo claims.
 * - **operator**: `gc` (quota eviction of least recently used unpinned NARs, removal of leftovers), `verify`.
 *
 * @example
 * ```ts
 * import { createStore } from '@narthex/store'
 * const store = createStore({ dir: '/var/lib/narthex' })
 * await store.start()
 * const { narHash } = await store.importNar(createReadStream('x.nar'), { narinfo })
 * for await (const bytes of store.readNar(narHash, { start: 0, end: 1024 })) process.stdout.write(bytes)
 * store.addEventListener('chunk:corrupt', (e) => withdraw(e.detail.narHashes))
 * await store.stop()
 * ```
 */
import type { ChunkerParams, CID, Manifest } from '@narthex/content'
import { LevelStore } from './store.js'

export * from './constants.js'
export * from './errors.js'
export {
  type BinaryCache,
  type BinaryCacheImportOptions,
  importFromBinaryCache,
  openBinaryCache
} from './import/binary-cache.js'
export { type DecompressOptions, decompress, SUPPORTED_COMPRESSIONS } from './import/decompress.js'
export type { ImportEvent, ImportProgress } from './import/events.js'
export { importStorePaths, type LocalImportOptions, queryPathInfo } from './import/local-nix.js'

export interface StoreInit {
  /** The data directory; created if absent. */
  readonly dir: string
  /** Quota in bytes of chunks + manifests: after each commit, least recently used unpinned NARs are evicted. */
  readonly maxSize?: number
  /**
   * fsync files and directories (default true). Turning it off keeps crash safety against a killed process (the
   * page cache survives) but not against power loss; for tests and benchmarks only.
   */
  readonly fsync?: boolean
  /** Chunk writes in flight per import (default WRITE_CONCURRENCY). */
  readonly writeConcurrency?: number
  /** Chunker for new imports (default CHUNKER from @narthex/content). */
  readonly chunker?: ChunkerParams
}

/** A stored NAR as listed. */
export interface NarEntry {
  readonly narHash: string
  readonly narSize: number
  readonly root: CID
  readonly chunker: string
  readonly chunkCount: number
  /** Milliseconds since the epoch. */
  readonly addedAt: number
  /** Last read (readNar/getManifest), to a resolution of ATIME_RESOLUTION_MS. */
  readonly lastAccess: number
  readonly pinned: boolean
  /** A chunk or the manifest was found corrupt or missing: not served until re-committed. */
  readonly damaged: boolean
  /** Store path hash parts whose narinfo names this NAR. */
  readonly storePathHashes: readonly string[]
}

/** A verified manifest. Shared with the store's cache of manifests: read it, never modify it. */
export interface StoreManifest {
  readonly manifest: Manifest
  readonly bytes: Uint8Array
  readonly root: CID
}

/** A narinfo as it was given to the store: the text (signatures included) and what it was filed under. */
export interface StoredNarinfo {
  readonly text: string
  readonly narHash: string
  readonly storePath: string
}

export interface ImportOptions {
  /** What the NAR must be; checked before anything is committed (NarHashMismatchError, NarSizeMismatchError). */
  readonly expect?: { readonly narHash?: string; readonly narSize?: number }
  /** narinfo text to store with the NAR (its NarHash and NarSize must match the NAR). */
  readonly narinfo?: string
  readonly pin?: boolean
  readonly signal?: AbortSignal
  readonly onProgress?: (p: { bytes: number; total?: number }) => void
}

export interface ImportResult extends NarEntry {
  /** Chunks this import wrote (the rest were already stored). */
  readonly created: number
}

/** A byte range of a NAR: `start` inclusive, `end` exclusive (as `Uint8Array.subarray`). */
export interface RangeOptions {
  readonly start?: number
  readonly end?: number
  readonly signal?: AbortSignal
  /**
   * Re-hash every chunk read against its CID (default true): what a seeder serving strangers must do, since a
   * chunk may have rotted on disk since it was stored. False skips the SHA-256 pass (only a chunk file shorter
   * than its manifest entry is then detected): for a reader whose own client checks the whole NAR anyway, such as
   * the shim serving Nix, which refuses a NAR that does not hash to the NarHash it was promised.
   */
  readonly verify?: boolean
  /**
   * Read on the store's reader thread into a few buffers that are reused (default false; only with `verify`
   * false): no allocation per MiB and no thread-pool round trip per chunk file, so the caller's thread spends
   * almost nothing on reading. Each yielded view is then valid only until the next value is asked for: the
   * consumer must be done with it (a socket write's callback has run) before it calls next().
   */
  readonly reuseBuffers?: boolean
}

export interface GcOptions {
  /** Evict least recently used unpinned NARs until chunks + manifests take at most this many bytes. */
  readonly maxSize?: number
  /** NARs never evicted by this run. */
  readonly keep?: readonly string[]
  /** Unreferenced chunk and manifest files younger than this are kept (default LOOSE_CHUNK_GRACE_MS). */
  readonly looseGraceMs?: number
  readonly signal?: AbortSignal
}

export interface GcReport {
  readonly evicted: readonly string[]
  readonly chunksRemoved: number
  readonly bytesFreed: number
}

export interface VerifyOptions {
  readonly signal?: AbortSignal
  readonly onProgress?: (p: { chunksChecked: number; bytesChecked: number }) => void
}

export interface VerifyReport {
  readonly chunksChecked: number
  readonly bytesChecked: number
  /** Chunks whose bytes no longer match their id; moved to quarantine/. */
  readonly corrupt: readonly string[]
  /** Chunks an indexed NAR needs that are not on disk. */
  readonly missing: readonly string[]
  /** NARs marked damaged (now or earlier). */
  readonly damagedNars: readonly string[]
}

export interface StoreStats {
  readonly nars: number
  /** Bytes of referenced chunks (each counted once) and manifests. */
  readonly storedBytes: number
}

export interface ChunkCorruptEvent {
  readonly cid: string
  readonly reason: 'corrupt' | 'missing'
  /** NARs newly marked damaged because of it. */
  readonly narHashes: readonly string[]
}

export interface NarRemovedEvent {
  readonly narHash: string
  readonly reason: 'removed' | 'evicted' | 'damaged'
}

export interface StoreEvents {
  /** A NAR became readable (committed, or repaired after damage). */
  'nar:added': CustomEvent<NarEntry>
  /** A NAR stopped being readable: removed, evicted, or damaged. */
  'nar:removed': CustomEvent<NarRemovedEvent>
  'chunk:corrupt': CustomEvent<ChunkCorruptEvent>
}

/** A key naming a NAR: its NarHash in any sha256 form, its NAR CID, or its manifest root (CID or text). */
export type NarKey = string | CID

export interface Store {
  readonly dir: string
  /** Open the index (StoreLockedError if another process has it) and remove leftover temp files. */
  start(): Promise<void>
  stop(): Promise<void>

  hasNar(key: NarKey): Promise<boolean>
  /** The manifest of a readable NAR (verified against its root), or undefined. */
  getManifest(key: NarKey): Promise<StoreManifest | undefined>
  /** Stream a NAR or a byte range of it, each chunk verified before it is yielded. */
  readNar(key: NarKey, opts?: RangeOptions): AsyncGenerator<Uint8Array>
  listNars(opts?: { signal?: AbortSignal }): AsyncGenerator<NarEntry>
  getNarinfo(storePathHash: string): Promise<StoredNarinfo | undefined>

  hasChunk(cid: CID): Promise<boolean>
  /** A chunk's bytes, re-hashed first (ChunkCorruptError after quarantining it), or undefined if absent. */
  getChunk(cid: CID, opts?: { signal?: AbortSignal }): Promise<Uint8Array | undefined>
  /**
   * Several chunks at once, for serving: read and re-hashed on a reader thread into one buffer. Each is its bytes,
   * or undefined when it is absent or was corrupt (then quarantined, as getChunk does). With `maxBytes`, only the
   * chunks from the start of `cids` that fit in it are read (at least one): the result is then a prefix.
   */
  getChunks(
    cids: readonly CID[],
    opts?: { signal?: AbortSignal; maxBytes?: number }
  ): Promise<Array<Uint8Array | undefined>>
  /** Store a chunk after checking it hashes to `cid`; true if it was not stored before. */
  putChunk(cid: CID, bytes: Uint8Array, opts?: { signal?: AbortSignal }): Promise<boolean>

  /** Publish a NAR whose chunks are all stored (MissingChunksError otherwise). Idempotent; repairs damage. */
  commitNar(
    manifestBytes: Uint8Array,
    opts?: { narinfo?: string; pin?: boolean; signal?: AbortSignal }
  ): Promise<NarEntry>
  /** Hash, chunk, write and commit a NAR in one pass; on any error nothing is published and new chunks are removed. */
  importNar(source: AsyncIterable<Uint8Array>, opts?: ImportOptions): Promise<ImportResult>
  removeNar(key: NarKey): Promise<boolean>

  pin(key: NarKey): Promise<void>
  unpin(key: NarKey): Promise<void>
  gc(opts?: GcOptions): Promise<GcReport>
  /** Re-hash every chunk, check every NAR's manifest and chunks; quarantine and report what is wrong. */
  verify(opts?: VerifyOptions): Promise<VerifyReport>
  stats(): Promise<StoreStats>

  addEventListener<K extends keyof StoreEvents>(
    type: K,
    listener: (event: StoreEvents[K]) => void,
    options?: AddEventListenerOptions | boolean
  ): void
  removeEventListener<K extends keyof StoreEvents>(
    type: K,
    listener: (event: StoreEvents[K]) => void,
    options?: EventListenerOptions | boolean
  ): void
}

/** Create a store over `init.dir`. Call start() before use and stop() when done. */
export function createStore(init: StoreInit): Store {
  return new LevelStore(init) as unknown as Store
}
