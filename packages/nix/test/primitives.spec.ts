import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import {
  checkName,
  fingerprint,
  formatHash,
  formatPublicKey,
  formatSecretKey,
  generateSecretKey,
  nixBase32,
  parseHash,
  parsePublicKey,
  parseSecretKey,
  parseStorePath,
  signDetached,
  verifyDetached
} from '../src/index.js'

describe('nix-base32', () => {
  it('encodes the digest of the empty string as Nix prints it', () => {
    // `nix-hash --type sha256 --to-base32 e3b0c442...` gives this value.
    const digest = createHash('sha256').update('').digest()
    assert.equal(nixBase32.encode(digest), '0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73')
  })

  it('round-trips any byte string', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        assert.deepEqual(nixBase32.decode(nixBase32.encode(bytes), bytes.length), bytes)
      })
    )
  })

  it('rejects characters outside the alphabet and non-zero padding bits', () => {
    assert.throws(() => nixBase32.decode('e'.repeat(52)), { name: 'InvalidBase32Error' })
    // 52 characters hold 260 bits for 256: a leading "z" sets padding bits.
    assert.throws(() => nixBase32.decode('z' + '0'.repeat(51)), { name: 'InvalidBase32Error' })
  })
})

describe('hash strings', () => {
  const hex = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
  it('parses nix32, base16, base64 and SRI forms to the same digest', () => {
    const a = parseHash('sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73')
    for (const form of ['base16', 'base64', 'sri'] as const) {
      assert.deepEqual(parseHash(formatHash(a, form)), a)
    }
    assert.equal(formatHash(a, 'base16'), `sha256:${hex}`)
    assert.equal(formatHash(a, 'sri'), 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=')
  })

  it('rejects unknown algorithms, wrong lengths and a mismatched expected algorithm', () => {
    assert.throws(() => parseHash('sha3:abc'), { name: 'InvalidHashError' })
    assert.throws(() => parseHash('sha256:abc'), { name: 'InvalidHashError' })
    assert.throws(() => parseHash(`sha1:${'0'.repeat(32)}`, 'sha256'), { name: 'InvalidHashError' })
    assert.throws(() => parseHash('nohash'), { name: 'InvalidHashError' })
  })
})

describe('store paths', () => {
  it('parses a valid path and rejects bad hash parts and names', () => {
    const p = parseStorePath('/nix/store/7dq3vm4zslrjyxl2ll6iy9mgb0gcx2lk-hello-2.12')
    assert.equal(p.hashPart, '7dq3vm4zslrjyxl2ll6iy9mgb0gcx2lk')
    assert.equal(p.name, 'hello-2.12')
    assert.throws(() => parseStorePath('/nix/store/7dq3vm4zslrjyxl2ll6iy9mgb0gcx2le-x'), {
      name: 'InvalidStorePathError'
    })
    assert.throws(() => parseStorePath('/tmp/7dq3vm4zslrjyxl2ll6iy9mgb0gcx2lk-x'), {
      name: 'InvalidStorePathError'
    })
    assert.throws(() => checkName('.hidden'), { name: 'InvalidStorePathError' })
    assert.throws(() => checkName('a/b'), { name: 'InvalidStorePathError' })
    assert.throws(() => checkName('x'.repeat(212)), { name: 'InvalidStorePathError' })
  })
})

describe('signing keys', () => {
  it('round-trips key files and verifies its own signatures', () => {
    const key = generateSecretKey('test-1')
    const again = parseSecretKey(formatSecretKey(key))
    assert.equal(formatPublicKey(again.publicKey), formatPublicKey(key.publicKey))
    const fp = fingerprint({
      storePath: '/nix/store/7dq3vm4zslrjyxl2ll6iy9mgb0gcx2lk-hello',
      narHash: 'sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73',
      narSize: 120,
      references: []
    })
    const sig = signDetached(key, fp)
    assert.ok(verifyDetached(fp, sig, [parsePublicKey(formatPublicKey(key.publicKey))]))
    assert.ok(!verifyDetached(`${fp}x`, sig, [key.publicKey]))
    const sameName = generateSecretKey('test-1')
    assert.ok(!verifyDetached(fp, sig, [sameName.publicKey]))
  })

  it('names the mistake when a public key is given as a secret key and vice versa', () => {
    const key = generateSecretKey('k')
    assert.throws(() => parseSecretKey(formatPublicKey(key.publicKey)), { name: 'InvalidKeyError' })
    assert.throws(() => parsePublicKey(formatSecretKey(key)), { name: 'InvalidKeyError' })
    assert.throws(() => parseSecretKey('no-colon'), { name: 'InvalidKeyError' })
  })

  it('sorts references in the fingerprint as Nix does', () => {
    const fp = fingerprint({
      storePath: '/nix/store/7dq3vm4zslrjyxl2ll6iy9mgb0gcx2lk-a',
      narHash: 'sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73',
      narSize: 1,
      references: [
        '/nix/store/z0000000000000000000000000000000-b',
        '/nix/store/00000000000000000000000000000000-c'
      ]
    })
    assert.match(fp, /;\/nix\/store\/0{32}-c,\/nix\/store\/z0{31}-b$/)
  })
})
