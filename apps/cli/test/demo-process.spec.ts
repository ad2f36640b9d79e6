/**
 * The demo's child programs (src/demo/process.ts) with a log file that cannot be written: the demo must go on (the
 * log is for the user to read later), not die of an unhandled stream error with its detached children orphaned.
 * Runs the real `narthex` binary (built by the test command).
 */
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Child } from '../src/demo/process.js'

describe('demo child programs', () => {
  it('run, print and stop when their log file cannot be written', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'narthex-demo-child-'))
    const uncaught: Error[] = []
    const onUncaught = (err: Error): void => void uncaught.push(err)
    const mochaHandlers = process.listeners('uncaughtException')
    process.removeAllListeners('uncaughtException')
    process.on('uncaughtException', onUncaught)
    try {
      // the log path is a directory: opening it for append fails with EISDIR
      await mkdir(join(dir, 'version.log'))
      const child = new Child({ name: 'version', args: ['--version'], logDir: dir, env: process.env })
      const m = await child.waitForLine(/^narthex (\S+)$/, 30_000)
      assert.ok(m[1])
      assert.equal(await child.exited, 0)
      await child.stop(1000)
      await new Promise((r) => setTimeout(r, 50))
    } finally {
      process.off('uncaughtException', onUncaught)
      for (const h of mochaHandlers) process.on('uncaughtException', h)
      await rm(dir, { recursive: true, force: true })
    }
    assert.deepEqual(
      uncaught.map((e) => e.message),
      []
    )
  })
})
