import assert from 'node:assert/strict'
import { formatPublicKey, generateSecretKey, parsePublicKey, parseSha256 } from '@narthex/nix'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import {
  type Attestation,
  encodeAttestation,
  formatAttestation,
  parseAttestation,
  signAttestation,
  verifyAttestation
} from '../src/index.js'
import { fields, keyFromSeed, manifestRoot, storePath } from './fixtures.js'

const key = keyFromSeed('builder-1', 'golden')

describe('attestation encoding', () => {
  it('encodes the documented canonical form, byte for byte (golden vector)', () => {
    const att = signAttestation(key, fields('hello'))
    const text = Buffer.from(encodeAttestation(att)).toString('latin1')
    assert.equal(
      text,
      [
        'narthex-attestation-v1',
        'builder:builder-1',
        `drv-path:${storePath('hello.drv')}`,
        'output-name:out',
        `out-path:${storePath('hello')}`,
        `nar-hash:${att.narHash}`,
        'nar-size:1001',
        `references:${[storePath('glibc'), storePath('hello')].sort().join(',')}`,
        `deriver:${storePath('hello.drv')}`,
        `manifest-root:${manifestRoot('hello:a')}`,
        'time:1700000000000',
        ''
      ].join('\n')
    )
    // ed25519 is deterministic: this pins the encoding and the signature scheme together.
    assert.equal(att.signature, GOLDEN_SIGNATURE)
  })

  it('writes an empty deriver and empty references as empty values', () => {
    const att = signAttestation(key, { ...fields('lone'), references: [], deriver: null })
    const text = Buffer.from(encodeAttestation(att)).toString('latin1')
    assert.match(text, /\nreferences:\nderiver:\nmanifest-root:/)
  })

  it('signs with the key name as builder and verifies with the public key', () => {
    const att = signAttestation(key, fields('hello'))
    assert.equal(att.builder, 'builder-1')
    assert.ok(verifyAttestation(att, key.publicKey))
    const pub = parsePublicKey(formatPublicKey(key.publicKey))
    assert.ok(verifyAttestation(att, pub))
  })

  it('fails verification when any signed field changes', () => {
    const att = signAttestation(key, fields('hello'))
    const changes: Partial<Attestation>[] = [
      { drvPath: storePath('other.drv') },
      { outputName: 'dev' },
      { outPath: storePath('other') },
      { narHash: fields('hello', 'b').narHash },
      { narSize: att.narSize + 1 },
      { references: [storePath('glibc')] },
      { deriver: null },
      { manifestRoot: manifestRoot('x') },
      { time: att.time + 1 }
    ]
    for (const change of changes) {
      assert.equal(verifyAttestation({ ...att, ...change }, key.publicKey), false, JSON.stringify(change))
    }
  })

  it('fails verification with another key of the same name, or a key of another name', () => {
    const att = signAttestation(key, fields('hello'))
    assert.equal(verifyAttestation(att, generateSecretKey('builder-1').publicKey), false)
    const other = keyFromSeed('builder-2', 'golden')
    assert.equal(verifyAttestation(att, other.publicKey), false)
    assert.equal(verifyAttestation({ ...att, signature: 'builder-1:AAAA' }, key.publicKey), false)
  })
})

