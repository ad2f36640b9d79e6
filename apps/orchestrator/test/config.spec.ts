import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { formatPublicKey, generateSecretKey } from '@narthex/nix'
import { narthex, tempDir } from '../../../test/util/index.js'
import {
  DEFAULT_P2P_LISTEN,
  DEFAULT_PORT,
  parseConfigFile,
  parseListen,
  resolveConfig
} from '../src/index.js'

const pub = (name: string) => formatPublicKey(generateSecretKey(name).publicKey)

describe('orchestrator configuration', () => {
  it('parses a config file, resolving relative paths against its directory', () => {
    const c = parseConfigFile(
      JSON.stringify({
        data: 'data',
        key: '/etc/o.sec',
        listen: '[::1]:8000',
        trust: [pub('a'), { key: pub('b'), revoked: true }],
        quorum: 1,
        afterAgreement: 'withdraw',
        p2pListen: [],
        priority: 30
      }),
      '/srv/narthex'
    )
    assert.equal(c.dataDir, '/srv/narthex/data')
    assert.equal(c.keyFile, '/etc/o.sec')
    assert.equal(c.host, '::1')
    assert.equal(c.port, 8000)
    assert.deepEqual(
      c.trust?.map((t) => t.revoked),
      [false, true]
    )
    const r = resolveConfig(c)
    assert.equal(r.quorum, 1)
    assert.equal(r.afterAgreement, 'withdraw')
    assert.deepEqual(r.p2pListen, [])
    assert.equal(r.cachePriority, 30)
  })

  it('fills every default', () => {
    const r = resolveConfig({
      dataDir: 'd',
      keyFile: 'k',
      trust: [pub('a'), pub('b')].map((key) => ({ key, revoked: false }))
    })
    assert.equal(r.host, '127.0.0.1')
    assert.equal(r.port, DEFAULT_PORT)
    assert.equal(r.quorum, 2)
    assert.equal(r.afterAgreement, 'keep')
    assert.deepEqual(r.p2pListen, DEFAULT_P2P_LISTEN)
  })

  const bad: [string, () => unknown][] = [
    ['an unknown key', () => parseConfigFile('{"data":"d","quorom":2}', '/')],
    ['not JSON', () => parseConfigFile('{', '/')],
    ['not an object', () => parseConfigFile('[]', '/')],
    ['an unknown trust key', () => parseConfigFile('{"trust":[{"key":"a:b","why":1}]}', '/')],
    ['a string quorum', () => parseConfigFile('{"quorum":"2"}', '/')],
    ['a bad listen address', () => parseListen('localhost')],
    ['a port over 65535', () => parseListen('127.0.0.1:70000')],
    ['no data directory', () => resolveConfig({ keyFile: 'k' })],
    ['no key', () => resolveConfig({ dataDir: 'd' })],
    [
      'a quorum above the trusted builders',
      () =>
        resolveConfig({ dataDir: 'd', keyFile: 'k', quorum: 2, trust: [{ key: pub('a'), revoked: false }] })
    ],
    [
      'a quorum counting revoked builders',
      () =>
        resolveConfig({
          dataDir: 'd',
          keyFile: 'k',
          quorum: 2,
          trust: [
            { key: pub('a'), revoked: false },
            { key: pub('b'), revoked: true }
          ]
        })
    ],
    [
      'an unknown afterAgreement',
      () =>
        resolveConfig({
          dataDir: 'd',
          keyFile: 'k',
          quorum: 1,
          trust: [{ key: pub('a'), revoked: false }],
          afterAgreement: 'maybe' as 'keep'
        })
    ]
  ]
  for (const [what, f] of bad) {
    it(`rejects ${what} with InvalidConfigError`, () => {
      assert.throws(f, { name: 'InvalidConfigError' })
    })
  }

  it('narthex orchestrator reports configuration and usage mistakes with exit 2, a missing key with exit 1', async () => {
    const dir = await tempDir()
    try {
      const config = join(dir.path, 'o.json')
      await writeFile(config, JSON.stringify({ data: 'd', key: 'k.sec', tru: [] }))
      const r = await narthex(['orchestrator', '--config', config])
      assert.equal(r.code, 2)
      assert.match(
        r.stderr,
        /^narthex orchestrator: \S+o\.json: unknown key "tru" \(known: data, listen, key, trust, quorum, afterAgreement, p2pListen, priority\)\n/
      )
      assert.match(r.stderr, /\nUsage: narthex orchestrator /)
      const missingKey = await narthex([
        'orchestrator',
        '--data',
        dir.path,
        '--key',
        join(dir.path, 'none.sec'),
        '--quorum',
        '1',
        '--trust',
        pub('a'),
        '--no-p2p'
      ])
      assert.equal(missingKey.code, 1)
      assert.match(missingKey.stderr, /cannot read the signing key/)
      const usage = await narthex(['orchestrator', '--quorum', 'two'])
      assert.equal(usage.code, 2)
      const help = await narthex(['orchestrator', '--help'])
      assert.equal(help.code, 0)
      assert.match(help.stdout.toString(), /--trust NAME:PUBKEY/)
    } finally {
      await dir.cleanup()
    }
  })
})
