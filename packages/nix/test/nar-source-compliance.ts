/**
 * The compliance suite every NarSource runs: give it a way to present a tree, and it checks each method and the
 * NAR that encodeNar makes from it against a NAR assembled by hand from the format's tokens.
 */
import assert from 'node:assert/strict'
import { encodeNar, type NarSource } from '../src/index.js'
import { b, build, collect, dir, entry, file, link, regularNode, type Tree } from './nar-trees.js'

export interface NarSourceHarness {
  /** Present `tree` through the source under test. */
  setup(tree: Tree): Promise<NarSource>
  teardown(): Promise<void>
}

const settle = async <T>(v: T | Promise<T>): Promise<T> => v

// Entries deliberately listed out of order: the writer, not the source, sorts.
const TREE: Tree = dir({
  z: link('a'),
  '\u{10000}': file('astral'),
  '\u{e000}': file('private use'),
  a: file('', true),
  d: dir({ x: file('x'.repeat(70_000)) })
})

const EXPECTED = build(
  'nix-archive-1',
  '(',
  'type',
  'directory',
  ...entry('a', regularNode('', true)),
  ...entry('d', ['(', 'type', 'directory', ...entry('x', regularNode('x'.repeat(70_000))), ')']),
  ...entry('z', ['(', 'type', 'symlink', 'target', 'a', ')']),
  ...entry('\u{e000}', regularNode('private use')),
  ...entry('\u{10000}', regularNode('astral')),
  ')'
)

export function narSourceCompliance(name: string, harness: NarSourceHarness): void {
  describe(`NarSource compliance: ${name}`, () => {
    let source: NarSource
    beforeEach(async () => {
      source = await harness.setup(TREE)
    })
    afterEach(() => harness.teardown())

    it('reports types, sizes and the executable bit without following symlinks', async () => {
      assert.deepEqual(await settle(source.lstat([])), { type: 'directory' })
      assert.deepEqual(await settle(source.lstat([b('a')])), { type: 'regular', size: 0, executable: true })
      assert.deepEqual(await settle(source.lstat([b('d'), b('x')])), {
        type: 'regular',
        size: 70_000,
        executable: false
      })
      assert.deepEqual(await settle(source.lstat([b('z')])), { type: 'symlink' })
    })

    it('lists every name as bytes and reads link targets', async () => {
      const names = (await settle(source.readDirectory([]))).map((n) => Buffer.from(n).toString('hex')).sort()
      assert.deepEqual(
        names,
        ['a', 'd', 'z', '\u{e000}', '\u{10000}'].map((n) => Buffer.from(n).toString('hex')).sort()
      )
      assert.deepEqual(Buffer.from(await settle(source.readLink([b('z')]))), Buffer.from('a'))
    })

    it('reads a file to its end, then returns 0', async () => {
      const f = await settle(source.openFile([b('d'), b('x')]))
      const into = new Uint8Array(100_000)
      let at = 0
      for (;;) {
        const n = await settle(f.read(into, at, Math.min(4096, into.length - at)))
        if (n === 0) break
        at += n
      }
      await settle(f.close())
      assert.equal(at, 70_000)
      assert.ok(into.subarray(0, at).every((x) => x === 0x78))
    })

    it('encodes to the NAR assembled from the format by hand', async () => {
      assert.deepEqual(await collect(encodeNar(source, { chunkSize: 16384 })), EXPECTED)
    })
  })
}
