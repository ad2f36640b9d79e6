import assert from 'node:assert/strict'
import fc from 'fast-check'
import { parseConfigFile, parseListen, parseSize, resolveConfig } from '../src/config.js'
import * as errors from '../src/errors.js'
import { HTTP_STATUS, statusOf } from '../src/errors.js'
import { checkHost, parseRange, parseRoute } from '../src/routes.js'

const HASH = 'a6nrqmdrfz2d4x7filhlh0y12h65qfl1'
const NARHASH = '04zwf782yjwnh3q6hz5izfd6jyip8kgw6g6yj43fiqhbyhdd0dqw'

function errName(f: () => unknown): string {
  try {
    f()
  } catch (err) {
    return (err as Error).name
  }
  return 'no error'
}

describe('shim routes', () => {
  it('matches exactly the three routes', () => {
    assert.deepEqual(parseRoute('/nix-cache-info'), { kind: 'cache-info' })
    assert.deepEqual(parseRoute(`/${HASH}.narinfo`), { kind: 'narinfo', hashPart: HASH })
    assert.deepEqual(parseRoute(`/nar/${NARHASH}.nar`), { kind: 'nar', narHash: `sha256:${NARHASH}` })
  })

  const malformed: [string, string][] = [
    ['/', 'RouteNotFoundError'],
    ['//nix-cache-info', 'RouteNotFoundError'],
    ['/nix-cache-info/', 'RouteNotFoundError'],
    ['/nix-cache-info?x=1', 'BadRequestError'],
    [`/${HASH}.narinfo#x`, 'BadRequestError'],
    [`/${HASH.toUpperCase()}.narinfo`, 'RouteNotFoundError'],
    [`/${HASH.slice(0, 31)}e.narinfo`, 'RouteNotFoundError'], // 'e' is not nix-base32
    [`/${HASH}x.narinfo`, 'RouteNotFoundError'],
    [`/${HASH}.narinfo/`, 'RouteNotFoundError'],
    [`/nar/${NARHASH}.nar.xz`, 'RouteNotFoundError'],
    [`/nar/${NARHASH.slice(0, 51)}u.nar`, 'RouteNotFoundError'],
    [`/nar/${'z'.repeat(52)}.nar`, 'RouteNotFoundError'], // padding bits set: not a digest
    ['/nar/%2e%2e/%2e%2e/etc/passwd', 'RouteNotFoundError'],
    ['/..%2f..%2fetc%2fpasswd', 'RouteNotFoundError'],
    ['/../../etc/passwd', 'RouteNotFoundError'],
    [`/%00${HASH.slice(3)}.narinfo`, 'RouteNotFoundError'],
    [`/${HASH}.narinfo\u0000`, 'RouteNotFoundError'],
    ['http://evil.example/nix-cache-info', 'RouteNotFoundError'],
    ['*', 'RouteNotFoundError'],
    ['', 'BadRequestError'],
    [`/${'a'.repeat(300)}`, 'UriTooLongError']
  ]
  for (const [target, name] of malformed) {
    it(`refuses ${JSON.stringify(target.slice(0, 60))} with ${name}`, () => {
      assert.equal(
        errName(() => parseRoute(target)),
        name
      )
    })
  }

  it('maps every target to a route or a 4xx error (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (target) => {
        try {
          parseRoute(target)
        } catch (err) {
          const status = statusOf(err)
          assert.ok(status >= 400 && status < 500, `${JSON.stringify(target)} gave ${status}`)
        }
      }),
      { numRuns: 2000 }
    )
  })

  it('accepts loopback Host names only', () => {
    for (const ok of [
      'localhost',
      'localhost:80',
      '127.0.0.1',
      '127.0.0.1:37515',
      '127.1.2.3:1',
      '[::1]',
      '[::1]:8080',
      'LOCALHOST'
    ]) {
      assert.doesNotThrow(() => checkHost({ host: ok }), ok)
    }
    for (const bad of [
      'evil.example',
      'evil.example:37515',
      '127.0.0.1.evil.example',
      'localhost.evil',
      '10.0.0.1',
      '127.0.0.256',
      '[::2]',
      'user@127.0.0.1',
      '0.0.0.0',
      '[::]',
      'localhost.'
    ]) {
      assert.equal(
        errName(() => checkHost({ host: bad })),
        'ForbiddenHostError',
        bad
      )
    }
    assert.doesNotThrow(() => checkHost({ host: 'shim.lan:37515' }, ['shim.lan']))
  })

  it('refuses cross-site Origin and Sec-Fetch-Site', () => {
    assert.doesNotThrow(() => checkHost({ host: '127.0.0.1:5', origin: 'http://127.0.0.1:5' }))
    assert.equal(
      errName(() => checkHost({ host: '127.0.0.1:5', origin: 'http://evil.example' })),
      'CrossOriginError'
    )
    assert.equal(
      errName(() => checkHost({ host: '127.0.0.1:5', origin: 'http://127.0.0.1:6' })),
      'CrossOriginError'
    )
    assert.equal(
      errName(() => checkHost({ host: '127.0.0.1:5', origin: 'null' })),
      'CrossOriginError'
    )
    assert.equal(
      errName(() => checkHost({ host: '127.0.0.1:5', 'sec-fetch-site': 'cross-site' })),
      'CrossOriginError'
    )
    assert.doesNotThrow(() => checkHost({ host: '127.0.0.1:5', 'sec-fetch-site': 'none' }))
  })

  it('parses byte ranges exactly and refuses the rest', () => {
    assert.equal(parseRange(undefined, 100), undefined)
    assert.deepEqual(parseRange('bytes=0-9', 100), { start: 0, end: 10 })
    assert.deepEqual(parseRange('bytes=90-', 100), { start: 90, end: 100 })
    assert.deepEqual(parseRange('bytes=90-1000', 100), { start: 90, end: 100 })
    assert.deepEqual(parseRange('bytes=-10', 100), { start: 90, end: 100 })
    assert.deepEqual(parseRange('bytes=-1000', 100), { start: 0, end: 100 })
    assert.deepEqual(parseRange('bytes=99-99', 100), { start: 99, end: 100 })
    for (const bad of [
      'bytes=100-',
      'bytes=5-4',
      'bytes=-0',
      'bytes=-',
      'bytes=0-1,5-6',
      'items=0-1',
      'bytes=a-b',
      'bytes= 1-2x'
    ]) {
      assert.equal(
        errName(() => parseRange(bad, 100)),
        'RangeNotSatisfiableError',
        bad
      )
    }
  })
})

