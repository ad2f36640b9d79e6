/** The CLI logger: levels, the text and JSON formats, redaction of secrets, and the bridge from `debug`. */
import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import { formatSecretKey, generateSecretKey } from '@narthex/nix'
import createDebug from 'debug'
import { bridgeDebug, createLogger, type LogFormat, type LogLevel, redact } from '../src/log.js'
import { parseGlobalFlags } from '../src/main.js'

function capture(level: LogLevel = 'info', format: LogFormat = 'text') {
  const stream = new PassThrough()
  let text = ''
  stream.setEncoding('utf8').on('data', (d: string) => {
    text += d
  })
  const log = createLogger({ stream, program: 'seeder', level, format, now: () => new Date(0) })
  return { log, text: () => text }
}

describe('cli logger', () => {
  it('writes text lines with the program name and marks warnings and errors', () => {
    const c = capture()
    c.log.info('publishing sha256:abc', { narHash: 'sha256:abc' })
    c.log.warn('announcing failed')
    c.log.error('boom')
    assert.equal(
      c.text(),
      'narthex seeder: publishing sha256:abc\nnarthex seeder: warning: announcing failed\nnarthex seeder: error: boom\n'
    )
  })

  it('writes one JSON object per line with time, level, program, msg and the fields', () => {
    const c = capture('info', 'json')
    c.log.info('listening', { url: 'http://127.0.0.1:1', peers: 3 })
    const lines = c.text().trim().split('\n')
    assert.equal(lines.length, 1)
    assert.deepEqual(JSON.parse(lines[0]!), {
      time: '1970-01-01T00:00:00.000Z',
      level: 'info',
      program: 'seeder',
      msg: 'listening',
      url: 'http://127.0.0.1:1',
      peers: 3
    })
  })

  it('drops records below the level', () => {
    for (const [level, count] of [
      ['error', 1],
      ['warn', 2],
      ['info', 3],
      ['debug', 4]
    ] as const) {
      const c = capture(level)
      c.log.error('e')
      c.log.warn('w')
      c.log.info('i')
      c.log.debug('d')
      assert.equal(c.text().trim().split('\n').length, count, level)
    }
  })

  it('never writes a secret key, a secret-named field or an Authorization value', () => {
    const secret = formatSecretKey(generateSecretKey('cache-1'))
    const b64 = secret.slice(secret.indexOf(':') + 1)
    for (const format of ['text', 'json'] as const) {
      const c = capture('debug', format)
      c.log.info(`read key ${secret}`, { key: secret, secretKey: 'abc', nested: { text: secret } })
      c.log.debug('GET /x', { headers: { authorization: 'Bearer abcdefghijklmnop' } })
      c.log.debug('header Authorization: Basic dXNlcjpwYXNzd29yZA==')
      assert.ok(!c.text().includes(b64), c.text())
      assert.ok(!c.text().includes('abcdefghijklmnop'))
      assert.ok(!c.text().includes('dXNlcjpwYXNzd29yZA=='))
      assert.match(c.text(), /cache-1:\[redacted\]/)
    }
    // A public key (32 bytes) is not a secret and stays readable.
    const pub = 'cache-1:qi7VtvhbbFTm9Bs2d5QFrCvHfWsnGcYhCWJdDGxY0TQ='
    assert.equal(redact(`trusting ${pub}`), `trusting ${pub}`)
  })

  it('routes debug output into the logger at debug level, with its namespace, formatted', () => {
    const c = capture('debug', 'json')
    const saved = { log: createDebug.log, formatArgs: createDebug.formatArgs }
    const before = createDebug.disable()
    try {
      bridgeDebug(createDebug, c.log, {})
      createDebug('narthex:test:bridge')('fetched %s (%d bytes)', '/nix/store/x', 12)
      const record = JSON.parse(c.text().trim()) as Record<string, unknown>
      assert.equal(record.level, 'debug')
      assert.equal(record.component, 'narthex:test:bridge')
      assert.equal(record.msg, 'fetched /nix/store/x (12 bytes)')
    } finally {
      createDebug.log = saved.log
      createDebug.formatArgs = saved.formatArgs
      createDebug.enable(before)
    }
  })

  it('takes --log-format, --log-level and --quiet from anywhere, flags before the environment', () => {
    const f = parseGlobalFlags(
      ['store', '--log-level=debug', 'ls', '--quiet', '--log-format', 'json', '-d', 'x'],
      {
        NARTHEX_LOG_FORMAT: 'text',
        NARTHEX_LOG_LEVEL: 'warn'
      }
    )
    assert.deepEqual(f, {
      logFormat: 'json',
      logLevel: 'debug',
      quiet: true,
      rest: ['store', 'ls', '-d', 'x']
    })
    assert.equal(parseGlobalFlags(['x'], { NARTHEX_LOG_LEVEL: 'warn' }).logLevel, 'warn')
    assert.equal(parseGlobalFlags(['x'], { DEBUG: 'narthex:*' }).logLevel, 'debug')
    assert.deepEqual(parseGlobalFlags(['nar', 'restore', '--', '--quiet'], {}).rest, [
      'nar',
      'restore',
      '--',
      '--quiet'
    ])
    assert.throws(() => parseGlobalFlags(['--log-level', 'loud'], {}), { name: 'UsageError' })
    assert.throws(() => parseGlobalFlags(['--log-format', 'xml'], {}), { name: 'UsageError' })
    assert.throws(() => parseGlobalFlags(['--log-format'], {}), { name: 'UsageError' })
  })
})
