import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import fc from 'fast-check'
import { tempDir } from '../../../test/util/index.js'
import {
  boolean,
  checkConfig,
  count,
  formatExample,
  formatReference,
  formatSize,
  hostPort,
  loadConfigFile,
  MAX_CONFIG_FILE_BYTES,
  mergeConfig,
  multiaddrs,
  oneOf,
  parseConfig,
  parseJsonc,
  path,
  setting,
  size,
  string,
  strings,
  url,
  urls
} from '../src/index.js'

const SCHEMA = {
  data: setting(path(), { required: '--data DIR', description: 'Where.', example: '/var/lib/x' }),
  name: setting(string(), { description: 'A name.' }),
  listen: setting(hostPort({ defaultHost: '127.0.0.1' }), {
    default: { host: '127.0.0.1', port: 80 },
    description: 'Listen.',
    flags: ['--listen HOST:PORT']
  }),
  peers: setting(multiaddrs(), { default: ['/ip4/0.0.0.0/tcp/1'], description: 'Peers.' }),
  tags: setting(strings({ orOne: true }), { default: [], description: 'Tags.' }),
  on: setting(boolean(), { default: true, description: 'On.' }),
  n: setting(count({ min: 1, max: 10 }), { default: 2, description: 'N.', example: 3 }),
  quota: setting(size(), { default: 10 * 2 ** 30, description: 'Quota.', example: '20G' }),
  limit: setting(size(), { default: undefined, defaultText: 'none', description: 'No limit by default.' }),
  mode: setting(oneOf(['keep', 'withdraw'] as const), { default: 'keep', description: 'Mode.' }),
  origin: setting(url(), { description: 'Origin.', example: 'https://example.org/' }),
  mirrors: setting(urls({ orOne: true }), { default: [], description: 'Mirrors.' })
}

