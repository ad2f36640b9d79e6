import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import {
  fingerprintOf,
  formatNarinfo,
  formatSha256,
  generateSecretKey,
  type Narinfo,
  NarinfoParseError,
  nixBase32,
  parseHash,
  parseNarinfo,
  parsePublicKey,
  parseSecretKey,
  signNarinfo,
  verifyNarinfo
} from '../src/index.js'

// Fixtures made by the real nix 2.8.0 (nix copy + nix store sign); see fixtures/narinfo/regenerate.sh.
const fixture = (name: string): string =>
  readFileSync(new URL(`./fixtures/narinfo/${name}`, import.meta.url), 'utf8')
const NIX_NARINFOS = ['top.narinfo', 'mid.narinfo', 'leaf.narinfo', 'ca.narinfo', 'top-xz.narinfo']
const secret1 = parseSecretKey(fixture('test-1.sec'))
const secret2 = parseSecretKey(fixture('test-2.sec'))
const public1 = parsePublicKey(fixture('test-1.pub'))
const public2 = parsePublicKey(fixture('test-2.pub'))

const withoutSigs = (text: string): string =>
  text
    .split('\n')
    .filter((l) => !l.startsWith('Sig: '))
    .join('\n')

/** Replace the value of `field` (first occurrence). */
const setField = (text: string, field: string, value: string): string =>
  text.replace(new RegExp(`^${field}: .*$`, 'm'), `${field}: ${value}`)

describe('narinfo: narinfos written by the real nix', () => {
  for (const name of NIX_NARINFOS) {
    it(`${name} parses and formats to identical text`, () => {
      const text = fixture(name)
      assert.equal(formatNarinfo(parseNarinfo(text)), text)
    })
  }

  it('reads every field of a signed narinfo with references and a deriver', () => {
    const info = parseNarinfo(fixture('top.narinfo'))
    assert.equal(info.storePath, '/nix/store/l60h9azr43q47lr2xjbprpp3p70d4gy2-narthex-fixture-top')
    assert.equal(info.url, 'nar/1w3l8qilprhiy67k5bjszbf9nzl4mynrqnj854j7a943jc09vggi.nar')
    assert.equal(info.compression, 'none')
    assert.equal(info.fileHash, 'sha256:1w3l8qilprhiy67k5bjszbf9nzl4mynrqnj854j7a943jc09vggi')
    assert.equal(info.fileSize, 680)
    assert.equal(info.narHash, info.fileHash)
    assert.equal(info.narSize, 680)
    assert.deepEqual(info.references, [
      '0q6k2c3lrwx0yfm97ms0v2xp9aj9v7m2-narthex-fixture-leaf',
      'l60h9azr43q47lr2xjbprpp3p70d4gy2-narthex-fixture-top',
      'q3g7l5bip047j1k7xrkh4s5773jsh7s0-narthex-fixture-mid'
    ])
    assert.equal(info.deriver, 'msgyzkp771fz4dabbxz11fb3938290zg-narthex-fixture-top.drv')
    assert.equal(info.sigs.length, 2)
    assert.equal(info.ca, undefined)
    assert.equal(info.extra, undefined)
  })

  it('reads a content-addressed path with an empty References line and a CA', () => {
    const info = parseNarinfo(fixture('ca.narinfo'))
    assert.deepEqual(info.references, [])
    assert.match(info.ca!, /^fixed:r:sha256:[0-9a-z]{52}$/)
    assert.equal(info.deriver, undefined)
  })

  it('computes the fingerprint Nix signs (full paths, sorted, comma-separated)', () => {
    const info = parseNarinfo(fixture('top.narinfo'))
    assert.equal(
      fingerprintOf(info),
      '1;/nix/store/l60h9azr43q47lr2xjbprpp3p70d4gy2-narthex-fixture-top;' +
        'sha256:1w3l8qilprhiy67k5bjszbf9nzl4mynrqnj854j7a943jc09vggi;680;' +
        '/nix/store/0q6k2c3lrwx0yfm97ms0v2xp9aj9v7m2-narthex-fixture-leaf,' +
        '/nix/store/l60h9azr43q47lr2xjbprpp3p70d4gy2-narthex-fixture-top,' +
        '/nix/store/q3g7l5bip047j1k7xrkh4s5773jsh7s0-narthex-fixture-mid'
    )
  })
})

