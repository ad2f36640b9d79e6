import assert from 'node:assert/strict'
import { lstat, mkdir, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import {
  createFsNarSource,
  decodeNar,
  dumpPath,
  encodeNar,
  formatHash,
  formatNarListing,
  hashNar,
  InvalidNarError,
  type NarEntry,
  restoreNar
} from '../src/index.js'
import { narSourceCompliance } from './nar-source-compliance.js'
import {
  b,
  build,
  chunked,
  collect,
  dir,
  entry,
  file,
  link,
  memorySource,
  normalise,
  readTree,
  regularNode,
  type Tree,
  treeArb,
  treeFromEntries,
  u64,
  writeTree
} from './nar-trees.js'

const encode = (tree: Tree, chunkSize?: number) =>
  collect(encodeNar(memorySource(tree), chunkSize === undefined ? {} : { chunkSize }))
const decode = (nar: Uint8Array, sizes?: number[]) => treeFromEntries(decodeNar(chunked(nar, sizes)))

/** Run decodeNar to the end, returning the error it threw (or undefined). */
async function rejection(
  nar: Uint8Array,
  opts: { maxDepth?: number } = {}
): Promise<InvalidNarError | undefined> {
  try {
    for await (const e of decodeNar(chunked(nar), opts)) {
      if (e.type === 'regular') for await (const _ of e.contents());
    }
    return undefined
  } catch (err) {
    if (err instanceof InvalidNarError) return err
    throw err
  }
}

async function makeTemp(): Promise<string> {
  const { mkdtemp } = await import('node:fs/promises')
  return mkdtemp(join(tmpdir(), 'narthex-nar-'))
}

describe('NAR writer', () => {
  it('writes the NAR of a one-file tree byte for byte (the example in nar-format.ts)', async () => {
    const expected =
      '0d000000000000006e69782d617263686976652d310000000100000000000000280000000000000004000000000000007479706500000000' +
      '0700000000000000726567756c6172000800000000000000636f6e74656e7473030000000000000068690a00000000000100000000000000' +
      '2900000000000000'
    assert.equal(Buffer.from(await encode(file('hi\n'))).toString('hex'), expected)
  })

  it('sorts entries by bytes, not UTF-16 code units (U+E000 before U+10000)', async () => {
    // UTF-16 puts U+10000 (a surrogate pair, 0xD800...) first; UTF-8 bytes (EE.. vs F0..) put U+E000 first.
    assert.ok('\u{10000}' < '\u{e000}')
    const nar = await encode(dir({ '\u{10000}': file('astral'), '\u{e000}': file('private use') }))
    const names: string[] = []
    for await (const e of decodeNar(chunked(nar)))
      if (e.path.length === 1) names.push(Buffer.from(e.path[0]!).toString())
    assert.deepEqual(names, ['\u{e000}', '\u{10000}'])
  })

  it('yields the same bytes whatever the chunk size, never a chunk larger than asked', async () => {
    const tree = dir({ big: file(new Uint8Array(100_000).fill(7), true), small: file('s'), l: link('big') })
    const whole = await encode(tree)
    for (const size of [16384, 20000, 65536]) {
      const chunks: Uint8Array[] = []
      for await (const c of encodeNar(memorySource(tree), { chunkSize: size })) chunks.push(c)
      assert.ok(chunks.every((c) => c.length <= size && c.length > 0))
      assert.deepEqual(new Uint8Array(Buffer.concat(chunks)), whole)
    }
  })

  it('with reuseChunks n, fills n buffers in turn and yields the same bytes', async () => {
    const tree = dir({ big: file(new Uint8Array(200_000).map((_, i) => i & 0xff)), l: link('big') })
    const whole = await encode(tree, 16384)
    for (const n of [1, 2, 3]) {
      const copies: Uint8Array[] = []
      const buffers = new Set<ArrayBufferLike>()
      for await (const c of encodeNar(memorySource(tree), { chunkSize: 16384, reuseChunks: n })) {
        copies.push(Uint8Array.from(c))
        buffers.add(c.buffer)
      }
      assert.equal(buffers.size, n)
      assert.deepEqual(new Uint8Array(Buffer.concat(copies)), whole)
    }
  })

  it('refuses names and targets a NAR cannot hold, with NarUnencodableError', async () => {
    await assert.rejects(encode(dir([[b('a/b'), file('')]])), { name: 'NarUnencodableError' })
    await assert.rejects(encode(dir([[b('..'), file('')]])), { name: 'NarUnencodableError' })
    await assert.rejects(encode(dir([[new Uint8Array(256).fill(0x61), file('')]])), {
      name: 'NarUnencodableError'
    })
    await assert.rejects(encode(link('')), { name: 'NarUnencodableError' })
  })

  it('detects a file that shrinks while it is read (FileChangedError)', async () => {
    const source = memorySource(file('12345678'))
    const shrinking = {
      ...source,
      lstat: async () => ({ type: 'regular' as const, size: 100, executable: false })
    }
    await assert.rejects(collect(encodeNar(shrinking)), { name: 'FileChangedError' })
  })
})

describe('NAR reader', () => {
  it('round-trips random trees, whatever the input chunking', async () => {
    await fc.assert(
      fc.asyncProperty(
        treeArb(),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 4 }),
        async (tree, sizes) => {
          const nar = await encode(tree)
          const back = await decode(nar, sizes)
          assert.deepEqual(back, normalise(tree))
          assert.deepEqual(await encode(back), nar)
        }
      ),
      { numRuns: 150 }
    )
  })

  it('reports regular files with size, executable bit and the offset of their contents', async () => {
    const nar = await encode(dir({ a: file('hi\n'), x: file('', true) }))
    const entries: NarEntry[] = []
    for await (const e of decodeNar(chunked(nar))) entries.push(e)
    const a = entries[1]!
    assert.equal(a.type, 'regular')
    if (a.type !== 'regular') return
    assert.equal(a.size, 3)
    assert.equal(Buffer.from(nar.subarray(a.narOffset, a.narOffset + 3)).toString(), 'hi\n')
    assert.equal((entries[2] as { executable: boolean }).executable, true)
  })

  it('skips contents that are not read, and refuses to read them afterwards', async () => {
    const nar = await encode(dir({ a: file('aaaa'), b: file('bbbb') }))
    const seen: Array<NarEntry & { type: 'regular' }> = []
    for await (const e of decodeNar(chunked(nar, [3]))) if (e.type === 'regular') seen.push(e)
    assert.equal(seen.length, 2)
    await assert.rejects(collect(seen[0]!.contents()), { name: 'NarEntryConsumedError' })
  })

  // One hand-made NAR per rule: the error class, and the offset it must name.
  const magic = 'nix-archive-1'
  const rootDir = (...entries: Array<Array<string | Uint8Array>>) =>
    build(magic, '(', 'type', 'directory', ...entries.flat(), ')')
  const nameAt = 128 // offset of the first entry's name string in rootDir(...)
  const cases: Array<{ rule: string; nar: Uint8Array; error: string; offset?: number; maxDepth?: number }> = [
    {
      rule: 'not a NAR',
      nar: build('nix-archive-2', ...regularNode()),
      error: 'NarBadMagicError',
      offset: 0
    },
    { rule: 'empty input', nar: new Uint8Array(0), error: 'NarTruncatedError', offset: 0 },
    {
      rule: 'unknown node type',
      nar: build(magic, '(', 'type', 'fifo', ')'),
      error: 'NarUnexpectedTokenError',
      offset: 56
    },
    {
      rule: 'misspelt tag',
      nar: build(magic, '(', 'typ', 'regular', 'contents', '', ')'),
      error: 'NarUnexpectedTokenError',
      offset: 40
    },
    {
      rule: 'a huge tag',
      nar: build(magic, '(', { raw: u64(2n ** 62n) }),
      error: 'NarUnexpectedTokenError',
      offset: 40
    },
    {
      rule: 'executable marker with a value',
      nar: build(magic, '(', 'type', 'regular', 'executable', '1', 'contents', '', ')'),
      error: 'NarUnexpectedTokenError'
    },
    {
      rule: 'regular file without contents',
      nar: build(magic, '(', 'type', 'regular', ')'),
      error: 'NarUnexpectedTokenError'
    },
    {
      rule: 'contents before executable',
      nar: build(magic, '(', 'type', 'regular', 'contents', 'x', 'executable', '', ')'),
      error: 'NarUnexpectedTokenError'
    },
    {
      rule: 'symlink without target',
      nar: build(magic, '(', 'type', 'symlink', ')'),
      error: 'NarUnexpectedTokenError'
    },
    {
      rule: 'two type fields',
      nar: build(magic, '(', 'type', 'symlink', 'type', 'symlink', 'target', 'x', ')'),
      error: 'NarUnexpectedTokenError'
    },
    {
      rule: 'non-zero padding',
      nar: build(
        magic,
        '(',
        'type',
        'regular',
        'contents',
        { raw: u64(1) },
        { raw: b('x\0\0\0\0\0\0\x01') },
        ')'
      ),
      error: 'NarBadPaddingError',
      offset: 97
    },
    {
      rule: 'file larger than 2^53',
      nar: build(magic, '(', 'type', 'regular', 'contents', { raw: u64(2n ** 60n) }),
      error: 'NarFileTooLargeError',
      offset: 88
    },
    {
      rule: 'empty name',
      nar: rootDir(entry('', regularNode())),
      error: 'NarInvalidNameError',
      offset: nameAt
    },
    {
      rule: 'name "."',
      nar: rootDir(entry('.', regularNode())),
      error: 'NarInvalidNameError',
      offset: nameAt
    },
    {
      rule: 'name ".."',
      nar: rootDir(entry('..', regularNode())),
      error: 'NarInvalidNameError',
      offset: nameAt
    },
    {
      rule: 'name with "/"',
      nar: rootDir(entry('a/b', regularNode())),
      error: 'NarInvalidNameError',
      offset: nameAt
    },
    {
      rule: 'name with NUL',
      nar: rootDir(entry('a\0b', regularNode())),
      error: 'NarInvalidNameError',
      offset: nameAt
    },
    {
      rule: 'name of 256 bytes',
      nar: rootDir(entry('n'.repeat(256), regularNode())),
      error: 'NarNameTooLongError',
      offset: nameAt
    },
    {
      rule: 'unsorted entries',
      nar: rootDir(entry('b', regularNode()), entry('a', regularNode())),
      error: 'NarUnsortedEntriesError'
    },
    {
      rule: 'unsorted by bytes (UTF-16 order)',
      nar: rootDir(entry('\u{10000}', regularNode()), entry('\u{e000}', regularNode())),
      error: 'NarUnsortedEntriesError'
    },
    {
      rule: 'duplicate entries',
      nar: rootDir(entry('a', regularNode()), entry('a', regularNode())),
      error: 'NarDuplicateEntryError'
    },
    {
      rule: 'entry without node',
      nar: rootDir(['entry', '(', 'name', 'a', ')']),
      error: 'NarUnexpectedTokenError'
    },
    {
      rule: 'empty symlink target',
      nar: build(magic, '(', 'type', 'symlink', 'target', '', ')'),
      error: 'NarInvalidSymlinkTargetError',
      offset: 88
    },
    {
      rule: 'symlink target with NUL',
      nar: build(magic, '(', 'type', 'symlink', 'target', 'a\0b', ')'),
      error: 'NarInvalidSymlinkTargetError',
      offset: 88
    },
    {
      rule: 'symlink target of 4096 bytes',
      nar: build(magic, '(', 'type', 'symlink', 'target', 't'.repeat(4096), ')'),
      error: 'NarSymlinkTargetTooLongError',
      offset: 88
    },
    {
      rule: 'trailing bytes',
      nar: build(magic, ...regularNode(), ')'),
      error: 'NarTrailingDataError',
      offset: 24 + 16 * 6
    },
    { rule: 'depth over the limit', nar: build(magic, ...nest(3)), maxDepth: 2, error: 'NarTooDeepError' },
    {
      rule: 'truncated contents',
      nar: build(magic, '(', 'type', 'regular', 'contents', { raw: u64(100) }, { raw: new Uint8Array(10) }),
      error: 'NarTruncatedError',
      offset: 106
    }
  ]
  for (const c of cases) {
    it(`rejects ${c.rule} with ${c.error}`, async () => {
      const err = await rejection(c.nar, c.maxDepth === undefined ? {} : { maxDepth: c.maxDepth })
      assert.ok(err, 'expected the NAR to be rejected')
      assert.equal(err.name, c.error, err.message)
      if (c.offset !== undefined) assert.equal(err.offset, c.offset, err.message)
    })
  }

  it('accepts nesting up to the limit (64 by default)', async () => {
    assert.equal(await rejection(build('nix-archive-1', ...nest(64))), undefined)
    assert.equal((await rejection(build('nix-archive-1', ...nest(65))))?.name, 'NarTooDeepError')
  })

  it('rejects every truncation of a valid NAR with NarTruncatedError at the cut', async () => {
    const nar = await encode(dir({ a: file('hello', true), d: dir({ l: link('../a') }) }))
    for (let n = 0; n < nar.length; n++) {
      const err = await rejection(nar.subarray(0, n))
      assert.equal(err?.name, 'NarTruncatedError', `cut at ${n}`)
      assert.equal(err?.offset, n)
    }
  })

  it('throws only typed errors on randomly mutated NARs', async () => {
    await fc.assert(
      fc.asyncProperty(treeArb(), mutationArb, async (tree, mutation) => {
        const nar = mutate(await encode(tree), mutation)
        await rejection(nar) // any other error propagates and fails the property
      }),
      { numRuns: 400 }
    )
  })
})

