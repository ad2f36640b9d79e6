/**
 * The shim's local NAR cache: the chunk store (@narthex/store) under `DATA/store`, within the disk quota (the
 * store evicts least recently used unpinned NARs after each commit). What lands here is what a seeder serves, so a
 * NAR the shim fetched is ready to be re-seeded.
 *
 * Which NARs are readable is mirrored in memory (listed at start, kept current by the store's `nar:added` /
 * `nar:removed` events), so "is it cached?" costs no I/O on the narinfo hot path.
 *
 * Fetches in progress spool to `DATA/tmp` (emptied at start); a verified spool file is imported into the store
 * and then removed. File names there come from a counter, never from a request.
 */
import { createReadStream } from 'node:fs'
import { mkdir, rm, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { formatSha256, parseSha256 } from '@narthex/nix'
import type { NarEntry, NarRemovedEvent, Store } from '@narthex/store'
import createDebug from 'debug'
import { READ_CHUNK_BYTES } from './constants.js'
import { NarNotFoundError } from './errors.js'
import type { ByteRange } from './routes.js'

const log = createDebug('narthex:shim:local')

export interface LocalNarsInit {
  readonly store: Store
  readonly tmpDir: string
}

/** A NAR range ready to stream: its first bytes were read (and verified) before this resolves. */
export interface OpenNar {
  readonly size: number
  read(range: ByteRange): AsyncIterable<Uint8Array>
  close(): Promise<void>
}

function key(narHash: string): string {
  return formatSha256(parseSha256(narHash))
}

export class LocalNars {
  readonly #store: Store
  readonly #tmpDir: string
  /** NarHash (`sha256:<nix32>`) → NarSize of every readable NAR. */
  readonly #sizes = new Map<string, number>()
  #total = 0
  #tmpCounter = 0
  readonly #onAdded = (e: CustomEvent<NarEntry>) => this.#add(e.detail.narHash, e.detail.narSize)
  readonly #onRemoved = (e: CustomEvent<NarRemovedEvent>) => this.#remove(e.detail.narHash)

  constructor(init: LocalNarsInit) {
    this.#store = init.store
    this.#tmpDir = init.tmpDir
  }

  async start(): Promise<void> {
    await rm(this.#tmpDir, { recursive: true, force: true })
    await mkdir(this.#tmpDir, { recursive: true })
    this.#store.addEventListener('nar:added', this.#onAdded)
    this.#store.addEventListener('nar:removed', this.#onRemoved)
    for await (const e of this.#store.listNars()) if (!e.damaged) this.#add(e.narHash, e.narSize)
    log('%d NARs, %d bytes in the store', this.#sizes.size, this.#total)
  }

  stop(): void {
    this.#store.removeEventListener('nar:added', this.#onAdded)
    this.#store.removeEventListener('nar:removed', this.#onRemoved)
  }

  /** Sum of the NarSizes of the cached NARs (the store's own figure counts shared chunks once). */
  get totalBytes(): number {
    return this.#total
  }

  get count(): number {
    return this.#sizes.size
  }

  has(narHash: string): boolean {
    return this.#sizes.has(key(narHash))
  }

  /** A fresh path in the tmp directory for a fetch's spool file. */
  tmpPath(): string {
    return join(this.#tmpDir, `${process.pid}-${++this.#tmpCounter}.nar`)
  }

  /**
   * Import a verified spool (a file, or the NAR's bytes in memory) into the store (with its narinfo, so the store
   * serves it too), then remove the file. The store checks NarHash and NarSize again while chunking.
   */
  async adopt(
    narHash: string,
    spool: string | Uint8Array,
    size: number,
    narinfo?: string,
    signal?: AbortSignal
  ): Promise<void> {
    try {
      if (!this.has(narHash)) {
        // A file is opened only when the store starts reading (an import cancelled first never touches it).
        const source = (async function* () {
          if (typeof spool === 'string') yield* createReadStream(spool, { highWaterMark: READ_CHUNK_BYTES })
          else yield spool
        })()
        await this.#store.importNar(source, {
          expect: { narHash, narSize: size },
          ...(narinfo === undefined ? {} : { narinfo }),
          ...(signal === undefined ? {} : { signal })
        })
        this.#add(narHash, size)
      }
    } finally {
      if (typeof spool === 'string') await unlink(spool).catch(() => {})
    }
  }

  /**
   * Open a cached NAR range; the first chunk is read before this resolves (fail before headers). Each yielded view
   * is valid only until the next one is asked for.
   */
  async open(narHash: string, range: ByteRange, signal?: AbortSignal): Promise<AsyncIterable<Uint8Array>> {
    const size = this.#sizes.get(key(narHash))
    if (size === undefined) throw new NarNotFoundError('NAR not in the local cache')
    // No re-hash of each chunk (verify: false): see "What the shim guarantees" in docs/shim.md. Every chunk was
    // checked when it entered this store, and Nix checks the whole NAR against the signed NarHash, so a chunk that
    // rotted since fails that substitution loudly (Nix then tries its next substituter); it is never installed.
    // Read on the store's reader thread into reused buffers (reuseBuffers): each view is valid until the next is
    // asked for, which the server does only once the socket has taken the bytes.
    const gen = this.#store.readNar(narHash, {
      start: range.start,
      end: range.end,
      verify: false,
      reuseBuffers: true,
      ...(signal === undefined ? {} : { signal })
    })
    let first: IteratorResult<Uint8Array>
    try {
      first = await gen.next()
    } catch (err) {
      log('cached NAR %s unreadable: %s', narHash, (err as Error).message)
      this.#remove(narHash)
      throw new NarNotFoundError('NAR no longer readable from the local cache')
    }
    return (async function* () {
      if (!first.done) yield first.value
      yield* gen
    })()
  }

  #add(narHash: string, size: number): void {
    const k = key(narHash)
    if (!this.#sizes.has(k)) this.#total += size
    this.#sizes.set(k, size)
  }

  #remove(narHash: string): void {
    const k = key(narHash)
    const size = this.#sizes.get(k)
    if (size === undefined) return
    this.#sizes.delete(k)
    this.#total -= size
  }
}
