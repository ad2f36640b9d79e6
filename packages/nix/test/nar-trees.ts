/**
 * Test helpers for NARs: an in-memory tree model, a NarSource over it, reading a tree back from decodeNar
 * events or from disk, writing one to disk, a builder for hand-made (hostile) NARs, and fast-check
 * arbitraries for random trees. Used by packages/nix/test and the real-nix tests in test/.
 */
import { constants } from 'node:fs'
import { chmod, lstat, mkdir, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises'
import fc from 'fast-check'
import { compareNames, type NarEntry, type NarSource } from '../src/index.js'

export type Tree =
  | { readonly type: 'regular'; readonly executable: boolean; readonly contents: Uint8Array }
  | { readonly type: 'symlink'; readonly target: Uint8Array }
  | { readonly type: 'directory'; readonly entries: ReadonlyArray<readonly [Uint8Array, Tree]> }

export const b = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8'))

export const file = (contents: string | Uint8Array, executable = false): Tree => ({
  type: 'regular',
  executable,
  contents: typeof contents === 'string' ? b(contents) : contents
})
export const link = (target: string | Uint8Array): Tree => ({
  type: 'symlink',
  target: typeof target === 'string' ? b(target) : target
})
export const dir = (entries: Record<string, Tree> | ReadonlyArray<readonly [Uint8Array, Tree]>): Tree => ({
  type: 'directory',
  entries: Array.isArray(entries)
    ? (entries as ReadonlyArray<readonly [Uint8Array, Tree]>)
    : Object.entries(entries).map(([k, v]) => [b(k), v] as const)
})

/** The same tree with every directory's entries in NAR order, for comparisons. */
export function normalise(tree: Tree): Tree {
  if (tree.type !== 'directory') return tree
  const entries = [...tree.entries]
    .sort((x, y) => compareNames(x[0], y[0]))
    .map(([n, t]) => [new Uint8Array(n), normalise(t)] as const)
  return { type: 'directory', entries }
}

function lookup(tree: Tree, path: readonly Uint8Array[]): Tree {
  let t = tree
  for (const name of path) {
    if (t.type !== 'directory') throw new Error('not a directory')
    const next = t.entries.find(([n]) => Buffer.compare(n, name) === 0)
    if (next === undefined) throw Object.assign(new Error('no such entry'), { code: 'ENOENT' })
    t = next[1]
  }
  return t
}

/** A NarSource over an in-memory tree (directory entries returned in the order given). */
export function memorySource(tree: Tree): NarSource {
  return {
    async lstat(path) {
      const t = lookup(tree, path)
      return t.type === 'regular'
        ? { type: 'regular', size: t.contents.length, executable: t.executable }
        : { type: t.type }
    },
    async readDirectory(path) {
      const t = lookup(tree, path)
      if (t.type !== 'directory') throw new Error('not a directory')
      return t.entries.map(([n]) => n)
    },
    async readLink(path) {
      const t = lookup(tree, path)
      if (t.type !== 'symlink') throw new Error('not a symlink')
      return t.target
    },
    async openFile(path) {
      const t = lookup(tree, path)
      if (t.type !== 'regular') throw new Error('not a file')
      let at = 0
      return {
        async read(into, offset, length) {
          const n = Math.min(length, t.contents.length - at)
          into.set(t.contents.subarray(at, at + n), offset)
          at += n
          return n
        },
        async close() {}
      }
    }
  }
}

/** Rebuild the tree a NAR describes from decodeNar's entries, reading every file's contents. */
export async function treeFromEntries(entries: AsyncIterable<NarEntry>): Promise<Tree> {
  let root: Tree | undefined
  const dirs = new Map<string, [Uint8Array, Tree][]>()
  const key = (path: readonly Uint8Array[]) => path.map((n) => Buffer.from(n).toString('hex')).join('/')
  for await (const e of entries) {
    let node: Tree
    if (e.type === 'directory') {
      const list: [Uint8Array, Tree][] = []
      dirs.set(key(e.path), list)
      node = { type: 'directory', entries: list }
    } else if (e.type === 'symlink') {
      node = link(new Uint8Array(e.target))
    } else {
      const parts: Uint8Array[] = []
      for await (const c of e.contents()) parts.push(Uint8Array.from(c))
      node = file(new Uint8Array(Buffer.concat(parts)), e.executable)
    }
    if (e.path.length === 0) root = node
    else dirs.get(key(e.path.slice(0, -1)))!.push([new Uint8Array(e.path[e.path.length - 1]!), node])
  }
  return root!
}

/** Write `tree` at `path` (which must not exist) on disk. */
export async function writeTree(path: Buffer | string, tree: Tree): Promise<void> {
  const p = Buffer.from(path)
  if (tree.type === 'regular') {
    await writeFile(p, tree.contents, { flag: constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY })
    await chmod(p, tree.executable ? 0o755 : 0o644)
  } else if (tree.type === 'symlink') {
    await symlink(Buffer.from(tree.target), p)
  } else {
    await mkdir(p)
    for (const [name, t] of tree.entries) await writeTree(Buffer.concat([p, Buffer.from('/'), name]), t)
  }
}

/** Read the tree at `path` from disk (names as bytes, symlinks not followed), entries in NAR order. */
export async function readTree(path: Buffer | string): Promise<Tree> {
  const p = Buffer.from(path)
  const st = await lstat(p)
  if (st.isSymbolicLink()) return link(new Uint8Array(await readlink(p, { encoding: 'buffer' })))
  if (st.isFile()) return file(new Uint8Array(await readFile(p)), (st.mode & 0o100) !== 0)
  const names = (await readdir(p, { encoding: 'buffer' })).sort(compareNames)
  const entries: [Uint8Array, Tree][] = []
  for (const n of names)
    entries.push([new Uint8Array(n), await readTree(Buffer.concat([p, Buffer.from('/'), n]))])
  return dir(entries)
}

/** Raw u64 LE. */
export function u64(n: number | bigint): Uint8Array {
  const out = Buffer.alloc(8)
  out.writeBigUInt64LE(BigInt(n))
  return new Uint8Array(out)
}

/** One NAR string: u64 length, bytes, zero padding. */
export function str(value: string | Uint8Array): Uint8Array {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value)
  const pad = (8 - (bytes.length % 8)) % 8
  return new Uint8Array(Buffer.concat([u64(bytes.length), bytes, Buffer.alloc(pad)]))
}

