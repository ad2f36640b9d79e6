/**
 * NARs and the file system: a {@link NarSource} over a real tree (what `nix-store --dump` reads) and restoring a
 * NAR to a directory (what `nix-store --restore` does). The only file-system access in this package.
 *
 * Names are handled as bytes (`Buffer` paths), so trees with names that are not UTF-8 serialise exactly.
 */
import * as fs from 'node:fs'
import { constants, type Stats } from 'node:fs'
import { resolve } from 'node:path'
import { promisify } from 'node:util'
import {
  NAR_CHUNK_SIZE,
  NAR_READ_AHEAD_BYTES,
  NAR_READ_AHEAD_ENTRIES,
  NAR_READ_AHEAD_FILE_MAX
} from './constants.js'
import { RestorePathTooLongError, RestoreTargetExistsError, UnsupportedFileTypeError } from './errors.js'
import { type DecodeNarOptions, decodeNar } from './nar-decode.js'
import { type EncodeNarOptions, encodeNar, type NarSource, type NarSourceFile } from './nar-encode.js'
import { compareNames, formatNarPath, type NarNodeStat } from './nar-format.js'

// The callback API, promisified: measurably cheaper per call than fs/promises' FileHandle objects.
const lstat = promisify(fs.lstat)
const readdir = promisify(fs.readdir)
const readlink = promisify(fs.readlink)
const open = promisify(fs.open)
const close = promisify(fs.close)
const read = promisify(fs.read)
const writev = promisify(fs.writev)
const mkdir = promisify(fs.mkdir)
const symlink = promisify(fs.symlink)
const fstat = promisify(fs.fstat)
const fchmod = promisify(fs.fchmod)

const SLASH = Buffer.from('/')

/**
 * Joins paths of names onto a root, keeping the joins of the last path's prefixes. A NAR is written and restored
 * depth first, so consecutive paths share all but their last names and each join copies only what is new: on a
 * tree of a few thousand files, concatenating whole paths every time was ~6 % of the samples of `narthex nar dump` (perf). Names are
 * matched by identity (the writer and reader pass the same objects for the same directory); a path of other
 * objects with equal bytes is joined afresh, never confused.
 */
class PathJoiner {
  readonly #names: Uint8Array[] = []
  /** `#joined[i]`: the root and the first `i` names of `#names`. */
  readonly #joined: Buffer[]

  constructor(root: Buffer) {
    this.#joined = [root]
  }

  /** The root joined with the first `length` names of `path` (all of them by default), with `/` between. */
  join(path: readonly Uint8Array[], length = path.length): Buffer {
    const names = this.#names
    let k = 0
    while (k < length && k < names.length && names[k] === path[k]) k++
    if (k === length) return this.#joined[length]!
    names.length = k
    this.#joined.length = k + 1
    for (; k < length; k++) {
      const parent = this.#joined[k]!
      const name = path[k]!
      const joined = Buffer.allocUnsafe(parent.length + 1 + name.length)
      joined.set(parent, 0)
      joined[parent.length] = 0x2f // '/'
      joined.set(name, parent.length + 1)
      names.push(name)
      this.#joined.push(joined)
    }
    return this.#joined[length]!
  }
}

function statOf(st: Stats, where: Buffer): NarNodeStat {
  if (st.isFile()) return { type: 'regular', size: st.size, executable: (st.mode & 0o100) !== 0 }
  if (st.isDirectory()) return { type: 'directory' }
  if (st.isSymbolicLink()) return { type: 'symlink' }
  throw new UnsupportedFileTypeError(`${where.toString()} is not a regular file, directory or symlink`)
}

export interface FsNarSourceOptions {
  /**
   * Use blocking system calls instead of libuv's thread pool. Several times faster on trees of many small files
   * (each asynchronous call costs a thread hand-off of tens of microseconds, more than the call itself), but it
   * stalls the event loop for the length of each call (one read of at most a chunk). For programs that do
   * nothing else meanwhile, like `narthex nar dump`; servers keep the default, false.
   */
  readonly blocking?: boolean
}

/**
 * A {@link NarSource} over the tree at `root` (a file, directory or symlink), read without following symlinks.
 *
 * @example
 * ```ts
 * const nar = encodeNar(createFsNarSource('./result/'))
 * ```
 */
export function createFsNarSource(root: string | Uint8Array, opts: FsNarSourceOptions = {}): NarSource {
  const base = typeof root === 'string' ? Buffer.from(resolve(root)) : Buffer.from(root)
  return opts.blocking === true ? blockingSource(base) : readAheadSource(base)
}

function openForReading(fd: number): NarSourceFile {
  return {
    read: async (into, offset, length) => (await read(fd, into, offset, length, null)).bytesRead,
    close: () => close(fd)
  }
}

