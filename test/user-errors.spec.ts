/**
 * Errors a user can cause on the command line, through the real CLI: each says what was wrong and what to do
 * (a second, indented line), exits 1 (2 for usage), and prints no stack trace. The conditions are the ones listed
 * in docs/errors.md ("Messages a user can meet"), which this file also checks against USER_ERRORS.
 */
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { USER_ERRORS } from '../apps/cli/src/explain.js'
import { narthex, nixBuild, nixEnv, REPO_ROOT, type RunResult, tempDir } from './util/index.js'
import { type Program, startProgram } from './util/network.js'

/** The message line and the advice line, and nothing like a stack trace. */
function failsWith(r: RunResult, code: number, message: RegExp, hint?: RegExp): void {
  assert.equal(r.code, code, r.stderr)
  assert.match(r.stderr, message)
  if (hint !== undefined) assert.match(r.stderr, hint)
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace')
}

describe('errors a user can cause', function () {
  this.timeout(120_000)
  let dir: { path: string; cleanup: () => Promise<void> }
  let sec: string
  let pub: string
  let pub2: string
  let taken: Server
  let takenPort: number
  const programs: Program[] = []

  before(async () => {
    dir = await tempDir('narthex-user-errors-')
    sec = join(dir.path, 'b1.sec')
    pub = (await narthex(['keygen', 'b1', '--out', sec])).stdout.toString().trim()
    pub2 = (await narthex(['keygen', 'b2', '--out', join(dir.path, 'b2.sec')])).stdout.toString().trim()
    await writeFile(join(dir.path, 'b1.pub'), `${pub}\n`)
    await writeFile(join(dir.path, 'garbage.sec'), 'this is not a key\n')
    taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    takenPort = (taken.address() as { port: number }).port
  })

  after(async () => {
    await Promise.all(programs.map((p) => p.stop()))
    taken.close()
    await dir.cleanup()
  })

  describe('key files', () => {
    const KEYGEN_HINT = /narthex keygen NAME/
    for (const cmd of [['attest'], ['build']]) {
      it(`${cmd[0]}: a missing key file is named, with how to make one`, async () => {
        const r = await narthex([
          ...cmd,
          '--orchestrator',
          'http://127.0.0.1:1',
          '--key',
          join(dir.path, 'nope.sec'),
          '/nix/store/x'
        ])
        failsWith(r, 1, /--key \S+nope\.sec: no such file/, KEYGEN_HINT)
      })
    }

    it('a public key where a secret key is expected says so', async () => {
      const r = await narthex([
        'attest',
        '--orchestrator',
        'http://127.0.0.1:1',
        '--key',
        join(dir.path, 'b1.pub'),
        '/nix/store/x'
      ])
      failsWith(r, 1, /b1\.pub is not a Nix secret key: key "b1" is a public key/, KEYGEN_HINT)
    })

    it('garbage in a key file is refused without echoing it', async () => {
      const r = await narthex(['narinfo', 'sign', '--key', join(dir.path, 'garbage.sec')], { input: 'x' })
      failsWith(r, 1, /garbage\.sec is not a Nix secret key/, KEYGEN_HINT)
      assert.doesNotMatch(r.stderr, /this is not a key/)
    })

    it('the orchestrator: a missing or wrong key file', async () => {
      const base = [
        'orchestrator',
        '--data',
        join(dir.path, 'orch-k'),
        '--listen',
        '127.0.0.1:0',
        '--no-p2p',
        '--trust',
        pub,
        '--trust',
        pub2
      ]
      failsWith(await narthex([...base, '--key', join(dir.path, 'nope.sec')]), 1, /nope\.sec/)
      failsWith(await narthex([...base, '--key', join(dir.path, 'b1.pub')]), 1, /public key/)
    })
  })

  describe('ports in use', () => {
    const HINT = /choose another port \(port 0 picks a free one\)/
    it('orchestrator --listen', async () => {
      const r = await narthex([
        'orchestrator',
        '--data',
        join(dir.path, 'orch-p'),
        '--key',
        sec,
        '--trust',
        pub,
        '--trust',
        pub2,
        '--no-p2p',
        '--listen',
        `127.0.0.1:${takenPort}`
      ])
      failsWith(
        r,
        1,
        new RegExp(`cannot listen on 127\\.0\\.0\\.1:${takenPort}: address already in use`),
        HINT
      )
    })

    it('orchestrator --p2p-listen', async () => {
      const r = await narthex([
        'orchestrator',
        '--data',
        join(dir.path, 'orch-q'),
        '--key',
        sec,
        '--trust',
        pub,
        '--trust',
        pub2,
        '--listen',
        '127.0.0.1:0',
        '--p2p-listen',
        `/ip4/127.0.0.1/tcp/${takenPort}`
      ])
      failsWith(
        r,
        1,
        new RegExp(`cannot listen on /ip4/127\\.0\\.0\\.1/tcp/${takenPort}: address already in use`),
        HINT
      )
    })

    it('shim --listen', async () => {
      const r = await narthex([
        'shim',
        '--data',
        join(dir.path, 'shim-p'),
        '--listen',
        `127.0.0.1:${takenPort}`
      ])
      failsWith(
        r,
        1,
        new RegExp(`cannot listen on 127\\.0\\.0\\.1:${takenPort}: address already in use`),
        HINT
      )
    })

    it('seeder --listen', async () => {
      const r = await narthex([
        'seeder',
        '--data',
        join(dir.path, 'seeder-p'),
        '--serve-unverified',
        '--listen',
        `/ip4/127.0.0.1/tcp/${takenPort}`
      ])
      failsWith(
        r,
        1,
        new RegExp(`cannot listen on /ip4/127\\.0\\.0\\.1/tcp/${takenPort}: address already in use`),
        HINT
      )
    })
  })

  it('an orchestrator that does not answer: attest names the URL and what to check', async () => {
    const cache = join(dir.path, 'xdg')
    const [out] = await nixBuild(
      dir.path,
      `derivation { name = "user-errors-${Date.now()}"; builder = "/bin/sh"; args = [ "-c" "echo hi > $out" ]; PATH = "/usr/bin:/bin"; system = builtins.currentSystem; }`,
      nixEnv(cache)
    )
    // A port nothing listens on: taken, then released.
    const probe = createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const closedPort = (probe.address() as { port: number }).port
    await new Promise((resolve) => probe.close(resolve))
    const r = await narthex(
      ['attest', '--orchestrator', `http://127.0.0.1:${closedPort}`, '--key', sec, out!],
      {
        env: nixEnv(cache)
      }
    )
    failsWith(
      r,
      1,
      new RegExp(
        `cannot reach the orchestrator at http://127\\.0\\.0\\.1:${closedPort}: fetch failed \\(connection refused\\)`
      ),
      /narthex orchestrator` runs there/
    )
    failsWith(
      await narthex(['attest', '--orchestrator', 'localhost:7420', '--key', sec, out!]),
      2,
      /only http:\/\/ and https:\/\/ URLs/
    )
  })

  it('a bad multiaddr in --bootstrap names it and shows the form', async () => {
    const HINT = /a multiaddr reads \/ip4\/HOST\/tcp\/PORT/
    failsWith(
      await narthex([
        'seeder',
        '--data',
        join(dir.path, 'seeder-b'),
        '--serve-unverified',
        '--listen',
        '/ip4/127.0.0.1/tcp/0',
        '--bootstrap',
        '/ip4/1.2.3/tcp/x'
      ]),
      1,
      /bad bootstrap multiaddr "\/ip4\/1\.2\.3\/tcp\/x"/,
      HINT
    )
    failsWith(
      await narthex([
        'shim',
        '--data',
        join(dir.path, 'shim-b'),
        '--listen',
        '127.0.0.1:0',
        '--bootstrap',
        'seeder.example:4001'
      ]),
      // Not a multiaddr at all: the configuration check refuses it before the network layer, a usage error.
      2,
      /bootstrap must be an array of multiaddrs like "\/ip4\/0\.0\.0\.0\/tcp\/4001", or one \(item 0 is "seeder\.example:4001"\)/
    )
  })

  it('a data directory held by a running program: another program on it says what to do', async () => {
    const data = join(dir.path, 'shim-locked')
    const shim = await startProgram(
      ['shim', '--data', data, '--listen', '127.0.0.1:0'],
      /listening on (\S+)\n/
    )
    programs.push(shim.program)
    const second = await narthex(['shim', '--data', data, '--listen', '127.0.0.1:0'])
    failsWith(second, 1, /data directory \S+ is in use by another process/, /narthex status --data DIR/)
    const ls = await narthex(['store', 'ls', '--data', join(data, 'store')])
    failsWith(ls, 1, /is in use by another process/, /narthex status --data DIR/)
  })

  it('a data directory that cannot be created or written names the path', async () => {
    const file = join(dir.path, 'a-file')
    await writeFile(file, 'x')
    const HINT = /choose a directory path with --data/
    failsWith(
      await narthex(['store', 'ls', '--data', join(file, 'data')]),
      1,
      /a-file\/data\S*: not a directory/,
      HINT
    )
    failsWith(
      await narthex([
        'seeder',
        '--data',
        join(file, 'data'),
        '--serve-unverified',
        '--listen',
        '/ip4/127.0.0.1/tcp/0'
      ]),
      1,
      /a-file\/data\S*: not a directory/,
      HINT
    )
    failsWith(
      await narthex(['shim', '--data', join(file, 'data'), '--listen', '127.0.0.1:0']),
      1,
      /not a directory/,
      HINT
    )
  })

  it('nothing running on a data directory: status and seed add say how to start one', async () => {
    const empty = join(dir.path, 'empty')
    failsWith(
      await narthex(['status', '--data', empty]),
      1,
      /no seeder or shim is running on/,
      /narthex seeder --data DIR/
    )
    failsWith(
      await narthex(['seed', 'add', '--data', empty, '/nix/store/x']),
      1,
      /no seeder is running/,
      /narthex seeder --data DIR/
    )
  })

  it('bad global flags are usage errors', async () => {
    failsWith(
      await narthex(['--log-level', 'loud', 'keygen', 'x']),
      2,
      /--log-level "loud": use one of error, warn, info, debug/
    )
    failsWith(
      await narthex(['keygen', 'x', '--log-format', 'xml']),
      2,
      /--log-format "xml": use one of text, json/
    )
  })

  it('docs/errors.md lists every condition the CLI gives advice for', async () => {
    const doc = await readFile(join(REPO_ROOT, 'docs/errors.md'), 'utf8')
    const section = doc.slice(doc.indexOf('## Messages a user can meet'))
    assert.ok(doc.includes('## Messages a user can meet'), 'the section exists')
    for (const e of USER_ERRORS) assert.ok(section.includes(`\`${e.match}\``), `${e.match} is documented`)
  })
})