describe('configuration schema', () => {
  it('parses every kind and fills defaults', () => {
    const c = parseConfig(SCHEMA, {
      data: '/d',
      listen: '[::1]:8080',
      tags: 'one',
      quota: '1.5G',
      origin: 'https://example.org/cache/',
      mirrors: ['http://a.example/', 'https://b.example']
    })
    assert.deepEqual(c, {
      data: '/d',
      name: undefined,
      listen: { host: '::1', port: 8080 },
      peers: ['/ip4/0.0.0.0/tcp/1'],
      tags: ['one'],
      on: true,
      n: 2,
      quota: 1.5 * 2 ** 30,
      limit: undefined,
      mode: 'keep',
      origin: 'https://example.org/cache',
      mirrors: ['http://a.example', 'https://b.example']
    })
    assert.deepEqual(parseConfig(SCHEMA, { data: 'x', listen: ':9' }).listen, { host: '127.0.0.1', port: 9 })
  })

  it('rejects an unknown key, naming it and listing the known ones', () => {
    assert.throws(
      () => checkConfig(SCHEMA, { data: '/d', qouta: '1G' }, 'x.jsonc'),
      (err: Error) => {
        assert.equal(err.name, 'UnknownConfigKeyError')
        assert.equal((err as unknown as { key: string }).key, 'qouta')
        assert.deepEqual((err as unknown as { known: string[] }).known, Object.keys(SCHEMA))
        assert.match(err.message, /^x\.jsonc: unknown key "qouta" \(known: data, name, listen, /)
        return true
      }
    )
    // Inherited names are not keys.
    assert.throws(() => checkConfig(SCHEMA, JSON.parse('{"constructor": 1}')), {
      name: 'UnknownConfigKeyError'
    })
    assert.throws(() => checkConfig(SCHEMA, JSON.parse('{"__proto__": 1}')), {
      name: 'UnknownConfigKeyError'
    })
  })

  const wrong: [string, unknown][] = [
    ['data', ''],
    ['data', 5],
    ['name', ['a']],
    ['listen', 'localhost'],
    ['listen', '127.0.0.1:65536'],
    ['listen', '[not-v6]:80'],
    ['listen', 8080],
    ['peers', '/ip4/0.0.0.0/tcp/1'],
    ['peers', ['ip4/0.0.0.0']],
    ['tags', [1]],
    ['tags', ['']],
    ['on', 'yes'],
    ['on', 1],
    ['n', 0],
    ['n', 11],
    ['n', 2.5],
    ['n', '3'],
    ['quota', 'lots'],
    ['quota', -1],
    ['quota', true],
    ['mode', 'maybe'],
    ['origin', 'ftp://example.org'],
    ['origin', 'https://example.org/?q=1'],
    ['origin', 'not a url'],
    ['mirrors', ['https://ok.example', 'file:///x']]
  ]
  for (const [key, value] of wrong) {
    it(`rejects ${key}: ${JSON.stringify(value)} with ConfigTypeError naming the key and the kind`, () => {
      assert.throws(
        () => checkConfig(SCHEMA, { [key]: value }),
        (err: Error) => {
          assert.equal(err.name, 'ConfigTypeError')
          assert.equal((err as unknown as { key: string }).key, key)
          const spec = SCHEMA[key as keyof typeof SCHEMA]
          assert.equal((err as unknown as { expected: string }).expected, spec.kind.expected)
          assert.ok(err.message.startsWith(`${key} must be ${spec.kind.expected}`), err.message)
          return true
        }
      )
    })
  }

  it('rejects what is not one object, and a missing required key', () => {
    for (const v of [[], null, 'x', 1])
      assert.throws(() => checkConfig(SCHEMA, v), { name: 'ConfigSyntaxError' })
    assert.throws(() => parseConfig(SCHEMA, {}), { name: 'MissingConfigKeyError', key: 'data' })
  })

  it('merges key by key, later over earlier, skipping undefined', () => {
    assert.deepEqual(mergeConfig<typeof SCHEMA>({ data: '/a', n: 3 }, { data: '/b', n: undefined }), {
      data: '/b',
      n: 3
    })
  })

  it('formats sizes so that they parse back (property)', () => {
    const kind = size()
    fc.assert(
      fc.property(fc.maxSafeNat(), (n) => {
        assert.equal(kind.parse(formatSize(n)), n)
      })
    )
    assert.equal(formatSize(10 * 2 ** 30), '10G')
    assert.equal(formatSize(1536 * 1024), '1536K')
    assert.equal(formatSize(0), '0')
  })

  it('writes an example that parses back to the example values (and defaults for the others)', () => {
    const text = formatExample(SCHEMA, { header: ['An example.'] })
    const value = parseJsonc(text)
    assert.deepEqual(value, { data: '/var/lib/x', n: 3, quota: '20G', origin: 'https://example.org/' })
    assert.match(text, /\/\/ "on": true/)
    assert.match(
      formatReference(SCHEMA),
      /\| `listen` +\| host:port +\| `"127\.0\.0\.1:80"` +\| `--listen HOST:PORT` +\|/
    )
    assert.match(formatReference(SCHEMA), /\| `mode` +\| keep \\\| withdraw +\|/)
  })
})

describe('configuration files', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>
  beforeEach(async () => {
    dir = await tempDir()
  })
  afterEach(() => dir.cleanup())

  it('loads JSON with comments and checks it, naming the file in errors', async () => {
    const file = join(dir.path, 'c.jsonc')
    await writeFile(
      file,
      '// a config\n{\n  "data": "/d", // here\n  "origin": "https://x.example/", /* there */\n}\n'
    )
    assert.deepEqual(await loadConfigFile(SCHEMA, file), { data: '/d', origin: 'https://x.example/' })
    await writeFile(file, '{\n  "data": "/d",\n  "bogus": 1\n}')
    await assert.rejects(loadConfigFile(SCHEMA, file), (err: Error) => {
      assert.equal(err.name, 'UnknownConfigKeyError')
      assert.ok(err.message.startsWith(`${file}: `))
      return true
    })
    await writeFile(file, '{\n  "data": "/d"\n  "n": 2\n}')
    await assert.rejects(loadConfigFile(SCHEMA, file), { name: 'ConfigSyntaxError', line: 3, column: 3 })
  })

  it('refuses a missing file, a directory and an oversized file with ConfigFileError', async () => {
    await assert.rejects(loadConfigFile(SCHEMA, join(dir.path, 'none.jsonc')), { name: 'ConfigFileError' })
    await mkdir(join(dir.path, 'd'))
    await assert.rejects(loadConfigFile(SCHEMA, join(dir.path, 'd')), { name: 'ConfigFileError' })
    const big = join(dir.path, 'big.jsonc')
    await writeFile(big, `{${' '.repeat(MAX_CONFIG_FILE_BYTES)}}`)
    await assert.rejects(loadConfigFile(SCHEMA, big), { name: 'ConfigFileError' })
  })
})
