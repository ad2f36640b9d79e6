/**
 * The NAR reader: parses a NAR from a stream of chunks and yields its entries in order (a directory before what
 * it holds, entries in name order), checking every rule of the format as it goes (`nar-format.ts`).
 *
 * It rejects what Nix rejects, each with its own error class (all subclasses of `InvalidNarError`, carrying the
 * byte offset and NAR path): a missing magic, a token out of place, non-zero padding, invalid names (empty,
 * `.`, `..`, `/` or NUL), names over 255 bytes, unsorted or duplicate entries, empty, NUL-containing or over-long
 * (> 4095 bytes) symlink targets, nesting deeper than `maxDepth`, truncated input, and bytes after the end.
 * It accepts only the grammar Nix writes; Nix 2.8's reader is laxer in a few ways (see docs/nar.md).
 *
 * Memory is bounded: strings are length-checked before they are read, and file contents are handed out as
 * views of the input chunks, never gathered.
 */
import { NAR_DEFAULT_MAX_DEPTH, NAR_MAGIC, NAR_NAME_MAX, NAR_TARGET_MAX } from './constants.js'
import {
  InvalidNarError,
  NarBadMagicError,
  NarBadPaddingError,
  NarDuplicateEntryError,
  NarEntryConsumedError,
  NarFileTooLargeError,
  NarInvalidNameError,
  NarInvalidSymlinkTargetError,
  NarNameTooLongError,
  NarSymlinkTargetTooLongError,
  NarTooDeepError,
  NarTrailingDataError,
  NarTruncatedError,
  NarUnexpectedTokenError,
  NarUnsortedEntriesError
} from './errors.js'
import { compareNames, formatNarPath, nameProblem, paddingOf } from './nar-format.js'

interface EntryBase {
  /** Names from the root to this entry; `[]` for the root. */
  readonly path: readonly Uint8Array[]
  /** Byte offset in the NAR of the node's opening `(`. */
  readonly offset: number
}

export interface NarDirectoryEntry extends EntryBase {
  readonly type: 'directory'
}

export interface NarSymlinkEntry extends EntryBase {
  readonly type: 'symlink'
  readonly target: Uint8Array
}

export interface NarRegularEntry extends EntryBase {
  readonly type: 'regular'
  readonly executable: boolean
  readonly size: number
  /** Byte offset in the NAR of the first byte of the contents (what `nix nar ls --json` calls `narOffset`). */
  readonly narOffset: number
  /**
   * The file's bytes, as views of the input chunks. Read it (once) before asking for the next entry; contents
   * not read are skipped. Reading after the reader moved on throws `NarEntryConsumedError`.
   */
  contents(): AsyncIterable<Uint8Array>
}

export type NarEntry = NarDirectoryEntry | NarSymlinkEntry | NarRegularEntry

export interface DecodeNarOptions {
  /** Deepest nesting accepted (the root is depth 0). Default {@link NAR_DEFAULT_MAX_DEPTH}. */
  readonly maxDepth?: number
  readonly signal?: AbortSignal
}

const EMPTY = new Uint8Array(0)
const TEXT = new TextDecoder('utf-8')
const MAX_TOKEN = 16 // the longest token, "nix-archive-1", is 13 bytes

/** Buffered reading of exact byte counts from an async iterable of chunks, tracking the absolute offset. */
class Input {
  private readonly it: AsyncIterator<Uint8Array>
  private chunk: Uint8Array = EMPTY
  private at = 0
  private done = false
  /** Absolute offset of the next unread byte. */
  offset = 0

  constructor(
    source: AsyncIterable<Uint8Array>,
    private readonly where: () => string
  ) {
    this.it = source[Symbol.asyncIterator]()
  }

  /** Make at least one unread byte available; false at the end of input. */
  async fill(): Promise<boolean> {
    while (this.at >= this.chunk.length) {
      if (this.done) return false
      const r = await this.it.next()
      if (r.done === true) {
        this.done = true
        return false
      }
      this.chunk = r.value
      this.at = 0
    }
    return true
  }

  truncated(): NarTruncatedError {
    return new NarTruncatedError(`input ended after ${this.offset} bytes`, this.offset, this.where())
  }

  /** Exactly `n` bytes (copied when they span chunks). */
  async read(n: number): Promise<Uint8Array> {
    if (this.at + n <= this.chunk.length) {
      const v = this.chunk.subarray(this.at, this.at + n)
      this.at += n
      this.offset += n
      return v
    }
    const out = new Uint8Array(n)
    let got = 0
    while (got < n) {
      if (!(await this.fill())) throw this.truncated()
      const take = Math.min(n - got, this.chunk.length - this.at)
      out.set(this.chunk.subarray(this.at, this.at + take), got)
      this.at += take
      this.offset += take
      got += take
    }
    return out
  }