describe('narinfo signatures', () => {
  it("verifies nix's own signatures and names the key that verified", () => {
    const info = parseNarinfo(fixture('top.narinfo'))
    assert.equal(verifyNarinfo(info, [public1])?.key, public1)
    assert.equal(verifyNarinfo(info, [public2])?.key, public2)
    assert.equal(verifyNarinfo(parseNarinfo(fixture('leaf.narinfo')), [public2]), undefined)
    assert.equal(verifyNarinfo(parseNarinfo(fixture('mid.narinfo')), [public1, public2]), undefined)
  })

  it('signs exactly as nix store sign does: same signature, same text', () => {
    // ed25519 is deterministic, so narthex signing the unsigned text must give nix's bytes.
    const signed = signNarinfo(
      signNarinfo(parseNarinfo(withoutSigs(fixture('top.narinfo'))), secret2),
      secret1
    )
    assert.equal(formatNarinfo(signed), fixture('top.narinfo'))
    const leaf = signNarinfo(parseNarinfo(withoutSigs(fixture('leaf.narinfo'))), secret1)
    assert.equal(formatNarinfo(leaf), fixture('leaf.narinfo'))
  })

  it('does not add the same signature twice', () => {
    const info = parseNarinfo(fixture('top.narinfo'))
    assert.equal(signNarinfo(info, secret1), info)
    assert.equal(signNarinfo(info, secret1).sigs.length, 2)
  })

  it('refuses a key of the same name with other bytes', () => {
    const impostor = generateSecretKey('narthex-test-1')
    const info = signNarinfo(parseNarinfo(fixture('mid.narinfo')), impostor)
    assert.equal(verifyNarinfo(info, [public1]), undefined)
    assert.equal(verifyNarinfo(info, [impostor.publicKey])?.key, impostor.publicKey)
  })

  it('counts only the first of several trusted keys with the same name, as Nix does', () => {
    const impostor = generateSecretKey('narthex-test-1')
    const info = signNarinfo(parseNarinfo(fixture('mid.narinfo')), impostor)
    assert.equal(verifyNarinfo(info, [impostor.publicKey, public1])?.key, impostor.publicKey)
    assert.equal(verifyNarinfo(info, [public1, impostor.publicKey]), undefined)
  })

  it('breaks when a signed field changes and holds when an unsigned one does', () => {
    const text = fixture('top.narinfo')
    const otherHash = formatSha256(new Uint8Array(32).fill(7))
    const signedChanges: [string, string][] = [
      ['StorePath', '/nix/store/l60h9azr43q47lr2xjbprpp3p70d4gy3-narthex-fixture-top'],
      ['NarHash', otherHash],
      ['NarSize', '681'],
      [
        'References',
        '0q6k2c3lrwx0yfm97ms0v2xp9aj9v7m2-narthex-fixture-leaf l60h9azr43q47lr2xjbprpp3p70d4gy2-narthex-fixture-top'
      ]
    ]
    for (const [field, value] of signedChanges) {
      const changed = parseNarinfo(setField(text, field, value))
      assert.equal(verifyNarinfo(changed, [public1, public2]), undefined, `${field} is signed`)
    }
    const unsignedChanges: [string, string][] = [
      ['URL', 'https://elsewhere.example/nar/x.nar.zst'],
      ['Compression', 'zstd'],
      ['FileHash', otherHash],
      ['FileSize', '1'],
      ['Deriver', '00000000000000000000000000000000-other.drv']
    ]
    for (const [field, value] of unsignedChanges) {
      const changed = parseNarinfo(setField(text, field, value))
      assert.ok(verifyNarinfo(changed, [public1]), `${field} is not signed`)
    }
    assert.ok(verifyNarinfo(parseNarinfo(`${text}CA: text:${otherHash}\n`), [public1]), 'CA is not signed')
  })

  it('never verifies against an empty key list or a narinfo without signatures', () => {
    assert.equal(verifyNarinfo(parseNarinfo(fixture('top.narinfo')), []), undefined)
    assert.equal(verifyNarinfo(parseNarinfo(fixture('ca.narinfo')), [public1, public2]), undefined)
  })
})

