/**
 * The narinfo cache answers from memory at once and writes to disk behind: what was put is on disk once `flush`
 * or `stop` resolves (so a restart still answers), and a write that fails is reported, never thrown at a request.
 */
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdir, open } from 'node:fs/promises'
import { join } from 'node:path'
import { tempDir } from '../../../test/util/index.js'
import { NarinfoCache } from '../src/narinfo-cache.js'
import { fakePath } from './fixtures.js'

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
    const parent = await tempDir('narthex-narinfo-tmpfs-')
    const mnt = join(parent.path, 'mnt')
    await mkdir(mnt)
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt])
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
      execFileSync('umount', [mnt])
      await parent.cleanup()
    }
  })
})
