import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { type CacheInfo, CacheInfoParseError, formatCacheInfo, parseCacheInfo } from '../src/index.js'

describe('nix-cache-info', () => {
  it('reads and rewrites the file nix copy --to file:// writes', () => {
    // Written by the real nix 2.8.0; see fixtures/narinfo/regenerate.sh.
    const text = readFileSync(new URL('./fixtures/narinfo/nix-cache-info', import.meta.url), 'utf8')
    assert.equal(text, 'StoreDir: /nix/store\n')
    assert.deepEqual(parseCacheInfo(text), { storeDir: '/nix/store' })
    assert.equal(formatCacheInfo(parseCacheInfo(text)), text)
  })

  it("reads cache.nixos.org's file and writes it back identically", () => {
    const text = 'StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 40\n'
    assert.deepEqual(parseCacheInfo(text), { storeDir: '/nix/store', wantMassQuery: true, priority: 40 })
    assert.equal(formatCacheInfo(parseCacheInfo(text)), text)
  })

  it('reads layouts Nix reads: any field order, no final newline, blank lines, CRLF, no space after the colon', () => {
    const expected = { storeDir: '/nix/store', wantMassQuery: false, priority: -3 }
    for (const text of [
      'WantMassQuery: 0\nStoreDir: /nix/store\nPriority: -3',
      '\nStoreDir: /nix/store\n\nWantMassQuery: 0\nPriority: -3\n\n',
      'StoreDir: /nix/store\r\nWantMassQuery: 0\r\nPriority: -3\r\n',
      'StoreDir:/nix/store\nWantMassQuery:\t0 \nPriority:   -3\n'
    ]) {
      assert.deepEqual(parseCacheInfo(text), expected, JSON.stringify(text))
    }
    assert.deepEqual(parseCacheInfo(''), {})
  })

  it('keeps unknown fields (Nix ignores them) and writes them after the known ones', () => {
    const info = parseCacheInfo('X-Extra: hello world\nStoreDir: /nix/store\n')
    assert.deepEqual(info, { storeDir: '/nix/store', extra: [{ key: 'X-Extra', value: 'hello world' }] })
    assert.equal(formatCacheInfo(info), 'StoreDir: /nix/store\nX-Extra: hello world\n')
  })

  const cases: { what: string; text: string; line: number; field?: string }[] = [
    { what: 'a line without a colon', text: 'StoreDir: /nix/store\njunk\n', line: 2 },
    { what: 'a key that is not a word', text: 'Store Dir: /nix/store\n', line: 1 },
    { what: 'an indented key', text: ' StoreDir: /nix/store\n', line: 1 },
    { what: 'WantMassQuery true', text: 'WantMassQuery: true\n', line: 1, field: 'WantMassQuery' },
    { what: 'an empty WantMassQuery', text: 'WantMassQuery:\n', line: 1, field: 'WantMassQuery' },
    { what: 'Priority 40abc', text: 'Priority: 40abc\n', line: 1, field: 'Priority' },
    { what: 'Priority +40', text: 'Priority: +40\n', line: 1, field: 'Priority' },
    { what: 'Priority 040', text: 'Priority: 040\n', line: 1, field: 'Priority' },
    { what: 'Priority -0', text: 'Priority: -0\n', line: 1, field: 'Priority' },
    { what: 'Priority past int32', text: 'Priority: 2147483648\n', line: 1, field: 'Priority' },
    { what: 'a relative StoreDir', text: 'StoreDir: nix/store\n', line: 1, field: 'StoreDir' },
    { what: 'a StoreDir with a trailing slash', text: 'StoreDir: /nix/store/\n', line: 1, field: 'StoreDir' },
    { what: 'a StoreDir with ..', text: 'StoreDir: /nix/../store\n', line: 1, field: 'StoreDir' },
    { what: 'a StoreDir with a space', text: 'StoreDir: /nix/my store\n', line: 1, field: 'StoreDir' },
    {
      what: 'a second StoreDir',
      text: 'StoreDir: /nix/store\nStoreDir: /gnu/store\n',
      line: 2,
      field: 'StoreDir'
    },
    { what: 'a second Priority', text: 'Priority: 1\nPriority: 1\n', line: 2, field: 'Priority' },
    { what: 'a NUL in a value', text: 'StoreDir: /nix/st\u0000ore\n', line: 1, field: 'StoreDir' }
  ]
  for (const c of cases) {
    it(`rejects ${c.what} with CacheInfoParseError`, () => {
      assert.throws(() => parseCacheInfo(c.text), {
        name: 'CacheInfoParseError',
        line: c.line,
        field: c.field
      })
    })
  }

  const bad: [string, CacheInfo][] = [
    ['StoreDir', { storeDir: 'relative' }],
    ['Priority', { priority: 1.5 }],
    ['Priority', { priority: 2 ** 31 }],
    ['X', { extra: [{ key: 'X', value: 'a\nStoreDir: /evil' }] }],
    ['X', { extra: [{ key: 'X', value: ' padded' }] }],
    ['Priority', { extra: [{ key: 'Priority', value: '1' }] }],
    ['a b', { extra: [{ key: 'a b', value: '1' }] }]
  ]
  for (const [field, info] of bad) {
    it(`refuses to write ${JSON.stringify(info)} (InvalidCacheInfoError, field ${field})`, () => {
      assert.throws(() => formatCacheInfo(info), { name: 'InvalidCacheInfoError', field })
    })
  }

  const word = fc.string({ unit: fc.constantFrom(...'abcxyz019-_.'), minLength: 1, maxLength: 10 })
  const cacheInfo: fc.Arbitrary<CacheInfo> = fc.record(
    {
      storeDir: fc.array(word, { minLength: 1, maxLength: 4 }).map((parts) => `/${parts.join('/')}`),
      wantMassQuery: fc.boolean(),
      priority: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
      extra: fc.array(
        fc.record(
          {
            key: fc.constantFrom('X', 'Y-Z', 'Foo1'),
            value: fc.constantFrom('', 'a', 'a b', 'é:λ', '1:2')
          },
          { noNullPrototype: true }
        ),
        { minLength: 1, maxLength: 3 }
      )
    },
    { requiredKeys: [], noNullPrototype: true }
  )
  const normalDir = (info: CacheInfo) =>
    info.storeDir === undefined || !info.storeDir.split('/').some((p) => p === '.' || p === '..')

  it('format then parse gives the same value back', () => {
    fc.assert(
      fc.property(cacheInfo.filter(normalDir), (info) => {
        const text = formatCacheInfo(info)
        assert.deepEqual(parseCacheInfo(text), info)
        assert.equal(formatCacheInfo(parseCacheInfo(text)), text)
      }),
      { numRuns: 500 }
    )
  })

  it('throws nothing but CacheInfoParseError on arbitrary or mutated text', () => {
    const check = (text: string) => {
      try {
        const info = parseCacheInfo(text)
        assert.deepEqual(parseCacheInfo(formatCacheInfo(info)), info)
      } catch (err) {
        if (!(err instanceof CacheInfoParseError)) throw err
      }
    }
    fc.assert(fc.property(fc.string({ maxLength: 200 }), check), { numRuns: 2000 })
    const real = 'StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 40\n'
    fc.assert(
      fc.property(fc.nat(), fc.string({ maxLength: 3 }), fc.nat({ max: 3 }), (at, insert, cut) => {
        const i = at % real.length
        check(real.slice(0, i) + insert + real.slice(i + cut))
      }),
      { numRuns: 2000 }
    )
  })
})