function memoryFile(bytes: Buffer): NarSourceFile {
  let at = 0
  return {
    read(into, offset, length) {
      const n = Math.min(length, bytes.length - at)
      into.set(bytes.subarray(at, at + n), offset)
      at += n
      return n
    },
    close() {}
  }
}

/** Open (never following a symlink), read up to `size` bytes and close: a small file in three thread-pool hops. */
async function readSmallFile(path: Buffer, size: number): Promise<Buffer> {
  const fd = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW)
  try {
    const buf = Buffer.allocUnsafe(size)
    let got = 0
    for (;;) {
      const { bytesRead } = await read(fd, buf, got, size - got, null)
      if (bytesRead === 0) break
      got += bytesRead
      if (got === size) break
    }
    return got === size ? buf : buf.subarray(0, got)
  } finally {
    await close(fd)
  }
}

const latin1 = (bytes: Uint8Array) =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1')

/**
 * The non-blocking source, with read-ahead. Each call through libuv's thread pool costs a hand-off of tens of
 * microseconds, several per file, so one call at a time leaves the pool idle most of the time. When the writer
 * reaches an entry of a directory, this source has already started `lstat` on the next
 * {@link NAR_READ_AHEAD_ENTRIES} entries, and for the regular files among them of at most
 * {@link NAR_READ_AHEAD_FILE_MAX} bytes also open/read/close, while at most {@link NAR_READ_AHEAD_BYTES} of such
 * contents wait in memory. The answers are the same; only their timing changes.
 */
function readAheadSource(base: Buffer): NarSource {
  const paths = new PathJoiner(base)
  interface Ahead {
    readonly stat: Promise<Stats>
    /** Contents read ahead, for small regular files within the byte budget. */
    data?: Promise<Buffer>
  }
  interface Listing {
    readonly names: Uint8Array[]
    readonly index: Map<string, number>
    readonly ahead: Map<number, Ahead>
    started: number
  }
  const listings = new Map<string, Listing>() // by the directory's joined path (latin1)
  const contents = new Map<string, { data: Promise<Buffer>; size: number }>() // by the file's joined path
  let budget = NAR_READ_AHEAD_BYTES

  const start = (dir: Buffer, listing: Listing, upTo: number) => {
    for (; listing.started < Math.min(upTo, listing.names.length); listing.started++) {
      const child = Buffer.concat([dir, SLASH, listing.names[listing.started]!])
      const ahead: Ahead = { stat: lstat(child) }
      ahead.stat.then(
        (st) => {
          if (!st.isFile() || st.size === 0 || st.size > NAR_READ_AHEAD_FILE_MAX || st.size > budget) return
          budget -= st.size
          ahead.data = readSmallFile(child, st.size)
          ahead.data.catch(() => {}) // reported when (and if) the writer opens the file
          contents.set(latin1(child), { data: ahead.data, size: st.size })
        },
        () => {} // reported when the writer asks for this entry
      )
      listing.ahead.set(listing.started, ahead)
    }
  }

  return {
    async lstat(path) {
      const p = paths.join(path)
      if (path.length > 0) {
        const dir = paths.join(path, path.length - 1)
        const listing = listings.get(latin1(dir))
        const i = listing?.index.get(latin1(path[path.length - 1]!))
        if (listing !== undefined && i !== undefined) {
          start(dir, listing, i + 1 + NAR_READ_AHEAD_ENTRIES)
          const ahead = listing.ahead.get(i)!
          listing.ahead.delete(i)
          if (i === listing.names.length - 1) listings.delete(latin1(dir))
          return statOf(await ahead.stat, p)
        }
      }
      return statOf(await lstat(p), p)
    },
    async readDirectory(path) {
      const dir = paths.join(path)
      const names = (await readdir(dir, { encoding: 'buffer' })).sort(compareNames)
      const index = new Map(names.map((n, i) => [latin1(n), i]))
      const listing: Listing = { names, index, ahead: new Map(), started: 0 }
      if (names.length > 0) listings.set(latin1(dir), listing)
      start(dir, listing, NAR_READ_AHEAD_ENTRIES)
      return names.slice()
    },
    async readLink(path) {
      return readlink(paths.join(path), { encoding: 'buffer' })
    },
    async openFile(path): Promise<NarSourceFile> {
      const p = paths.join(path)
      const early = contents.get(latin1(p))
      if (early !== undefined) {
        contents.delete(latin1(p))
        try {
          return memoryFile(await early.data)
        } finally {
          budget += early.size
        }
      }
      // O_NOFOLLOW: a file swapped for a symlink after lstat is an error, never followed.
      return openForReading(await open(p, constants.O_RDONLY | constants.O_NOFOLLOW))
    }
  }
}

