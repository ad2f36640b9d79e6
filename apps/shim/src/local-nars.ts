/**
 * The shim's local NAR cache: complete, verified NARs as files `<data>/nars/<nix32 NarHash>.nar`, kept within a
 * disk quota by evicting the least recently used. Files only ever appear by rename from `<data>/tmp` after their
 * NarHash was checked, so a crash leaves either a whole verified NAR or nothing (tmp is emptied at start).
 *
 * Every file name is built from a validated nix-base32 digest: nothing outside the data directory is opened.
 */
import { type FileHandle, mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import createDebug from 'debug'
import { READ_CHUNK_BYTES } from './constants.js'
import { NarNotFoundError } from './errors.js'
import { narFileKey } from './narinfo.js'
import type { ByteRange } from './routes.js'

const log = createDebug('narthex:shim:local')
const FILE = /^([0-9a-df-np-sv-z]{52})\.nar$/

export interface LocalNarsInit {
  readonly dir: string
  readonly tmpDir: string
  readonly quota: number
}

/** An open NAR file, ready to stream: opening happens before any header is sent. */
export interface OpenNar {
  readonly size: number
  read(range: ByteRange): AsyncIterable<Uint8Array>
  close(): Promise<void>
}

export class LocalNars {
  readonly #dir: string
  readonly #tmpDir: string
  readonly #quota: number
  /** key (nix32) → size; Map order is least recently used first. */
  readonly #files = new Map<string, number>()
  #total = 0
  #tmpCounter = 0

  constructor(init: LocalNarsInit) {
    this.#dir = init.dir
    this.#tmpDir = init.tmpDir
    this.#quota = init.quota
  }

  async start(): Promise<void> {
    await rm(this.#tmpDir, { recursive: true, force: true })
    await mkdir(this.#tmpDir, { recursive: true })
    await mkdir(this.#dir, { recursive: true })
    const found: { key: string; size: number; atime: number }[] = []
    for (const name of await readdir(this.#dir)) {
      const m = FILE.exec(name)
      if (m === null) continue
      const s = await stat(join(this.#dir, name))
      if (s.isFile()) found.push({ key: m[1]!, size: s.size, atime: s.atimeMs })
    }
    found.sort((a, b) => a.atime - b.atime)
    for (const f of found) {
      this.#files.set(f.key, f.size)
      this.#total += f.size
    }
    log('%d NARs, %d bytes in %s', this.#files.size, this.#total, this.#dir)
  }

  get totalBytes(): number {
    return this.#total
  }

  has(narHash: string): boolean {
    return this.#files.has(narFileKey(narHash))
  }

  /** A fresh path in the tmp directory (same file system as the cache, so adopting is a rename). */
  tmpPath(): string {
    return join(this.#tmpDir, `${process.pid}-${++this.#tmpCounter}.nar`)
  }

  /** The path a NAR has (or would have) in the cache. */
  pathOf(narHash: string): string {
    const key = narFileKey(narHash)
    if (!/^[0-9a-z]{52}$/.test(key)) throw new NarNotFoundError('not a NarHash')
    return join(this.#dir, `${key}.nar`)
  }

  /** Move a verified NAR from tmp into the cache, then evict down to the quota. */
  async adopt(narHash: string, tmpFile: string, size: number): Promise<void> {
    const key = narFileKey(narHash)
    await rename(tmpFile, this.pathOf(narHash))
    if (!this.#files.has(key)) this.#total += size
    this.#files.delete(key)
    this.#files.set(key, size)
    await this.#evict(key)
  }

  /** Open a cached NAR for reading; NarNotFoundError if it is not (or no longer) there. */
  async open(narHash: string): Promise<OpenNar> {
    const key = narFileKey(narHash)
    const size = this.#files.get(key)
    if (size === undefined) throw new NarNotFoundError('NAR not in the local cache')
    let fh: FileHandle
    try {
      fh = await open(this.pathOf(narHash), 'r')
    } catch {
      this.#forget(key)
      throw new NarNotFoundError('NAR vanished from the local cache')
    }
    this.#files.delete(key)
    this.#files.set(key, size)
    return {
      size,
      read: (range) => readFile(fh, range),
      close: () => fh.close()
    }
  }

  #forget(key: string): void {
    const size = this.#files.get(key)
    if (size === undefined) return
    this.#files.delete(key)
    this.#total -= size
  }

  async #evict(keep: string): Promise<void> {
    for (const [key, size] of this.#files) {
      if (this.#total <= this.#quota) break
      if (key === keep && size <= this.#quota) continue
      this.#forget(key)
      await unlink(join(this.#dir, `${key}.nar`)).catch(() => {})
      log('evicted %s (%d bytes) for the quota', key, size)
    }
  }
}

/** Positional reads of `[start, end)` from an open file, READ_CHUNK_BYTES at a time. */
export async function* readFile(fh: FileHandle, range: ByteRange): AsyncGenerator<Uint8Array> {
  let pos = range.start
  while (pos < range.end) {
    const n = Math.min(READ_CHUNK_BYTES, range.end - pos)
    const buf = Buffer.allocUnsafe(n)
    const { bytesRead } = await fh.read(buf, 0, n, pos)
    if (bytesRead === 0) throw new NarNotFoundError('NAR file is shorter than recorded')
    pos += bytesRead
    yield bytesRead === n ? buf : buf.subarray(0, bytesRead)
  }
}
