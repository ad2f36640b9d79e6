/**
 * The narinfo cache answers from memory at once and writes to disk behind: what was put is on disk once `flush`
 * or `stop` resolves (so a restart still answers), and a write that fails is reported, never thrown at a request.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Level } from 'level'
import { delays, smallDisk, tempDir, waitFor } from '../../../test/util/index.js'
import { NarinfoCache } from '../src/narinfo-cache.js'
import { fakePath } from './fixtures.js'

const PUT_LOOP = fileURLToPath(new URL('./fixtures/narinfo-put-loop.ts', import.meta.url))
const KILLS = 8

describe('shim narinfo cache', () => {
  it('answers at once, and has every narinfo on disk after stop', async () => {
    const dir = await tempDir('narthex-narinfo-cache-')
    try {
      const paths = Array.from({ length: 50 }, (_, i) => fakePath(`p${i}`, 100))
      const cache = new NarinfoCache({ dir: dir.path })
      await cache.start()
      for (const p of paths) {
        const entry = cache.put(p.hashPart, { text: p.narinfo })
        assert.equal(entry.text, p.narinfo)
        assert.equal(cache.get(p.hashPart)?.text, p.narinfo, 'served before it is written')
      }
      await cache.stop()
      const again = new NarinfoCache({ dir: dir.path })
      await again.start()
      try {
        assert.equal(again.size, 50)
        for (const p of paths) assert.equal(again.get(p.hashPart)?.text, p.narinfo)
      } finally {
        await again.stop()
      }
    } finally {
      await dir.cleanup()
    }
  })

  it('reports narinfos it could not write (full disk) and still serves them', async () => {
    const disk = await smallDisk('1m')
    const mnt = disk.path
    const errors: string[] = []
    const cache = new NarinfoCache({
      dir: join(mnt, 'narinfo'),
      onError: (what, err) => errors.push(`${what}: ${err.message}`)
    })
    try {
      await cache.start()
      // Fill the disk.
      const filler = await open(join(mnt, 'filler'), 'w')
      const block = Buffer.alloc(64 * 1024, 1)
      try {
        for (;;) await filler.write(block)
      } catch (err) {
        assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC')
      } finally {
        await filler.close()
      }
      const paths = Array.from({ length: 200 }, (_, i) => fakePath(`full${i}`, 100))
      for (const p of paths) cache.put(p.hashPart, { text: p.narinfo })
      await cache.flush()
      assert.equal(errors.length > 0, true, 'the failed write was reported')
      assert.match(errors[0]!, /writing \d+ narinfos to disk: .*(space|ENOSPC)/i)
      for (const p of paths) assert.ok(cache.get(p.hashPart), 'still served from memory')
    } finally {
      await cache.stop().catch(() => {})
      await disk.cleanup()
    }
  })

  it(`keeps what it flushed, and only whole narinfos in the order put, across ${KILLS} kill -9s`, async function () {
    this.timeout(120_000)
    const dir = await tempDir('narthex-narinfo-kill-')
    const wait = delays(20261123, 50, 300)
    let held = 0
    try {
      for (let k = 0; k < KILLS; k++) {
        let out = ''
        const child = spawn(
          process.execPath,
          ['--import', 'tsx', '--conditions', 'source', PUT_LOOP, dir.path],
          {
            stdio: ['ignore', 'pipe', 'inherit']
          }
        )
        const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString()
        })
        try {
          await waitFor('the child to open the cache', () => out.includes('ready'), 30_000)
          await waitFor('a flush', () => out.includes('flushed'), 30_000)
          await new Promise((r) => setTimeout(r, wait.next().value as number)) // a random moment mid-writes
        } finally {
          child.kill('SIGKILL')
          await exited
        }
        assert.equal(child.signalCode, 'SIGKILL', 'the child must still have been running when killed')
        const flushed = Math.max(...[...out.matchAll(/flushed (\d+)/g)].map((m) => Number(m[1])))

        // Every record the database holds is a whole narinfo the cache loads, and they are the first n put.
        const db = new Level<string, { text: string }>(join(dir.path), { valueEncoding: 'json' })
        const names: number[] = []
        try {
          for await (const [hashPart, { text }] of db.iterator()) {
            const name = /^StorePath: \/nix\/store\/([a-z0-9]{32})-kill-(\d+)$/m.exec(text)
            assert.ok(name !== null, `unexpected record ${hashPart}: ${text.slice(0, 80)}`)
            assert.equal(name[1], hashPart)
            names.push(Number(name[2]))
          }
        } finally {
          await db.close()
        }
        names.sort((a, b) => a - b)
        assert.deepEqual(
          names,
          Array.from({ length: names.length }, (_, i) => i),
          'not the first n narinfos put'
        )
        assert.ok(names.length >= flushed, `${names.length} narinfos on disk, ${flushed} were flushed`)
        assert.ok(names.length >= held, 'narinfos held before this run were lost')
        const cache = new NarinfoCache({ dir: dir.path })
        await cache.start()
        try {
          assert.equal(cache.size, names.length, 'records the cache cannot load')
        } finally {
          await cache.stop()
        }
        held = names.length
      }
      assert.ok(held > KILLS * 25, `only ${held} narinfos were written over ${KILLS} runs`)
    } finally {
      await dir.cleanup()
    }
  })
})