function blockingSource(base: Buffer): NarSource {
  const paths = new PathJoiner(base)
  return {
    lstat(path) {
      const p = paths.join(path)
      return statOf(fs.lstatSync(p), p)
    },
    readDirectory(path) {
      return fs.readdirSync(paths.join(path), { encoding: 'buffer' })
    },
    readLink(path) {
      return fs.readlinkSync(paths.join(path), { encoding: 'buffer' })
    },
    openFile(path): NarSourceFile {
      const fd = fs.openSync(paths.join(path), constants.O_RDONLY | constants.O_NOFOLLOW)
      return {
        read: (into, offset, length) => fs.readSync(fd, into, offset, length, null),
        close: () => fs.closeSync(fd)
      }
    }
  }
}

export interface DumpPathOptions extends EncodeNarOptions, FsNarSourceOptions {}

/**
 * Serialise the file, directory or symlink at `path` as a NAR: the same bytes as `nix-store --dump path`.
 *
 * @example
 * ```ts
 * await pipeline(dumpPath('/nix/store/...-hello'), createWriteStream('hello.nar'))
 * ```
 */
export function dumpPath(path: string | Uint8Array, opts: DumpPathOptions = {}): AsyncGenerator<Uint8Array> {
  return encodeNar(createFsNarSource(path, opts), opts)
}

export interface RestoreNarOptions extends DecodeNarOptions {}

/**
 * Restore a NAR to `target`, which must not exist (its parent must): the NAR's root becomes `target`. Like
 * `nix-store --restore`: files are created with O_EXCL (and O_NOFOLLOW), mode 0666 and 0777 less the umask,
 * executables get +x for all. Nothing is ever written outside `target`: names are checked before use and a
 * symlink is only ever created as a leaf, never written through. On any error the partly restored `target` is
 * removed, so a failed restore leaves nothing behind.
 *
 * @example
 * ```ts
 * await restoreNar(process.stdin, './out')
 * ```
 */
export async function restoreNar(
  nar: AsyncIterable<Uint8Array>,
  target: string | Uint8Array,
  opts: RestoreNarOptions = {}
): Promise<void> {
  const base = typeof target === 'string' ? Buffer.from(resolve(target)) : Buffer.from(target)
  const paths = new PathJoiner(base)
  let created = false
  try {
    for await (const entry of decodeNar(nar, opts)) {
      const p = paths.join(entry.path)
      const isRoot = entry.path.length === 0
      try {
        if (entry.type === 'directory') {
          await mkdir(p, 0o777)
          created ||= isRoot
        } else if (entry.type === 'symlink') {
          await symlink(Buffer.from(entry.target), p)
          created ||= isRoot
        } else {
          const fd = await open(
            p,
            constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
            0o666
          )
          created ||= isRoot
          try {
            if (entry.executable) {
              const st = await fstat(fd)
              await fchmod(fd, (st.mode & 0o7777) | 0o111)
            }
            await writeAll(fd, entry.contents())
          } finally {
            await close(fd)
          }
        }
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        if (isRoot && code === 'EEXIST') {
          throw new RestoreTargetExistsError(`${base.toString()} already exists; restore needs a new path`)
        }
        if (code === 'ENAMETOOLONG') {
          throw new RestorePathTooLongError(
            `cannot restore ${JSON.stringify(formatNarPath(entry.path))} under ${base.toString()}: the path is too long`
          )
        }
        throw err
      }
    }
  } catch (err) {
    if (created) await fs.promises.rm(base, { recursive: true, force: true })
    throw err
  }
}

/** Write every chunk of `contents` to `fd`, gathering small chunks into writev calls of up to a chunk size. */
async function writeAll(fd: number, contents: AsyncIterable<Uint8Array>): Promise<void> {
  let batch: Uint8Array[] = []
  let batched = 0
  const flush = async () => {
    let bufs = batch
    let left = batched
    batch = []
    batched = 0
    while (left > 0) {
      const { bytesWritten } = await writev(fd, bufs)
      left -= bytesWritten
      if (left > 0) bufs = dropBytes(bufs, bytesWritten)
    }
  }
  for await (const chunk of contents) {
    batch.push(chunk)
    batched += chunk.length
    if (batched >= NAR_CHUNK_SIZE || batch.length >= 64) await flush()
  }
  await flush()
}

function dropBytes(bufs: Uint8Array[], n: number): Uint8Array[] {
  const out: Uint8Array[] = []
  for (const b of bufs) {
    if (n >= b.length) {
      n -= b.length
      continue
    }
    out.push(n > 0 ? b.subarray(n) : b)
    n = 0
  }
  return out
}