describe('attestation JSON form', () => {
  it('round-trips through JSON and stays verifiable', () => {
    const att = signAttestation(key, fields('hello'))
    const back = parseAttestation(JSON.parse(JSON.stringify(formatAttestation(att))))
    assert.deepEqual(back, att)
    assert.ok(verifyAttestation(back, key.publicKey))
  })

  it('normalises the NarHash to nix32 and sorts references, so the signature still verifies', () => {
    const att = signAttestation(key, fields('hello'))
    const json = formatAttestation(att) as unknown as Record<string, unknown>
    const hex = `sha256:${Buffer.from(parseSha256(att.narHash)).toString('hex')}` // base16 form, same digest
    const back = parseAttestation({ ...json, narHash: hex, references: [...att.references].reverse() })
    assert.equal(back.narHash, att.narHash)
    assert.deepEqual(back.references, att.references)
    assert.ok(verifyAttestation(back, key.publicKey))
  })

  const json = (): Record<string, unknown> =>
    ({ ...formatAttestation(signAttestation(key, fields('hello'))) }) as Record<string, unknown>
  const cases: [string, (o: Record<string, unknown>) => unknown, string | undefined][] = [
    ['not an object', () => [1], undefined],
    ['null', () => null, undefined],
    ['an unknown field', (o) => ({ ...o, extra: 1 }), 'extra'],
    ['a missing field', (o) => ({ ...o, deriver: undefined }), 'deriver'],
    ['another version', (o) => ({ ...o, v: 2 }), 'v'],
    ['a bad builder name', (o) => ({ ...o, builder: 'a b' }), 'builder'],
    ['a drvPath that is not a .drv', (o) => ({ ...o, drvPath: storePath('x') }), 'drvPath'],
    ['a drvPath outside the store', (o) => ({ ...o, drvPath: '/tmp/x.drv' }), 'drvPath'],
    ['a bad output name', (o) => ({ ...o, outputName: 'a\nb' }), 'outputName'],
    ['a bad outPath', (o) => ({ ...o, outPath: '/nix/store/short-x' }), 'outPath'],
    [
      'a sha1 NarHash',
      (o) => ({ ...o, narHash: 'sha1:0000000000000000000000000000000000000000' }),
      'narHash'
    ],
    ['a negative NarSize', (o) => ({ ...o, narSize: -1 }), 'narSize'],
    ['a fractional NarSize', (o) => ({ ...o, narSize: 1.5 }), 'narSize'],
    ['a string NarSize', (o) => ({ ...o, narSize: '12' }), 'narSize'],
    ['duplicate references', (o) => ({ ...o, references: [storePath('a'), storePath('a')] }), 'references'],
    ['a reference that is not a store path', (o) => ({ ...o, references: ['glibc'] }), 'references[0]'],
    ['references that are not an array', (o) => ({ ...o, references: storePath('a') }), 'references'],
    ['a raw-codec manifest root', (o) => ({ ...o, manifestRoot: rawCid() }), 'manifestRoot'],
    ['a manifest root that is not a CID', (o) => ({ ...o, manifestRoot: 'bnotacid' }), 'manifestRoot'],
    ['a non-canonical manifest root', (o) => ({ ...o, manifestRoot: upper(o.manifestRoot) }), 'manifestRoot'],
    ['a time that is not an integer', (o) => ({ ...o, time: '2024' }), 'time'],
    ['a signature by another key name', (o) => ({ ...o, signature: 'other:AAAA' }), 'signature'],
    ['a signature that is not a string', (o) => ({ ...o, signature: 5 }), 'signature']
  ]
  for (const [what, mutate, field] of cases) {
    it(`rejects ${what} with InvalidAttestationError${field ? ` on ${field}` : ''}`, () => {
      assert.throws(
        () => parseAttestation(mutate(json())),
        (err: Error & { field?: string }) => err.name === 'InvalidAttestationError' && err.field === field
      )
    })
  }

  it('never throws anything but InvalidAttestationError on arbitrary JSON (fuzz)', () => {
    const base = json()
    fc.assert(
      fc.property(
        fc.oneof(
          fc.jsonValue(),
          fc.record({ key: fc.constantFrom(...Object.keys(base)), value: fc.jsonValue() })
        ),
        (input) => {
          const value =
            typeof input === 'object' && input !== null && 'key' in input && 'value' in input
              ? { ...base, [input.key as string]: input.value }
              : input
          try {
            parseAttestation(value)
          } catch (err) {
            assert.equal((err as Error).name, 'InvalidAttestationError')
          }
        }
      ),
      { numRuns: 500 }
    )
  })
})

function rawCid(): string {
  return CID.create(1, 0x55, Digest.create(0x12, new Uint8Array(32))).toString()
}
function upper(v: unknown): string {
  return String(v).toUpperCase()
}

const GOLDEN_SIGNATURE =
  'builder-1:P6m5KbyBKGLEWMIYNKGxTR/BEOkRfS8PYIEM5Ee6iOumdCjQwgGq8RcGHuy50RpRNEWLEekD4ygn7afB0eM7BA=='
