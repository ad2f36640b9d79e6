/**
 * The NAR commands' quick path (src/quick.ts), as the binary runs it: the bundle `pnpm build` makes
 * (dist/quick.bundle.cjs), against `main` as built. It must take exactly the NAR commands and run them as `main`
 * does. (Built code, not src/: under mocha, tsx loads modules both as CommonJS and as ES modules, which gives the
 * lazily imported commands their own copy of the error classes and turns their usage errors into failures.)
 */
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { main } from '../dist/main.js'
import type { Io } from '../src/command.js'

const { quickMain } = createRequire(import.meta.url)('../dist/quick.bundle.cjs') as {
  quickMain(argv: string[], io: Io): Promise<number> | undefined
}

function io() {
  const out = { stdout: '', stderr: '' }
  const stream = (key: 'stdout' | 'stderr') => {
    const s = new PassThrough()
    s.setEncoding('utf8').on('data', (d: string) => {
      out[key] += d
    })
    return s
  }
  return { io: { stdin: new PassThrough(), stdout: stream('stdout'), stderr: stream('stderr') }, out }
}

describe('quickMain', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'narthex-quick-'))
    await writeFile(join(dir, 'f'), 'hello\n')
  })
  after(() => rm(dir, { recursive: true, force: true }))

  it('leaves every command line that does not name a NAR command to main', () => {
    for (const argv of [
      [],
      ['--help'],
      ['--version'],
      ['nar'],
      ['store', 'ls'],
      ['seeder'],
      ['narinfo', 'sign']
    ])
      assert.equal(quickMain(argv, io().io), undefined, argv.join(' '))
    // Wrong global flags: main reports them.
    assert.equal(quickMain(['--log-level', 'loud', 'nar', 'dump', dir], io().io), undefined)
  })

  it('runs a NAR command with global flags anywhere, printing what main prints', async () => {
    const a = io()
    const b = io()
    assert.equal(await quickMain(['--quiet', 'nar', 'hash', join(dir, 'f'), '--log-format', 'json'], a.io), 0)
    assert.equal(await main(['--quiet', 'nar', 'hash', join(dir, 'f'), '--log-format', 'json'], b.io), 0)
    assert.match(a.out.stdout, /^sha256:[0-9a-z]{52}\n$/)
    assert.deepEqual(a.out, b.out)
  })

  it('prints the usage for --help and reports a usage error with the usage and status 2', async () => {
    const help = io()
    assert.equal(await quickMain(['nar', 'dump', '--help'], help.io), 0)
    assert.match(help.out.stdout, /^Usage: narthex nar dump PATH/)
    const a = io()
    assert.equal(await quickMain(['nar', 'dump'], a.io), 2)
    assert.match(
      a.out.stderr,
      /^narthex nar dump: expected exactly one PATH\n\nUsage: narthex nar dump PATH\n/
    )
  })

  it('reports a failure in one line with a hint and status 1', async () => {
    const a = io()
    assert.equal(await quickMain(['nar', 'hash', join(dir, 'missing')], a.io), 1)
    assert.equal(
      a.out.stderr,
      `narthex nar hash: ${join(dir, 'missing')}: no such file or directory\n  check the path\n`
    )
  })
})
