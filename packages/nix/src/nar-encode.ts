/**
 * The NAR writer: serialises a tree, read through a {@link NarSource}, as the chunks of one NAR, byte for byte
 * what `nix-store --dump` writes for the same tree (format: `nar-format.ts`).
 *
 * Memory is bounded: the writer fills one chunk of `chunkSize` bytes at a time, reading file contents straight
 * into it (one copy, from the kernel), and yields each chunk when it is full. A yielded chunk is never touched
 * again, so consumers may keep it.
 */
import { NAR_CHUNK_SIZE, NAR_NAME_MAX, NAR_TARGET_MAX } from './constants.js'
import { FileChangedError, NarUnencodableError } from './errors.js'
import {
  compareNames,
  encodedStringLength,
  formatNarPath,
  type NarNodeStat,
  nameProblem,
  paddingOf,
  TOKENS,
  writeU64
} from './nar-format.js'

// Room for the longest token run (see MAX_RUN below) with space to spare.
const MIN_CHUNK_SIZE = 16 * 1024

/** An open regular file of a {@link NarSource}. */
export interface NarSourceFile {
  /** Read up to `length` bytes into `into` at `offset`; resolves to the count read, 0 at the end of the file. */
  read(into: Uint8Array, offset: number, length: number): Promise<number>
  close(): Promise<void>
}

/**
 * A tree to serialise, addressed by paths of names from its root (`[]` is the root). Names are bytes: a file
 * system may hold names that are not UTF-8. The writer sorts directory entries itself.
 */
export interface NarSource {
  /** Type, size and executable bit of the node at `path`, not following a symlink. */
  lstat(path: readonly Uint8Array[]): Promise<NarNodeStat>
  /** The names in the directory at `path`, in any order. */
  readDirectory(path: readonly Uint8Array[]): Promise<Uint8Array[]>
  /** The target of the symlink at `path`. */
  readLink(path: readonly Uint8Array[]): Promise<Uint8Array>
  /** Open the regular file at `path` for reading. */
  openFile(path: readonly Uint8Array[]): Promise<NarSourceFile>
}

export interface EncodeNarOptions {
  /** Size of the yielded chunks (the last one may be shorter). Default {@link NAR_CHUNK_SIZE}. */
  readonly chunkSize?: number
  readonly signal?: AbortSignal
}

/**
 * Serialise the tree of `source` as a NAR.
 *
 * @example
 * ```ts
 * for await (const chunk of encodeNar(createFsNarSource('/nix/store/...-hello'))) out.write(chunk)
 * ```
 */
export async function* encodeNar(source: NarSource, opts: EncodeNarOptions = {}): AsyncGenerator<Uint8Array> {
  const chunkSize = opts.chunkSize ?? NAR_CHUNK_SIZE
  if (!Number.isSafeInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE) {
    throw new RangeError(`chunkSize must be an integer of at least ${MIN_CHUNK_SIZE}, got ${chunkSize}`)
  }
  const signal = opts.signal
  let out = Buffer.allocUnsafe(chunkSize)
  let pos = 0

  /** Swap in a fresh chunk, returning the filled part of the old one. */
  const take = (): Uint8Array => {
    const full = pos === out.length ? out : out.subarray(0, pos)
    out = Buffer.allocUnsafe(chunkSize)
    pos = 0
    return full
  }

  // Writes `bytes` (shorter than a chunk); the caller flushes first when `room(bytes.length)` is false.
  const room = (n: number): boolean => pos + n <= out.length
  const put = (bytes: Uint8Array): void => {
    out.set(bytes, pos)
    pos += bytes.length
  }
  const putString = (bytes: Uint8Array): void => {
    writeU64(out, pos, bytes.length)
    out.set(bytes, pos + 8)
    const end = pos + 8 + bytes.length
    const padEnd = end + paddingOf(bytes.length)
    out.fill(0, end, padEnd)
    pos = padEnd
  }
  const putU64 = (n: number): void => {
    writeU64(out, pos, n)
    pos += 8
  }

  // Every token run the writer emits between file contents is at most this long (entry header with a
  // 255-byte name, or a symlink with a 4095-byte target), so flushing when less room is left is enough.
  const MAX_RUN = 8 * 16 + encodedStringLength(NAR_TARGET_MAX)

  const path: Uint8Array[] = []

  async function* node(): AsyncGenerator<Uint8Array> {
    signal?.throwIfAborted()
    const st = await source.lstat(path)
    if (!room(MAX_RUN)) yield take()
    put(TOKENS.open)
    put(TOKENS.type)
    if (st.type === 'regular') {
      put(TOKENS.regular)
      if (st.executable) {
        put(TOKENS.executable)
        put(TOKENS.empty)
      }
      put(TOKENS.contents)
      putU64(st.size)
      if (st.size > 0) yield* contents(st.size)
      const pad = paddingOf(st.size)
      if (!room(pad + 16)) yield take()
      out.fill(0, pos, pos + pad)
      pos += pad
    } else if (st.type === 'symlink') {
      const target = await source.readLink(path)
      if (target.length === 0 || target.length > NAR_TARGET_MAX || target.includes(0)) {
        throw new NarUnencodableError(
          `symlink ${JSON.stringify(formatNarPath(path))} has a target of ${target.length} bytes that a NAR cannot hold`
        )
      }
      put(TOKENS.symlink)
      put(TOKENS.target)
      putString(target)
    } else {
      put(TOKENS.directory)
      const names = await source.readDirectory(path)
      names.sort(compareNames)
      for (let i = 0; i < names.length; i++) {
        const name = names[i]!
        const problem = nameProblem(name) ?? (name.length > NAR_NAME_MAX ? 'a name is too long' : undefined)
        if (problem !== undefined || (i > 0 && compareNames(names[i - 1]!, name) === 0)) {
          throw new NarUnencodableError(
            `directory ${JSON.stringify(formatNarPath(path))}: ${problem ?? 'two entries have the same name'}`
          )
        }
        if (!room(MAX_RUN)) yield take()
        put(TOKENS.entry)
        put(TOKENS.open)
        put(TOKENS.name)
        putString(name)
        put(TOKENS.node)
        path.push(name)
        yield* node()
        path.pop()
        if (!room(16)) yield take()
        put(TOKENS.close)
      }
    }
    if (!room(16)) yield take()
    put(TOKENS.close)
  }

  async function* contents(size: number): AsyncGenerator<Uint8Array> {
    const file = await source.openFile(path)
    try {
      let left = size
      while (left > 0) {
        if (pos === out.length) {
          signal?.throwIfAborted()
          yield take()
        }
        const n = await file.read(out, pos, Math.min(left, out.length - pos))
        if (n === 0) {
          throw new FileChangedError(
            `file ${JSON.stringify(formatNarPath(path))} shrank from ${size} to ${size - left} bytes while being read`
          )
        }
        pos += n
        left -= n
      }
    } finally {
      await file.close()
    }
  }

  put(TOKENS.magic)
  yield* node()
  if (pos > 0) yield take()
}
