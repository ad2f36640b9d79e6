/**
 * The demo's child programs (src/demo/process.ts) with a log file that cannot be written: the demo must go on (the
 * log is for the user to read later), not die of an unhandled stream error with its detached children orphaned.
 * Runs the real `narthex` binary (built by the test command).
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { uncaughtDuring } from '../../../test/util/index.js'
import { Child } from '../src/demo/process.js'

describe('demo child programs', () => {
  it('run, print and stop when their log file cannot be written', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'narthex-demo-child-'))
    try {
      // the log path is a directory: opening it for append fails with EISDIR
      await mkdir(join(dir, 'version.log'))
      const { uncaught } = await uncaughtDuring(async () => {
        const child = new Child({ name: 'version', args: ['--version'], logDir: dir, env: process.env })
        const m = await child.waitForLine(/^narthex (\S+)$/, 30_000)
        assert.ok(m[1])
        assert.equal(await child.exited, 0)
        await child.stop(1000)
      })
      assert.deepEqual(uncaught, [])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
