import assert from 'node:assert/strict'
import { cp, readdir, readFile, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { parseNarinfo } from '@narthex/nix'
import { nixBuild, nixEnv, runOk, tempDir } from '../../../test/util/index.js'
import {
  createStore,
  type ImportEvent,
  importFromBinaryCache,
  importStorePaths,
  type Store
} from '../src/index.js'
import { collect, filesUnder } from './util.js'

/** A three-path closure built offline by the real nix: top → mid → leaf, top with a multi-chunk file. */
const EXPR = `
let
  mk = name: script: derivation { inherit name; builder = "/bin/sh"; args = ["-c" script];
    PATH = "/usr/bin:/bin"; system = builtins.currentSystem; };
  leaf = mk "narthex-import-leaf" "echo leaf > $out";
  mid = mk "narthex-import-mid" "mkdir $out; echo \${leaf} > $out/ref";
in mk "narthex-import-top" ''
  mkdir -p $out/bin
  echo \${mid} > $out/ref
  i=0; while [ $i -lt 6000 ]; do echo "line $i of a file big enough to be cut into several chunks"; i=$((i+1)); done > $out/big
  ln -s big $out/link
  printf '#!/bin/sh\\necho hi\\n' > $out/bin/hi; chmod +x $out/bin/hi
''
`

describe('import from the local Nix store and binary caches', function () {
  this.timeout(120_000)
  let work: { path: string; cleanup: () => Promise<void> }
  let env: NodeJS.ProcessEnv
  let top: string
  let closure: string[]
  let dumps: Map<string, Buffer>
  let dir: { path: string; cleanup: () => Promise<void> }
  let store: Store
  let server: Server | undefined

  before(async () => {
    work = await tempDir('narthex-import-')
    env = nixEnv(join(work.path, 'cache-home'))
    ;[top] = await nixBuild(work.path, EXPR, env)
    const r = await runOk('nix-store', ['-qR', top!], { env })
    closure = r.stdout.toString().trim().split('\n').sort()
    assert.equal(closure.length, 3)
    dumps = new Map()
    for (const p of closure) dumps.set(p, (await runOk('nix-store', ['--dump', p], { env })).stdout)
  })
  after(() => work.cleanup())
  beforeEach(async () => {
    dir = await tempDir('narthex-import-store-')
    store = createStore({ dir: dir.path })
    await store.start()
  })
  afterEach(async () => {
    await store.stop()
    await dir.cleanup()
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
    server = undefined
  })

  /** Every path of the closure is stored, reads back as `nix-store --dump` writes it, with its narinfo. */
  async function assertClosureStored(): Promise<void> {
    for (const p of closure) {
      const hashPart = p.slice('/nix/store/'.length, '/nix/store/'.length + 32)
      const stored = await store.getNarinfo(hashPart)
      assert.ok(stored, `no narinfo for ${p}`)
      const info = parseNarinfo(stored.text)
      assert.equal(info.storePath, p)
      assert.deepEqual(await collect(store.readNar(info.narHash)), dumps.get(p))
    }
  }

  async function assertStoreEmpty(): Promise<void> {
    assert.equal((await store.stats()).nars, 0)
    assert.deepEqual(await filesUnder(join(dir.path, 'chunks')), [])
    assert.deepEqual(await filesUnder(join(dir.path, 'tmp')), [])
  }

  async function copyTo(compression: string): Promise<string> {
    const cache = join(work.path, `cache-${compression}`)
    await runOk('nix', ['copy', '--to', `file://${cache}?compression=${compression}`, top], { env })
    return cache
  }

  function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
    server = createServer(handler)
    return new Promise((resolve) => {
      server!.listen(0, '127.0.0.1', () =>
        resolve(`http://127.0.0.1:${(server!.address() as AddressInfo).port}`)
      )
    })
  }

  function serveDir(root: string): Promise<string> {
    return serve(async (req, res) => {
      try {
        const body = await readFile(join(root, decodeURIComponent(new URL(req.url!, 'http://x').pathname)))
        res.writeHead(200, { 'content-length': body.length }).end(body)
      } catch {
        res.writeHead(404).end()
      }
    })
  }

  it('imports a path with its closure from the local store, with References and Deriver from the database', async () => {
    const events: ImportEvent[] = []
    await importStorePaths(store, [top], { closure: true, env, onEvent: (e) => events.push(e) })
    await assertClosureStored()
    const info = parseNarinfo((await store.getNarinfo(top.slice(11, 43)))!.text)
    const expected = JSON.parse(
      (await runOk('nix', ['path-info', '--json', top], { env })).stdout.toString()
    )[0]
    assert.deepEqual(
      info.references,
      expected.references.map((p: string) => p.slice(11))
    )
    assert.equal(info.deriver, expected.deriver.slice(11))
    assert.equal(info.compression, 'none')
    assert.deepEqual(
      events
        .filter((e) => e.type === 'done')
        .map((e) => (e as { storePath: string }).storePath)
        .sort(),
      closure
    )
    // Importing again finds everything present and writes nothing.
    const again: ImportEvent[] = []
    await importStorePaths(store, [top], { closure: true, env, onEvent: (e) => again.push(e) })
    assert.ok(again.every((e) => e.type === 'done' && e.skipped))
  })

  it('fails clearly for a path that is not in the Nix store', async () => {
    await assert.rejects(
      importStorePaths(store, ['/nix/store/00000000000000000000000000000000-nope'], { env }),
      {
        name: 'NixCommandError'
      }
    )
    await assertStoreEmpty()
  })

  for (const compression of ['none', 'xz', 'bzip2', 'zstd']) {
    it(`imports a closure from a file:// cache with compression=${compression}, keeping signatures`, async () => {
      const cache = await copyTo(compression)
      // Sign the narinfos so there is a signature to keep.
      const keyFile = join(work.path, 'k.sec')
      await runOk('nix-store', ['--generate-binary-cache-key', 'import-test-1', keyFile, `${keyFile}.pub`], {
        env
      })
      await runOk('nix', ['store', 'sign', '--store', `file://${cache}`, '--key-file', keyFile, '-r', top], {
        env
      })
      await importFromBinaryCache(store, `file://${cache}`, [top], { closure: true })
      await assertClosureStored()
      const stored = await store.getNarinfo(top.slice(11, 43))
      assert.equal(stored!.text, await readFile(join(cache, `${top.slice(11, 43)}.narinfo`), 'utf8'))
      assert.match(stored!.text, /^Sig: import-test-1:/m)
    })
  }

  it('imports everything in a file:// cache, and a closure over http://', async () => {
    const cache = await copyTo('xz')
    await importFromBinaryCache(store, `file://${cache}`, [])
    await assertClosureStored()
    await store.stop()
    await dir.cleanup()
    dir = await tempDir('narthex-import-store-')
    store = createStore({ dir: dir.path })
    await store.start()
    const url = await serveDir(cache)
    await importFromBinaryCache(store, url, [top], { closure: true })
    await assertClosureStored()
  })

  it('rejects a NAR whose hash does not match its narinfo, committing nothing', async () => {
    const cache = join(work.path, 'cache-tampered')
    await cp(await copyTo('none'), cache, { recursive: true })
    const narDir = join(cache, 'nar')
    for (const f of await readdir(narDir)) {
      const bytes = await readFile(join(narDir, f))
      bytes[bytes.length - 20]! ^= 1 // inside the last file's contents: still a well-formed NAR
      await writeFile(join(narDir, f), bytes)
    }
    await assert.rejects(importFromBinaryCache(store, `file://${cache}`, [top]), {
      name: 'NarHashMismatchError'
    })
    await assertStoreEmpty()
  })

  it('rejects a truncated download, committing nothing', async () => {
    const cache = await copyTo('none')
    const url = await serve(async (req, res) => {
      const body = await readFile(join(cache, new URL(req.url!, 'http://x').pathname)).catch(() => undefined)
      if (body === undefined) return void res.writeHead(404).end()
      if (!req.url!.startsWith('/nar/'))
        return void res.writeHead(200, { 'content-length': body.length }).end(body)
      res.writeHead(200, { 'content-length': body.length })
      res.write(body.subarray(0, body.length >> 1), () => res.destroy())
    })
    await assert.rejects(importFromBinaryCache(store, url, [top]), { name: 'TruncatedDownloadError' })
    await assertStoreEmpty()
  })

  it('rejects a narinfo that does not parse, a missing one, corrupt compressed data and an unreachable cache', async () => {
    const garbage = await serve((_req, res) => void res.writeHead(200).end('this is not a narinfo\n'))
    await assert.rejects(importFromBinaryCache(store, garbage, [top]), { name: 'NarinfoParseError' })
    await new Promise<void>((r) => server!.close(() => r()))
    server = undefined
    // A port nothing listens on: bind one, note it, close it.
    const closed = await serve(() => {})
    await new Promise<void>((r) => server!.close(() => r()))
    server = undefined
    await assert.rejects(importFromBinaryCache(store, closed, [top]), { name: 'CacheUnreachableError' })
    const cache = join(work.path, 'cache-badxz')
    await cp(await copyTo('xz'), cache, { recursive: true })
    await assert.rejects(importFromBinaryCache(store, `file://${cache}`, ['0'.repeat(32)]), {
      name: 'NarinfoNotFoundError'
    })
    for (const f of await readdir(join(cache, 'nar'))) {
      const bytes = await readFile(join(cache, 'nar', f))
      bytes.fill(0x55, 40, bytes.length - 20)
      await writeFile(join(cache, 'nar', f), bytes)
    }
    await assert.rejects(importFromBinaryCache(store, `file://${cache}`, [top]), {
      name: 'CorruptCompressedDataError'
    })
    await assert.rejects(importFromBinaryCache(store, `file://${join(work.path, 'no-such-cache')}`, [top]), {
      name: 'CacheUnreachableError'
    })
    await assertStoreEmpty()
  })
})
