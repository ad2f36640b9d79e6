import assert from 'node:assert/strict'
import { parseAttestation } from '@narthex/consensus'
import { generateSecretKey } from '@narthex/nix'
import { CryptoWorkers } from '../src/crypto-workers.js'
import { attest } from './helpers.js'

describe('CryptoWorkers (worker threads)', () => {
  it('answers like verifyAttestation for a burst of good and bad signatures, in order', async () => {
    const keys = [generateSecretKey('v-1'), generateSecretKey('v-2')]
    const impostor = generateSecretKey('v-1')
    const verifier = new CryptoWorkers({
      keys: keys.map((k) => k.publicKey),
      signingKey: keys[0]!,
      threads: 2
    })
    try {
      const cases = Array.from({ length: 200 }, (_, i) => {
        const signer = i % 5 === 0 ? impostor : keys[i % 2]!
        let att = parseAttestation(attest(signer, `p-${i}`))
        if (i % 7 === 0) att = { ...att, narSize: att.narSize + 1 }
        const expected = signer !== impostor && i % 7 !== 0
        return { att, key: keys[i % 2]!.publicKey, expected }
      })
      const results = await Promise.all(cases.map((c) => verifier.verify(c.att, c.key)))
      assert.deepEqual(
        results,
        cases.map((c) => c.expected)
      )
      assert.equal(await verifier.verify(cases[1]!.att, generateSecretKey('unknown').publicKey), false)
    } finally {
      await verifier.stop()
    }
  })
})
