import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { delays, tempDir, waitFor } from '../../../test/util/index.js'
import { createStore } from '../src/index.js'
import { collect, filesUnder, narHashOf } from './util.js'

const FIXTURE = fileURLToPath(new URL('./fixtures/import-loop.ts', import.meta.url))
const ITERATIONS = 20

describe('store survives kill -9', function () {
  this.timeout(120_000)
  let dir: { path: string; cleanup: () => Promise<void> }
  let child: ChildProcess | undefined
  before(async () => {
    dir = await tempDir('narthex-crash-')
  })
  after(async () => {
    child?.kill('SIGKILL')
    await dir.cleanup()
  })

  it(`keeps every indexed NAR readable with the right NarHash across ${ITERATIONS} kills mid-import`, async () => {
    const wait = delays(20240611, 0, 400)
    let indexedSeen = 0
    for (let i = 0; i < ITERATIONS; i++) {
      let out = ''
      const proc = spawn(
        process.execPath,
        ['--import', 'tsx', '--conditions', 'source', FIXTURE, dir.path, String(i)],
        {
          stdio: ['ignore', 'pipe', 'inherit']
        }
      )
      child = proc
      const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()))
      proc.stdout!.on('data', (d: Buffer) => {
        out += d.toString()
      })
      await waitFor('the importing child to open the store', () => out.includes('ready'), 30_000)
      // Every other run first lets one import commit, so the runs exercise a growing store whatever the machine's
      // load; the kill still lands at a random moment of a later import.
      if (i % 2 === 0) await waitFor('an import to commit', () => out.includes('committed'), 60_000)
      const ms = wait.next().value as number
      await new Promise((r) => setTimeout(r, ms)) // the point of the test: a random moment mid-import
      proc.kill('SIGKILL')
      await exited
      assert.equal(proc.signalCode, 'SIGKILL', 'the child must still have been running when killed')

      const store = createStore({ dir: dir.path })
      await store.start()
      try {
        assert.deepEqual(await filesUnder(`${dir.path}/tmp`), [], 'temp files left after start')
        const stray = (await filesUnder(dir.path)).filter((f) => f.endsWith('.tmp'))
        assert.deepEqual(stray, [])
        for await (const e of store.listNars()) {
          assert.equal(e.damaged, false)
          const bytes = await collect(store.readNar(e.narHash))
          assert.equal(bytes.length, e.narSize)
          assert.equal(narHashOf(bytes), e.narHash)
          for (const h of e.storePathHashes) assert.equal((await store.getNarinfo(h))?.narHash, e.narHash)
          indexedSeen++
        }
        const report = await store.verify()
        assert.deepEqual([report.corrupt, report.missing, report.damagedNars], [[], [], []])
      } finally {
        await store.stop()
      }
    }
    assert.ok(
      indexedSeen > ITERATIONS,
      `only ${indexedSeen} NARs were ever indexed: the test is not exercising imports`
    )
  })
})