describe('narinfo parsing rules', () => {
  const base = fixture('mid.narinfo')

  it('keeps a missing Compression absent (meaning bzip2) and writes it back absent', () => {
    const text = base.replace(/^Compression: .*\n/m, '')
    const info = parseNarinfo(text)
    assert.equal(info.compression, undefined)
    assert.equal(formatNarinfo(info), text)
  })

  it('reads every hash form Nix accepts and keeps sha256:<nix32>', () => {
    const nix32 = parseNarinfo(base).narHash
    const digest = parseHash(nix32).digest
    for (const form of [
      `sha256:${Buffer.from(digest).toString('hex')}`,
      `sha256:${Buffer.from(digest).toString('base64')}`,
      `sha256-${Buffer.from(digest).toString('base64')}`
    ]) {
      assert.equal(parseNarinfo(setField(base, 'NarHash', form)).narHash, nix32)
    }
  })

  it('keeps unknown fields in order and writes them after the known ones', () => {
    const text = base.replace(/^URL: /m, 'Provenance: {"a":1}\nURL: ').concat('X-Zzz: \n')
    const info = parseNarinfo(text)
    assert.deepEqual(info.extra, [
      { key: 'Provenance', value: '{"a":1}' },
      { key: 'X-Zzz', value: '' }
    ])
    assert.equal(formatNarinfo(info), `${base}Provenance: {"a":1}\nX-Zzz: \n`)
  })

  it('writes references and signatures sorted and unique, as Nix does', () => {
    const info = parseNarinfo(fixture('top.narinfo'))
    const shuffled: Narinfo = {
      ...info,
      references: [...info.references].reverse().concat(info.references[0]!),
      sigs: [...info.sigs].reverse()
    }
    assert.equal(formatNarinfo(shuffled), fixture('top.narinfo'))
  })

  it('sorts signatures in UTF-8 byte order, as std::set<std::string> does, also past the BMP', () => {
    const bytes = Buffer.alloc(64, 1).toString('base64')
    // U+FF21 sorts before U+1F600 in UTF-8 (EF.. < F0..) but after it in UTF-16 (FF21 > D83D).
    const sigs = [`\u{1F600}:${bytes}`, `\uFF21:${bytes}`, `a:${bytes}`]
    const text = formatNarinfo({ ...parseNarinfo(base), sigs })
    assert.deepEqual(parseNarinfo(text).sigs, [sigs[2], sigs[1], sigs[0]])
  })

  it('drops Deriver: unknown-deriver as Nix does and reads System', () => {
    const info = parseNarinfo(setField(base, 'Deriver', 'unknown-deriver').concat('System: x86_64-linux\n'))
    assert.equal(info.deriver, undefined)
    assert.equal(info.system, 'x86_64-linux')
    assert.match(formatNarinfo(info), /^References: .*\nSystem: x86_64-linux\n$/m)
  })

  it('accepts sizes up to 2^53 - 1 and FileSize 0', () => {
    const big = parseNarinfo(setField(setField(base, 'NarSize', '9007199254740991'), 'FileSize', '0'))
    assert.equal(big.narSize, Number.MAX_SAFE_INTEGER)
    assert.equal(big.fileSize, 0)
  })

  const hash = 'sha256:0qnvzhmakk6139x1qx8mxlsa9xlfmsj78ddn7kyqwa4mrcfdiks3'
  const cases: { what: string; text: string; line?: number; field?: string }[] = [
    { what: 'empty text', text: '', field: 'StorePath' },
    { what: 'missing StorePath', text: base.replace(/^StorePath: .*\n/m, ''), field: 'StorePath' },
    { what: 'missing NarHash', text: base.replace(/^NarHash: .*\n/m, ''), field: 'NarHash' },
    { what: 'missing URL', text: base.replace(/^URL: .*\n/m, ''), field: 'URL' },
    { what: 'missing NarSize', text: base.replace(/^NarSize: .*\n/m, ''), field: 'NarSize' },
    { what: 'NarSize 0', text: setField(base, 'NarSize', '0'), line: 7, field: 'NarSize' },
    { what: 'empty URL', text: setField(base, 'URL', ''), line: 2, field: 'URL' },
    { what: 'second References', text: `${base}References: \n`, line: 10, field: 'References' },
    { what: 'second CA', text: `${base}CA: text:${hash}\nCA: text:${hash}\n`, line: 11, field: 'CA' },
    { what: 'second StorePath', text: `${base}StorePath: ${parseNarinfo(base).storePath}\n`, line: 10 },
    {
      what: 'same Sig twice',
      text: `${fixture('leaf.narinfo')}${fixture('leaf.narinfo').match(/^Sig: .*\n/m)![0]}`
    },
    { what: 'bad NarHash', text: setField(base, 'NarHash', 'sha256:xyz'), line: 6, field: 'NarHash' },
    { what: 'md5 NarHash', text: setField(base, 'NarHash', `md5:${'0'.repeat(32)}`), line: 6 },
    { what: 'no hash prefix', text: setField(base, 'FileHash', hash.slice(7)), line: 4, field: 'FileHash' },
    { what: 'bad StorePath', text: setField(base, 'StorePath', '/nix/store/abc-x'), line: 1 },
    {
      what: 'StorePath elsewhere',
      text: setField(base, 'StorePath', '/tmp/q3g7l5bip047j1k7xrkh4s5773jsh7s0-x')
    },
    { what: 'e in a hash part', text: setField(base, 'Deriver', `e${'0'.repeat(31)}-x.drv`), line: 9 },
    { what: 'bad reference', text: setField(base, 'References', 'nope'), line: 8, field: 'References' },
    {
      what: 'duplicate reference',
      text: setField(base, 'References', `${'0'.repeat(32)}-a ${'0'.repeat(32)}-a`)
    },
    {
      what: 'double space in References',
      text: setField(base, 'References', `${'0'.repeat(32)}-a  ${'1'.repeat(32)}-b`)
    },
    { what: 'leading + in NarSize', text: setField(base, 'NarSize', '+544'), line: 7, field: 'NarSize' },
    { what: 'negative FileSize', text: setField(base, 'FileSize', '-1'), line: 5, field: 'FileSize' },
    { what: 'leading zero', text: setField(base, 'NarSize', '0544'), line: 7 },
    { what: 'hex size', text: setField(base, 'NarSize', '0x10'), line: 7 },
    { what: 'size past 2^53', text: setField(base, 'NarSize', '9007199254740992'), line: 7 },
    { what: 'size past uint64', text: setField(base, 'NarSize', '1'.repeat(30)), line: 7 },
    { what: 'bad Sig', text: `${base}Sig: k:AAAA\n`, line: 10, field: 'Sig' },
    { what: 'Sig without a name', text: `${base}Sig: ${'A'.repeat(86)}==\n`, line: 10, field: 'Sig' },
    { what: 'bad CA method', text: `${base}CA: other:sha256:${hash.slice(7)}\n`, line: 10, field: 'CA' },
    { what: 'text CA with sha1', text: `${base}CA: text:sha1:${'0'.repeat(32)}\n`, line: 10, field: 'CA' },
    { what: 'junk line', text: `${base}hello world\n`, line: 10 },
    { what: 'blank line', text: `${base}\n`, line: 10 },
    { what: 'junk before a colon', text: `this is junk: yes\n${base}`, line: 1 },
    { what: 'no space after the colon', text: base.replace('URL: ', 'URL:'), line: 2, field: 'URL' },
    { what: 'no final newline', text: base.slice(0, -1), line: 9 },
    { what: 'CRLF', text: base.replace(/\n/g, '\r\n'), line: 1, field: 'StorePath' },
    { what: 'NUL in a value', text: setField(base, 'URL', 'nar/\u0000.nar'), line: 2, field: 'URL' },
    { what: 'trailing space in URL', text: setField(base, 'URL', 'nar/x.nar '), line: 2, field: 'URL' }
  ]
  for (const c of cases) {
    it(`rejects ${c.what} with NarinfoParseError`, () => {
      assert.throws(
        () => parseNarinfo(c.text),
        (err: NarinfoParseError) => {
          assert.equal(err.name, 'NarinfoParseError')
          if (c.line !== undefined) assert.equal(err.line, c.line)
          if (c.field !== undefined) assert.equal(err.field, c.field)
          if (c.field === undefined && c.line === undefined) assert.ok(err.line !== undefined)
          return true
        }
      )
    })
  }

  it('names no line for a missing field', () => {
    assert.throws(() => parseNarinfo(''), { name: 'NarinfoParseError', line: undefined, field: 'StorePath' })
  })

  it('reads a StorePath in another store directory only when told', () => {
    const text = base.replaceAll('/nix/store/', '/gnu/store/')
    assert.throws(() => parseNarinfo(text), { name: 'NarinfoParseError', field: 'StorePath' })
    const info = parseNarinfo(text, { storeDir: '/gnu/store' })
    assert.match(fingerprintOf(info), /^1;\/gnu\/store\//)
    assert.equal(formatNarinfo(info), text)
  })
})

describe('narinfo formatting errors', () => {
  const info = parseNarinfo(fixture('mid.narinfo'))
  const cases: [string, Partial<Narinfo>][] = [
    ['URL', { url: 'a\nStorePath: /nix/store/x' }],
    ['URL', { url: '' }],
    ['NarSize', { narSize: 0 }],
    ['NarSize', { narSize: 1.5 }],
    ['FileSize', { fileSize: -1 }],
    ['NarHash', { narHash: 'sha256:nope' }],
    ['StorePath', { storePath: 'relative' }],
    ['References', { references: ['bad'] }],
    ['Sig', { sigs: ['k:short'] }],
    ['CA', { ca: 'fixed:sha256' }],
    ['Compression', { compression: 'x z' }],
    ['Bad Key', { extra: [{ key: 'Bad Key', value: '' }] }],
    ['URL', { extra: [{ key: 'URL', value: 'x' }] }]
  ]
  for (const [field, change] of cases) {
    it(`refuses to write ${JSON.stringify(change)} (InvalidNarinfoError, field ${field})`, () => {
      assert.throws(() => formatNarinfo({ ...info, ...change }), { name: 'InvalidNarinfoError', field })
    })
  }
})

// ---- property tests -------------------------------------------------------------------------------------------

const nix32Char = fc.constantFrom(...nixBase32.NIX_BASE32_ALPHABET)
const hashPart = fc.string({ unit: nix32Char, minLength: 32, maxLength: 32 })
const nameChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-._?=')
const storeName = fc.string({ unit: nameChar, minLength: 1, maxLength: 40 }).filter((n) => !n.startsWith('.'))
const baseName = fc.tuple(hashPart, storeName).map(([h, n]) => `${h}-${n}`)
const sha256 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map(formatSha256)
const size = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })
const word = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_.'), minLength: 1 })
const printable = fc
  .string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789/:._-~?=&% éλ'), minLength: 1 })
  .filter((s) => !s.startsWith(' ') && !s.endsWith(' '))