/** A hand-made NAR: strings are encoded as NAR strings, `{ raw }` bytes are inserted as they are. */
export function build(...items: Array<string | Uint8Array | { raw: Uint8Array }>): Uint8Array {
  return new Uint8Array(
    Buffer.concat(items.map((i) => (typeof i === 'object' && 'raw' in i ? i.raw : str(i))))
  )
}

/** The token sequence of a regular file node. */
export const regularNode = (contents = 'x', executable = false): string[] =>
  executable
    ? ['(', 'type', 'regular', 'executable', '', 'contents', contents, ')']
    : ['(', 'type', 'regular', 'contents', contents, ')']

/** An `entry ( name N node <node> )` token sequence. */
export const entry = (
  name: string | Uint8Array,
  node: Array<string | Uint8Array>
): Array<string | Uint8Array> => ['entry', '(', 'name', name, 'node', ...node, ')']

/** Feed bytes as an async iterable of chunks of the given sizes (cycled), or of one chunk. */
export async function* chunked(
  bytes: Uint8Array,
  sizes: readonly number[] = [bytes.length || 1]
): AsyncGenerator<Uint8Array> {
  let at = 0
  let i = 0
  while (at < bytes.length) {
    const n = Math.max(1, sizes[i++ % sizes.length]!)
    yield bytes.subarray(at, at + n)
    at += n
  }
}

export async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const c of chunks) parts.push(c)
  return new Uint8Array(Buffer.concat(parts))
}

// Names that are legal in a NAR but awkward: bytes that sort differently as UTF-8 than as UTF-16 (U+E000..U+FFFF
// versus astral characters), spaces, newlines, leading dashes and dots, non-UTF-8 bytes.
const AWKWARD_NAMES: Uint8Array[] = [
  '\u{e000}',
  '\u{ffff}',
  '\u{10000}',
  '\u{1f600}',
  'a b',
  'line\nbreak',
  '-dash',
  '.hidden',
  '...',
  'Ü',
  'u\u0308'
].map(b)

const nameArb: fc.Arbitrary<Uint8Array> = fc
  .oneof(
    fc.constantFrom(...AWKWARD_NAMES),
    fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 8 }).map(b),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 4 }).map(b),
    fc.uint8Array({ minLength: 1, maxLength: 6 }).map((a) => a.map((x) => (x === 0 || x === 0x2f ? 0x41 : x)))
  )
  .filter((n) => {
    if (n.length === 0 || n.length > 255 || n.includes(0) || n.includes(0x2f)) return false
    const s = Buffer.from(n).toString('latin1')
    return s !== '.' && s !== '..'
  })

const targetArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.constantFrom(b('../a'), b('/nix/store/nowhere'), b('dangling'), b('.'), b('sub/dir/'), b('\u{1f600}')),
  fc.uint8Array({ minLength: 1, maxLength: 40 }).map((a) => a.map((x) => (x === 0 ? 0x78 : x)))
)

/** Random trees: regular files (some executable, some empty), symlinks, directories with awkward names. */
export function treeArb(opts: { maxFileSize?: number; maxEntries?: number } = {}): fc.Arbitrary<Tree> {
  const { tree } = fc.letrec<{ tree: Tree; regular: Tree; symlink: Tree; directory: Tree }>((tie) => ({
    tree: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      tie('regular'),
      tie('symlink'),
      tie('directory')
    ),
    regular: fc
      .record({ executable: fc.boolean(), contents: fc.uint8Array({ maxLength: opts.maxFileSize ?? 64 }) })
      .map(({ executable, contents }) => file(contents, executable)),
    symlink: targetArb.map((t) => link(t)),
    directory: fc
      .uniqueArray(fc.tuple(nameArb, tie('tree')), {
        maxLength: opts.maxEntries ?? 5,
        selector: ([n]) => Buffer.from(n).toString('hex')
      })
      .map((entries) => dir(entries))
  }))
  return tree
}
