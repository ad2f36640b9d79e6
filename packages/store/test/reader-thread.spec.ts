import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tempDir } from '../../../test/util/index.js'
import { ChunkFileReadError, ReaderThread, ReaderThreads } from '../src/reader-thread.js'

describe('store reader thread', () => {
  let dir: { path: string; cleanup: () => Promise<void> }
  const reader = new ReaderThread()
  before(async () => {
    dir = await tempDir('narthex-reader-')
    await writeFile(join(dir.path, 'a'), 'hello ')
    await writeFile(join(dir.path, 'b'), 'world')
    await mkdir(join(dir.path, 'd'))
  })
  after(async () => {
    await reader.stop()
    await dir.cleanup()
  })
  const shared = (n: number) => new Uint8Array(new SharedArrayBuffer(n + 4), 2, n)
  const p = (name: string) => join(dir.path, name)

  it('reads files one after the other into a view of shared memory, and nothing outside it', async () => {
    const into = shared(11)
    await reader.read(into, [p('a'), p('b')], [6, 5])
    assert.equal(Buffer.from(into).toString(), 'hello world')
    const all = new Uint8Array(into.buffer)
    assert.deepEqual([all[0], all[1], all[13], all[14]], [0, 0, 0, 0])
  })

  it('names the file that failed and why: missing, short, not a file', async () => {
    const fails = async (paths: string[], sizes: number[], index: number, code: string) => {
      const err = await reader.read(shared(20), paths, sizes).then(
        () => assert.fail('resolved'),
        (e: unknown) => e
      )
      assert.ok(err instanceof ChunkFileReadError, String(err))
      assert.deepEqual([err.index, err.code], [index, code])
    }
    await fails([p('a'), p('nope')], [6, 5], 1, 'ENOENT')
    await fails([p('a'), p('b')], [6, 7], 1, 'SHORT')
    await fails([p('d')], [4], 0, 'EISDIR')
    // The thread is still there for the next read.
    const into = shared(5)
    await reader.read(into, [p('b')], [5])
    assert.equal(Buffer.from(into).toString(), 'world')
  })

  it('takes only shared memory; stop() fails a read outstanding with ReaderThreadError; the next read starts it again', async () => {
    assert.throws(() => reader.read(new Uint8Array(5), [p('b')], [5]), TypeError)
    const r = new ReaderThread()
    await r.read(shared(5), [p('b')], [5])
    const outcome = r.read(shared(5), [p('b')], [5]).then(
      () => 'read', // it may have finished before stop()
      (err: Error) => err.name
    )
    await r.stop()
    assert.match(await outcome, /^(read|ReaderThreadError)$/)
    // A stopped thread starts again on the next read.
    const into = shared(6)
    await r.read(into, [p('a')], [6])
    assert.equal(Buffer.from(into).toString(), 'hello ')
    await r.stop()
  })

  it('reads chunk files into one buffer, each checked against its digest', async () => {
    const sha = (s: string) => createHash('sha256').update(s).digest()
    const digests = (...ds: Uint8Array[]) => Buffer.concat(ds)
    const [a, b] = await reader.readChunks([p('a'), p('b')], digests(sha('hello '), sha('world')), 1024, 1024)
    assert.ok(a?.ok && b?.ok)
    assert.equal(Buffer.from(a.bytes).toString() + Buffer.from(b.bytes).toString(), 'hello world')
    assert.equal(a.bytes.buffer, b.bytes.buffer, 'one buffer for the group')
    const bad = await reader.readChunks(
      [p('a'), p('nope'), p('b'), p('d'), p('a'), p('b')],
      digests(sha('hello '), sha(''), sha('WORLD'), sha(''), sha('hello '), sha('world')),
      5,
      1024
    )
    assert.deepEqual(
      bad.map((r) => (r.ok ? Buffer.from(r.bytes).toString() : r.code)),
      // 'hello ' is 6 bytes, over the 5 allowed: never read, reported as corrupt.
      ['CORRUPT', 'ENOENT', 'CORRUPT', 'EISDIR', 'CORRUPT', 'world']
    )
    await assert.rejects(reader.readChunks([p('a')], new Uint8Array(31), 10, 10), TypeError)
    // Only what fits in maxBytes, and always the first file: a prefix of the paths.
    const fits = async (maxBytes: number) =>
      (
        await reader.readChunks(
          [p('a'), p('b'), p('a')],
          digests(sha('hello '), sha('world'), sha('hello ')),
          10,
          maxBytes
        )
      )
        .map((r) => (r.ok ? Buffer.from(r.bytes).toString() : r.code))
        .join('')
    assert.equal(await fits(1), 'hello ')
    assert.equal(await fits(11), 'hello world')
    assert.equal(await fits(16), 'hello world')
    assert.equal(await fits(17), 'hello worldhello ')
  })

  it('starts another thread only while the ones it has are busy', async () => {
    const threads = new ReaderThreads(2)
    try {
      const into = () => shared(6)
      await threads.read(into(), [p('a')], [6])
      await threads.read(into(), [p('a')], [6])
      assert.equal(threads.started, 1)
      await Promise.all([1, 2, 3, 4].map(() => threads.read(into(), [p('a')], [6])))
      assert.equal(threads.started, 2)
    } finally {
      await threads.stop()
    }
  })
})