const sig = fc
  .tuple(word, fc.uint8Array({ minLength: 64, maxLength: 64 }))
  .map(([name, bytes]) => `${name}:${Buffer.from(bytes).toString('base64')}`)
const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b))
const ca = fc.oneof(
  sha256.map((h) => `text:${h}`),
  sha256.map((h) => `fixed:r:${h}`),
  fc.uint8Array({ minLength: 20, maxLength: 20 }).map((d) => `fixed:sha1:${nixBase32.encode(d)}`)
)
const extraKey = fc
  .tuple(fc.constantFrom('X', 'Provenance', 'Zz'), fc.string({ unit: fc.constantFrom('a', 'b', '1', '-') }))
  .map(([a, b]) => a + b)
  .filter((k) => !['URL', 'CA', 'Sig', 'System'].includes(k))

/** Any narinfo Nix could write (references and signatures sorted and unique, as Nix keeps them). */
const narinfoArb: fc.Arbitrary<Narinfo> = fc
  .record(
    {
      storePath: baseName.map((b) => `/nix/store/${b}`),
      url: printable,
      compression: fc.constantFrom('none', 'xz', 'bzip2', 'zstd', 'br'),
      fileHash: sha256,
      fileSize: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      narHash: sha256,
      narSize: size,
      references: fc.uniqueArray(baseName, { maxLength: 6 }).map((r) => r.sort(byteOrder)),
      deriver: baseName.map((b) => `${b}.drv`),
      system: fc.constantFrom('x86_64-linux', 'aarch64-darwin'),
      sigs: fc.uniqueArray(sig, { maxLength: 4 }).map((s) => s.sort(byteOrder)),
      ca,
      extra: fc.array(
        fc.record(
          { key: extraKey, value: fc.string().filter((v) => ![...v].some((c) => c < ' ' || c === '\x7f')) },
          { noNullPrototype: true }
        ),
        {
          minLength: 1,
          maxLength: 3
        }
      )
    },
    { requiredKeys: ['storePath', 'url', 'narHash', 'narSize', 'references', 'sigs'], noNullPrototype: true }
  )
  .map((n) => n as Narinfo)