/** `depth` nested directories named "d", with an empty file at the bottom. */
function nest(depth: number): string[] {
  let node = regularNode('')
  for (let i = 0; i < depth; i++) node = ['(', 'type', 'directory', ...(entry('d', node) as string[]), ')']
  return node
}

type Mutation = Array<{ kind: 'flip' | 'insert' | 'delete' | 'set'; at: number; byte: number }>
const mutationArb: fc.Arbitrary<Mutation> = fc.array(
  fc.record({
    kind: fc.constantFrom('flip' as const, 'insert' as const, 'delete' as const, 'set' as const),
    at: fc.nat(),
    byte: fc.integer({ min: 0, max: 255 })
  }),
  { minLength: 1, maxLength: 4 }
)
function mutate(nar: Uint8Array, mutation: Mutation): Uint8Array {
  const bytes = Array.from(nar)
  for (const m of mutation) {
    const at = bytes.length === 0 ? 0 : m.at % bytes.length
    if (m.kind === 'flip') bytes[at] = bytes[at]! ^ (1 << (m.byte % 8))
    else if (m.kind === 'set') bytes[at] = m.byte
    else if (m.kind === 'insert') bytes.splice(at, 0, m.byte)
    else bytes.splice(at, 1)
  }
  return new Uint8Array(bytes)
}