  /** Up to `max` bytes as a view of the current chunk (at least one byte). */
  async readSome(max: number): Promise<Uint8Array> {
    if (!(await this.fill())) throw this.truncated()
    const take = Math.min(max, this.chunk.length - this.at)
    const v = this.chunk.subarray(this.at, this.at + take)
    this.at += take
    this.offset += take
    return v
  }

  async skip(n: number): Promise<void> {
    while (n > 0) n -= (await this.readSome(n)).length
  }

  /** A u64 length; lengths above 2^53 - 1 come back as Infinity (no string or file can be that long). */
  async readLength(): Promise<number> {
    const b = await this.read(8)
    const hi = b[4]! | (b[5]! << 8) | (b[6]! << 16) | (b[7]! << 24)
    const lo = (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0
    if (hi >>> 0 > 0x1f_ffff) return Number.POSITIVE_INFINITY
    return (hi >>> 0) * 0x1_0000_0000 + lo
  }

  async readPadding(length: number): Promise<void> {
    const n = paddingOf(length)
    if (n === 0) return
    const start = this.offset
    const pad = await this.read(n)
    for (let i = 0; i < n; i++) {
      if (pad[i] !== 0) throw new NarBadPaddingError('non-zero padding', start, this.where())
    }
  }

  async close(): Promise<void> {
    await this.it.return?.()
  }
}

const TOKEN_BYTES = (s: string) => Buffer.from(s, 'latin1')
const T = {
  open: TOKEN_BYTES('('),
  close: TOKEN_BYTES(')'),
  type: TOKEN_BYTES('type'),
  regular: TOKEN_BYTES('regular'),
  symlink: TOKEN_BYTES('symlink'),
  directory: TOKEN_BYTES('directory'),
  executable: TOKEN_BYTES('executable'),
  contents: TOKEN_BYTES('contents'),
  entry: TOKEN_BYTES('entry'),
  name: TOKEN_BYTES('name'),
  node: TOKEN_BYTES('node'),
  target: TOKEN_BYTES('target')
}

/** Byte equality of two short strings (a loop beats a native call at token sizes). */
function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

function show(token: Uint8Array | number): string {
  return typeof token === 'number' ? `a string of ${token} bytes` : JSON.stringify(TEXT.decode(token))
}

/**
 * Parse a NAR, yielding its entries.
 *
 * @example
 * ```ts
 * for await (const entry of decodeNar(process.stdin)) {
 *   if (entry.type === 'regular') for await (const bytes of entry.contents()) hash.update(bytes)
 * }
 * ```
 */
export async function* decodeNar(
  nar: AsyncIterable<Uint8Array>,
  opts: DecodeNarOptions = {}
): AsyncGenerator<NarEntry> {
  const maxDepth = opts.maxDepth ?? NAR_DEFAULT_MAX_DEPTH
  const signal = opts.signal
  const path: Uint8Array[] = []
  const where = () => formatNarPath(path)
  const input = new Input(nar, where)

  /** A token string (at most MAX_TOKEN bytes; a longer string is reported by its length, not read). */
  const token = async (): Promise<{ start: number; value: Uint8Array | number }> => {
    const start = input.offset
    const n = await input.readLength()
    if (n > MAX_TOKEN) return { start, value: n }
    const value = await input.read(n)
    await input.readPadding(n)
    return { start, value }
  }
  const unexpected = (start: number, got: Uint8Array | number, expected: string) =>
    new NarUnexpectedTokenError(`expected ${expected}, got ${show(got)}`, start, where())
  const expect = async (want: Uint8Array): Promise<void> => {
    const t = await token()
    if (typeof t.value === 'number' || !same(t.value, want)) throw unexpected(t.start, t.value, show(want))
  }
  const is = (value: Uint8Array | number, want: Uint8Array) => typeof value !== 'number' && same(value, want)

  try {
    // The magic
    {
      const n = await input.readLength()
      const value = n === NAR_MAGIC.length ? await input.read(n) : undefined
      if (value === undefined || TEXT.decode(value) !== NAR_MAGIC) {
        throw new NarBadMagicError(`input does not start with "${NAR_MAGIC}"`, 0)
      }
      await input.readPadding(n)
    }

    // Open directories, innermost last, each with the name of its last entry so far.
    const dirs: { prev: Uint8Array | undefined }[] = []
    let state: 'node' | 'after-node' | 'entries' = 'node'
    for (;;) {
      signal?.throwIfAborted()
      if (state === 'node') {
        const offset = input.offset
        if (path.length > maxDepth) {
          throw new NarTooDeepError(`nesting deeper than ${maxDepth} directories`, offset, where())
        }
        await expect(T.open)
        await expect(T.type)
        const t = await token()
        if (is(t.value, T.directory)) {
          yield { type: 'directory', path: path.slice(), offset }
          dirs.push({ prev: undefined })
          state = 'entries'
          continue
        }
        if (is(t.value, T.symlink)) {
          await expect(T.target)
          const start = input.offset
          const n = await input.readLength()
          if (n > NAR_TARGET_MAX) {
            throw new NarSymlinkTargetTooLongError(
              `symlink target of ${n} bytes is longer than ${NAR_TARGET_MAX}`,
              start,
              where()
            )
          }
          const target = Uint8Array.from(await input.read(n))
          await input.readPadding(n)
          if (n === 0) throw new NarInvalidSymlinkTargetError('symlink target is empty', start, where())
          if (target.includes(0)) {
            throw new NarInvalidSymlinkTargetError('symlink target contains a NUL byte', start, where())
          }
          yield { type: 'symlink', path: path.slice(), offset, target }
          await expect(T.close)
          state = 'after-node'
          continue
        }
        if (is(t.value, T.regular)) {
          let tag = await token()
          let executable = false
          if (is(tag.value, T.executable)) {
            const marker = await token()
            if (typeof marker.value === 'number' || marker.value.length !== 0) {
              throw unexpected(marker.start, marker.value, 'the empty string after "executable"')
            }
            executable = true
            tag = await token()
          }
          if (!is(tag.value, T.contents)) throw unexpected(tag.start, tag.value, '"contents"')
          const sizeAt = input.offset
          const size = await input.readLength()
          if (!Number.isFinite(size)) {
            throw new NarFileTooLargeError('file size does not fit in 2^53 - 1 bytes', sizeAt, where())
          }
          const narOffset = input.offset
          let left = size
          let reading: 'unread' | 'reading' | 'gone' = 'unread'
          async function* contents(): AsyncGenerator<Uint8Array> {
            if (reading !== 'unread') {
              throw new NarEntryConsumedError(
                `the contents of ${JSON.stringify(where())} were already read or skipped`
              )
            }
            reading = 'reading'
            while (left > 0) {
              if (reading !== 'reading')
                throw new NarEntryConsumedError('the NAR reader moved past this entry')
              signal?.throwIfAborted()
              const bytes = await input.readSome(left)
              left -= bytes.length
              yield bytes
            }
          }
          yield { type: 'regular', path: path.slice(), offset, executable, size, narOffset, contents }
          reading = 'gone'
          await input.skip(left)
          await input.readPadding(size)
          await expect(T.close)
          state = 'after-node'
          continue
        }
        throw unexpected(t.start, t.value, '"regular", "symlink" or "directory"')
      }

      if (state === 'after-node') {
        if (dirs.length === 0) break
        await expect(T.close) // closes the "entry" of the node just read
        path.pop()
        state = 'entries'
        continue
      }

      // state === 'entries': the next entry of the innermost directory, or its end
      const dir = dirs[dirs.length - 1]!
      const t = await token()
      if (is(t.value, T.close)) {
        dirs.pop()
        state = 'after-node'
        continue
      }
      if (!is(t.value, T.entry)) throw unexpected(t.start, t.value, '"entry" or ")"')
      await expect(T.open)
      await expect(T.name)
      const start = input.offset
      const n = await input.readLength()
      if (n > NAR_NAME_MAX) {
        throw new NarNameTooLongError(
          `entry name of ${n} bytes is longer than ${NAR_NAME_MAX}`,
          start,
          where()
        )
      }
      const name = Uint8Array.from(await input.read(n))
      await input.readPadding(n)
      const problem = nameProblem(name)
      if (problem !== undefined) {
        throw new NarInvalidNameError(`${problem}: ${show(name)}`, start, where())
      }
      if (dir.prev !== undefined) {
        const order = compareNames(dir.prev, name)
        if (order === 0)
          throw new NarDuplicateEntryError(`two entries are named ${show(name)}`, start, where())
        if (order > 0) {
          throw new NarUnsortedEntriesError(`entry ${show(name)} follows ${show(dir.prev)}`, start, where())
        }
      }
      dir.prev = name
      await expect(T.node)
      path.push(name)
      state = 'node'
    }

    if (await input.fill()) {
      throw new NarTrailingDataError('bytes follow the end of the NAR', input.offset)
    }
  } finally {
    await input.close()
  }
}

/** True when `err` is one of the reader's format errors (as opposed to an I/O or abort error). */
export function isInvalidNarError(err: unknown): err is InvalidNarError {
  return err instanceof InvalidNarError
}
