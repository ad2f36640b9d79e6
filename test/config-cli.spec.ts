/**
 * `--config FILE` of the long-running programs through the real `narthex` command: an unknown key or a value of
 * the wrong kind stops the program with a message naming the key (orchestrator: exit 1; seeder and shim report it
 * as a usage error, exit 2); files are JSON with comments; flags override the file.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { formatPublicKey, formatSecretKey, generateSecretKey } from '@narthex/nix'
import { narthex, tempDir } from './util/index.js'
import { type Program, startProgram } from './util/network.js'

describe('narthex --config FILE', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  let running: Program | undefined
  beforeEach(async () => {
    dir = await tempDir('narthex-config-cli-')
  })
  afterEach(async () => {
    await running?.stop()
    running = undefined
    await dir.cleanup()
  })

  const write = async (name: string, text: string): Promise<string> => {
    const file = join(dir.path, name)
    await writeFile(file, text)
    return file
  }

  const mistakes: [program: string, exit: number, file: string, key: RegExp][] = [
    [
      'orchestrator',
      2,
      '{ "data": "d", "key": "k.sec", "quorom": 2 }',
      /unknown key "quorom" \(known: data, listen, /
    ],
    [
      'orchestrator',
      2,
      '{ "data": "d", "key": "k.sec", "quorum": "2" }',
      /quorum must be an integer from 1 to 1000/
    ],
    ['seeder', 2, '{ "data": "d", "uploadRat": "1M" }', /unknown key "uploadRat" \(known: data, listen, /],
    ['seeder', 2, '{ "data": "d", "maxPeers": "many" }', /maxPeers must be a non-negative integer/],
    ['shim', 2, '{ "data": "d", "upstreams": [] }', /unknown key "upstreams" \(known: data, listen, /],
    ['shim', 2, '{ "data": "d", "seed": "yes" }', /seed must be true or false/],
    ['shim', 2, '{ "data": "d",\n  "seed": true\n  "prefetch": true }', /: line 3, column 3: /]
  ]
  it('each program refuses an unknown key, a wrong kind and bad JSON, naming the key (exit 2)', async () => {
    // The cases run at once: each is a process start, and most of its time is loading the program.
    await Promise.all(
      mistakes.map(async ([program, exit, text, message], i) => {
        const file = await write(`bad-${i}.jsonc`, text)
        const r = await narthex([program, '--config', file])
        const what = `narthex ${program} with ${text}: ${r.stderr}`
        assert.equal(r.code, exit, what)
        assert.ok(r.stderr.startsWith(`narthex ${program}: ${file}: `), what)
        assert.match(r.stderr, message, what)
      })
    )
  })

  it('narthex orchestrator: JSONC file, paths relative to it, --quorum over the file', async () => {
    const key = generateSecretKey('orch-1')
    await writeFile(join(dir.path, 'orch.sec'), formatSecretKey(key))
    const file = await write(
      'orchestrator.jsonc',
      `// the orchestrator of a test
{
  "data": "state", /* relative to this file */
  "key": "orch.sec",
  "listen": "127.0.0.1:0",
  "trust": ["${formatPublicKey(generateSecretKey('builder-1').publicKey)}"],
  "quorum": 3, // more than the trusted builders: refused unless a flag says otherwise
  "p2pListen": [],
}`
    )
    const refused = await narthex(['orchestrator', '--config', file])
    assert.equal(refused.code, 2)
    assert.match(refused.stderr, /quorum 3 needs at least 3 trusted/)
    const started = await startProgram(
      ['orchestrator', '--config', file, '--quorum', '1'],
      /listening on (\S+)/
    )
    running = started.program
    assert.match(started.match[1]!, /^http:\/\/127\.0\.0\.1:\d+$/)
    assert.ok(existsSync(join(dir.path, 'state')), 'the data directory is relative to the config file')
  })

  it('narthex seeder: JSONC file with URLs, --data over the file', async () => {
    const file = await write(
      'seeder.jsonc',
      `{
  // two data directories: the flag's must win
  "data": "${join(dir.path, 'from-file')}",
  "listen": ["/ip4/127.0.0.1/tcp/0"], // loopback only
  "serveUnverified": true,
  "upstream": "https://cache.nixos.org/", /* a URL is not a comment */
  "maxPeers": 4,
}`
    )
    const data = join(dir.path, 'from-flag')
    const started = await startProgram(
      ['seeder', '--config', file, '--data', data, '--allow-private'],
      /narthex seeder listening (\S+)/
    )
    running = started.program
    assert.match(running.stderr(), new RegExp(`data ${data.replace(/[.]/g, '\\.')};`))
    assert.ok(existsSync(data))
    assert.ok(!existsSync(join(dir.path, 'from-file')))
  })

  it('narthex shim: JSONC file, --listen over a file value that would be refused', async () => {
    const file = await write(
      'shim.jsonc',
      `{
  "data": "${join(dir.path, 'shim')}",
  "listen": "0.0.0.0:0", // not loopback: refused without allowNonLoopback
  "upstream": "http://127.0.0.1:9/" // never asked in this test
}`
    )
    const refused = await narthex(['shim', '--config', file])
    assert.equal(refused.code, 2)
    assert.match(refused.stderr, /not loopback/)
    const started = await startProgram(
      ['shim', '--config', file, '--listen', '127.0.0.1:0'],
      /narthex shim listening on (\S+)/
    )
    running = started.program
    assert.match(started.match[1]!, /^http:\/\/127\.0\.0\.1:\d+/)
  })
})