describe('NAR restore and the file system', () => {
  let root: string
  beforeEach(async () => {
    root = await makeTemp()
  })
  afterEach(async () => {
    const { rm } = await import('node:fs/promises')
    await rm(root, { recursive: true, force: true })
  })

  it('restores a tree and dumps it back to the same NAR', async () => {
    const tree = dir({
      bin: dir({ run: file('#!/bin/sh\n', true) }),
      empty: file(''),
      'empty-dir': dir({}),
      abs: link('/etc/passwd'),
      rel: link('bin/run'),
      dangling: link('no/such/file'),
      [`${'\u{1f600}'}\nx`]: file('odd name')
    })
    const nar = await encode(tree)
    await restoreNar(chunked(nar, [7, 100]), join(root, 'out'))
    assert.deepEqual(await readTree(join(root, 'out')), normalise(tree))
    assert.equal((await lstat(join(root, 'out/bin/run'))).mode & 0o111, 0o111)
    assert.deepEqual(await collect(dumpPath(join(root, 'out'))), nar)
  })

  it('reads the same tree with blocking and non-blocking calls', async () => {
    // Wider than the read-ahead window, with files on both sides of the read-ahead size limit.
    const wide: Record<string, Tree> = {}
    for (let i = 0; i < 100; i++) {
      wide[`f${i}`] =
        i % 10 === 0 ? dir({ x: file(String(i)), y: link('../f1') }) : file('y'.repeat(i * 997), i % 3 === 0)
    }
    const tree = dir({
      a: file('x'.repeat(70_000), true),
      b: dir({ c: link('../a') }),
      e: file(''),
      wide: dir(wide)
    })
    await writeTree(join(root, 't'), tree)
    const nonBlocking = await collect(dumpPath(join(root, 't')))
    assert.deepEqual(await collect(dumpPath(join(root, 't'), { blocking: true })), nonBlocking)
    assert.deepEqual(nonBlocking, await encode(tree))
  })

  it('dumps names that are not UTF-8 exactly', async () => {
    const odd = Buffer.from([0x66, 0xff, 0xfe, 0x80])
    await writeTree(join(root, 't'), dir([[new Uint8Array(odd), file('x')]]))
    const back = await decode(await collect(dumpPath(join(root, 't'))))
    assert.deepEqual(back.type === 'directory' && Buffer.from(back.entries[0]![0]), odd)
  })

  it('refuses a target that exists, and leaves it alone', async () => {
    await mkdir(join(root, 'out'))
    await assert.rejects(restoreNar(chunked(await encode(file('x'))), join(root, 'out')), {
      name: 'RestoreTargetExistsError'
    })
    assert.deepEqual(await readdir(join(root, 'out')), [])
  })

  it('turns a path too long for the file system into RestorePathTooLongError, leaving nothing', async () => {
    let node: string[] = regularNode('')
    for (let i = 0; i < 20; i++)
      node = ['(', 'type', 'directory', ...(entry('n'.repeat(250), node) as string[]), ')']
    await assert.rejects(restoreNar(chunked(build('nix-archive-1', ...node)), join(root, 'out')), {
      name: 'RestorePathTooLongError'
    })
    assert.deepEqual(await readdir(root), [])
  })

  it('removes a partly restored tree when the NAR turns out invalid', async () => {
    const nar = build(
      'nix-archive-1',
      '(',
      'type',
      'directory',
      ...entry('b', regularNode()),
      ...entry('a', regularNode()),
      ')'
    )
    await assert.rejects(restoreNar(chunked(nar), join(root, 'out')), { name: 'NarUnsortedEntriesError' })
    assert.deepEqual(await readdir(root), [])
  })

  it('never writes outside the target, whatever a mutated NAR says', async () => {
    const outside = join(root, 'outside')
    await mkdir(outside)
    const sandbox = join(root, 'sandbox')
    await mkdir(sandbox)
    // Symlinks pointing out of the target, followed by entries that would write through them if followed.
    const base = await encode(
      dir({ a: link(outside), b: link('../../outside'), c: dir({ f: file('x') }), d: file('y', true) })
    )
    let n = 0
    await fc.assert(
      fc.asyncProperty(mutationArb, async (mutation) => {
        const target = join(sandbox, `t${n++}`)
        await restoreNar(chunked(mutate(base, mutation)), target).catch((err) => {
          if (!(err instanceof InvalidNarError)) throw err
        })
        assert.deepEqual(await readdir(outside), [])
        const left = await readdir(sandbox)
        assert.ok(left.every((name) => name.startsWith('t')))
      }),
      { numRuns: 300 }
    )
  })

  it('hashes a NAR as sha256:<nix32> with its size', async () => {
    // printf 'hi\n' > hi; nix-store --dump hi | nix-hash --type sha256 --base32 --flat /dev/stdin
    const { hash, size } = await hashNar(chunked(await encode(file('hi\n'))))
    assert.equal(size, 120)
    assert.equal(formatHash(hash), 'sha256:1xmr8jicvzszfzpz46g37mlpvbzjl2wpwvl2b05psipssyp1sm8h')
  })

  it('lists a NAR like nix nar ls -lR and --json', async () => {
    const nar = await encode(
      dir({ a: file('hi\n'), d: dir({ e: dir({ x: file('x', true) }), l: link('../a') }) })
    )
    const long = Buffer.from(await collect(formatNarListing(decodeNar(chunked(nar)), 'long'))).toString()
    assert.equal(
      long,
      [
        '-r--r--r--                    3 ./a',
        'dr-xr-xr-x                    0 ./d',
        'dr-xr-xr-x                    0 ./d/e',
        '-r-xr-xr-x                    1 ./d/e/x',
        'lrwxrwxrwx                    0 ./d/l -> ../a',
        ''
      ].join('\n')
    )
    const json = Buffer.from(await collect(formatNarListing(decodeNar(chunked(nar)), 'json'))).toString()
    assert.equal(
      json,
      '{"type":"directory","entries":{"a":{"type":"regular","size":3,"narOffset":232},"d":{"type":"directory","entries":{"e":{"type":"directory","entries":{"x":{"type":"regular","size":1,"executable":true,"narOffset":728}}},"l":{"type":"symlink","target":"../a"}}}}}'
    )
  })
})

narSourceCompliance('in-memory tree (test helper)', {
  setup: async (tree) => memorySource(tree),
  teardown: async () => {}
})

for (const blocking of [false, true]) {
  let root = ''
  narSourceCompliance(`file system (${blocking ? 'blocking' : 'non-blocking'})`, {
    async setup(tree) {
      root = await makeTemp()
      await writeTree(join(root, 't'), tree)
      return createFsNarSource(join(root, 't'), { blocking })
    },
    async teardown() {
      const { rm } = await import('node:fs/promises')
      await rm(root, { recursive: true, force: true })
    }
  })
}