function assertOnlyParseErrors(text: string): void {
  try {
    const info = parseNarinfo(text)
    // Whatever parses must write and read back to the same value.
    assert.deepEqual(parseNarinfo(formatNarinfo(info)), {
      ...info,
      references: [...new Set(info.references)].sort(byteOrder),
      sigs: [...new Set(info.sigs)].sort(byteOrder)
    })
  } catch (err) {
    if (!(err instanceof NarinfoParseError) || err.name !== 'NarinfoParseError') throw err
  }
}

describe('narinfo properties', () => {
  it('format then parse gives the same narinfo back, and formats to the same text again', () => {
    fc.assert(
      fc.property(narinfoArb, (info) => {
        const text = formatNarinfo(info)
        const back = parseNarinfo(text)
        assert.deepEqual(back, info)
        assert.equal(formatNarinfo(back), text)
      }),
      { numRuns: 500 }
    )
  })

  it('a signature made by signNarinfo verifies, and survives a format/parse round trip', () => {
    const key = generateSecretKey('prop-key')
    fc.assert(
      fc.property(narinfoArb, (info) => {
        const signed = parseNarinfo(formatNarinfo(signNarinfo(info, key)))
        assert.ok(verifyNarinfo(signed, [key.publicKey]))
      }),
      { numRuns: 100 }
    )
  })

  it('throws nothing but NarinfoParseError on arbitrary text', () => {
    fc.assert(fc.property(fc.string({ maxLength: 400 }), assertOnlyParseErrors), { numRuns: 2000 })
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.constantFrom('StorePath', 'NarHash', 'URL', 'NarSize', 'References', 'Sig', 'CA', 'X'),
            fc.string()
          )
        ),
        (lines) => assertOnlyParseErrors(lines.map(([k, v]) => `${k}: ${v}\n`).join(''))
      ),
      { numRuns: 1000 }
    )
  })

  it('throws nothing but NarinfoParseError on mutated real narinfos', () => {
    const texts = NIX_NARINFOS.map(fixture)
    const mutation = fc.oneof(
      // replace, insert or delete one character
      fc.tuple(fc.nat(), fc.string({ minLength: 1, maxLength: 1 })).map(([at, ch]) => (t: string) => {
        const i = at % t.length
        return t.slice(0, i) + ch + t.slice(i + 1)
      }),
      fc.tuple(fc.nat(), fc.string({ maxLength: 3 })).map(([at, s]) => (t: string) => {
        const i = at % (t.length + 1)
        return t.slice(0, i) + s + t.slice(i)
      }),
      fc.tuple(fc.nat(), fc.nat({ max: 20 })).map(([at, n]) => (t: string) => {
        const i = at % t.length
        return t.slice(0, i) + t.slice(i + n)
      }),
      // duplicate, drop or swap whole lines
      fc.tuple(fc.nat(), fc.nat()).map(([a, b]) => (t: string) => {
        const lines = t.split('\n')
        const i = a % lines.length
        const j = b % lines.length
        ;[lines[i], lines[j]] = [lines[j]!, lines[i]!]
        return lines.join('\n')
      }),
      fc.nat().map((a) => (t: string) => {
        const lines = t.split('\n')
        const i = a % lines.length
        return [...lines.slice(0, i), lines[i], ...lines.slice(i)].join('\n')
      }),
      fc.nat().map((a) => (t: string) => {
        const lines = t.split('\n')
        lines.splice(a % lines.length, 1)
        return lines.join('\n')
      })
    )
    fc.assert(
      fc.property(fc.constantFrom(...texts), fc.array(mutation, { minLength: 1, maxLength: 4 }), (text, ms) =>
        assertOnlyParseErrors(ms.reduce((t, m) => m(t), text))
      ),
      { numRuns: 3000 }
    )
  })
})
