/** The shared progress renderer: the terminal bar (redrawn in place, fitted to the width) and plain lines. */
import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import {
  createProgress,
  formatDuration,
  PLAIN_INTERVAL_MS,
  REDRAW_MS,
  renderProgress
} from '../src/progress.js'

const MiB = 1024 * 1024

function sink() {
  const stream = new PassThrough()
  let text = ''
  stream.setEncoding('utf8').on('data', (d: string) => {
    text += d
  })
  return { stream, text: () => text }
}

describe('progress renderer', () => {
  it('shows bar, percentage, bytes, rate, ETA, items and name', () => {
    const line = renderProgress(
      'import',
      { bytes: 5 * MiB, totalBytes: 20 * MiB, items: 2, totalItems: 5, name: 'abc-hello' },
      2000,
      200,
      true
    )
    assert.equal(
      line,
      'import  [#####---------------]   25%  5.0 MiB/20.0 MiB  2.5 MiB/s  ETA 6s  2/5  abc-hello'
    )
  })

  it('fits the line to the terminal width', () => {
    const line = renderProgress('fetch', { bytes: 1, totalBytes: 2, name: 'x'.repeat(200) }, 1000, 40, true)
    assert.equal(line.length, 40)
    assert.ok(line.endsWith('…'))
  })

  it('shows the elapsed time when there are no bytes', () => {
    assert.equal(renderProgress('build', { name: 'building' }, 65_000, 80, true), 'build  1m05s  building')
    assert.equal(formatDuration(7300), '2h01m')
  })

  it('on a terminal redraws one line in place, at most every REDRAW_MS, and keeps permanent lines', () => {
    const out = sink()
    let now = 0
    const p = createProgress({ stream: out.stream, label: 'import', tty: true, columns: 60, now: () => now })
    p.update({ bytes: 0, totalBytes: 100 })
    p.update({ bytes: 10 }) // too soon: not drawn
    now += REDRAW_MS
    p.update({ bytes: 50 })
    p.line('imported /nix/store/x')
    p.finish()
    const CLEAR = '\r\x1b[K'
    const text = out.text()
    // 0%, 50%, and the bar drawn again under the permanent line
    assert.equal(text.split(`${CLEAR}import  `).length - 1, 3, JSON.stringify(text))
    assert.ok(text.includes(`${CLEAR}imported /nix/store/x\n`))
    assert.ok(text.endsWith(CLEAR), 'the bar is removed at the end')
    for (const line of text.split(CLEAR).flatMap((l) => l.split('\n'))) assert.ok(line.length <= 59, line)
  })

  it('without a terminal writes no escapes and at most one plain line per PLAIN_INTERVAL_MS', () => {
    const out = sink()
    let now = 0
    const p = createProgress({ stream: out.stream, label: 'fetch', tty: false, now: () => now })
    p.update({ bytes: 1, totalBytes: 100 }) // a quick command prints no status line
    now += PLAIN_INTERVAL_MS
    p.update({ bytes: 50 })
    now += 1
    p.update({ bytes: 60 })
    p.line('done')
    p.finish()
    assert.ok(!out.text().includes('\x1b'))
    assert.deepEqual(out.text().split('\n'), ['fetch   50%  50 B/100 B  10 B/s  ETA 5s', 'done', ''])
  })

  it('with quiet writes no status lines, only permanent ones', () => {
    const out = sink()
    const p = createProgress({ stream: out.stream, label: 'fetch', tty: true, quiet: true })
    p.update({ bytes: 1, totalBytes: 2 })
    p.line('imported x')
    p.finish()
    assert.equal(out.text(), 'imported x\n')
  })
})