describe('shim config', () => {
  it('rejects unknown keys and bad values', () => {
    assert.equal(
      errName(() => parseConfigFile('{"data":"/x","lisen":"127.0.0.1:1"}')),
      'InvalidConfigError'
    )
    assert.equal(
      errName(() => parseConfigFile('[1]')),
      'InvalidConfigError'
    )
    assert.equal(
      errName(() => parseConfigFile('{')),
      'InvalidConfigError'
    )
    assert.equal(
      errName(() => resolveConfig({})),
      'InvalidConfigError'
    )
    assert.equal(
      errName(() => resolveConfig({ data: '/x', quota: '10 potatoes' })),
      'InvalidConfigError'
    )
    assert.equal(
      errName(() => resolveConfig({ data: '/x', upstream: ['ftp://x'] })),
      'InvalidConfigError'
    )
    assert.equal(
      errName(() => resolveConfig({ data: '/x', seed: 'yes' })),
      'InvalidConfigError'
    )
  })

  it('binds loopback only unless told otherwise', () => {
    assert.equal(
      errName(() => resolveConfig({ data: '/x', listen: '0.0.0.0:1' })),
      'InvalidConfigError'
    )
    assert.equal(
      errName(() => resolveConfig({ data: '/x', listen: '192.168.1.2:1' })),
      'InvalidConfigError'
    )
    assert.equal(
      resolveConfig({ data: '/x', listen: '0.0.0.0:1', allowNonLoopback: true }).listen.host,
      '0.0.0.0'
    )
    assert.deepEqual(resolveConfig({ data: '/x', listen: '[::1]:9' }).listen, { host: '::1', port: 9 })
    assert.deepEqual(resolveConfig({ data: '/x' }).listen, { host: '127.0.0.1', port: 37515 })
  })

  it('fills defaults', () => {
    const c = resolveConfig(
      parseConfigFile('{"data":"/d","upstream":"https://cache.nixos.org/","quota":"2GiB"}')
    )
    assert.deepEqual(c.upstream, ['https://cache.nixos.org'])
    assert.equal(c.quota, 2 * 1024 ** 3)
    assert.equal(c.seed, true)
    assert.equal(c.prefetch, true)
    assert.ok(c.priority < 40)
    assert.equal(parseSize('512M'), 512 * 1024 ** 2)
    assert.deepEqual(parseListen(':0'), { host: '127.0.0.1', port: 0 })
  })
})

describe('shim errors', () => {
  it('every error class has a stable name and client mistakes map to 4xx', () => {
    const classes = (Object.values(errors) as unknown[]).filter(
      (v): v is new (m: string) => Error => typeof v === 'function' && v.prototype instanceof Error
    )
    for (const C of classes) {
      const e = new C('x')
      assert.equal(e.name, C.name)
    }
    for (const name of [
      'BadRequestError',
      'RouteNotFoundError',
      'MethodNotAllowedError',
      'ForbiddenHostError',
      'CrossOriginError',
      'UriTooLongError',
      'RangeNotSatisfiableError'
    ]) {
      assert.ok(HTTP_STATUS[name]! >= 400 && HTTP_STATUS[name]! < 500, name)
    }
    assert.equal(statusOf(new Error('boom')), 500)
  })
})
