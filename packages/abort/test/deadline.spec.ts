import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { deadline } from '@narthex/abort'
import { collectGarbage, REPO_ROOT } from '../../../test/util/index.js'

/** Lets the current task end, so that what only its stack held can be collected. */
const afterThisTask = () => new Promise((resolve) => setImmediate(resolve))

/** Resolves with the abort reason, or 'pending' when the signal has not aborted within `ms`. */
function outcome(signal: AbortSignal, ms: number): Promise<unknown> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve('pending'), ms)
    signal.addEventListener('abort', () => {
      clearTimeout(t)
      resolve(signal.reason)
    })
  })
}

describe('deadline', () => {
  it('aborts with a TimeoutError when nothing else does', async () => {
    const reason = await outcome(deadline(50), 2000)
    assert.ok(reason instanceof DOMException)
    assert.equal(reason.name, 'TimeoutError')
  })

  it('aborts on time with a caller signal after a garbage collection took everything it could', async () => {
    const caller = new AbortController()
    const signal = deadline(200, caller.signal)
    const result = outcome(signal, 3000)
    await afterThisTask()
    collectGarbage()
    const reason = await result
    assert.equal((reason as DOMException).name, 'TimeoutError')
    // What the helper is for: the obvious composite, on this Node, may or may not survive the same collection.
    const naive = AbortSignal.any([caller.signal, AbortSignal.timeout(200)])
    const naiveResult = outcome(naive, 1000)
    await afterThisTask()
    collectGarbage()
    const naiveReason = await naiveResult
    if (naiveReason === 'pending')
      console.log('      (this Node loses AbortSignal.any([signal, AbortSignal.timeout()]))')
  })

  it("aborts with the caller's reason when the caller aborts first", async () => {
    const caller = new AbortController()
    const signal = deadline(60_000, undefined, caller.signal)
    const why = new Error('client went away')
    caller.abort(why)
    assert.equal(signal.aborted, true)
    assert.equal(signal.reason, why)
  })

  it('is aborted at once when a caller signal already is', () => {
    const signal = deadline(60_000, AbortSignal.abort(new Error('already')))
    assert.equal(signal.aborted, true)
    assert.equal((signal.reason as Error).message, 'already')
  })

  it('refuses a deadline that is not a number of milliseconds', () => {
    assert.throws(() => deadline(-1), RangeError)
    assert.throws(() => deadline(Number.NaN), RangeError)
  })

  it('does not keep the process alive', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--conditions',
        'source',
        '--input-type=module',
        '-e',
        "const { deadline } = await import('@narthex/abort'); deadline(60_000, new AbortController().signal); deadline(60_000)"
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] }
    )
    const started = Date.now()
    const code = await new Promise((resolve) => child.on('exit', resolve))
    assert.equal(code, 0)
    assert.ok(Date.now() - started < 30_000)
  })
})
