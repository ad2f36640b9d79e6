import assert from 'node:assert/strict'
import type { Worker } from 'node:worker_threads'
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

  for (const how of ['an error', 'an exit'] as const) {
    it(`carries on after ${how} of a worker: its batches are done on this thread, later ones by a new worker`, async () => {
      const key = generateSecretKey('v-1')
      const verifier = new CryptoWorkers({ keys: [key.publicKey], signingKey: key, threads: 2 })
      try {
        const atts = Array.from({ length: 40 }, (_, i) => parseAttestation(attest(key, `q-${i}`)))
        // a batch in flight on both workers while one of them dies
        const inFlight = Promise.all(atts.map((a) => verifier.verify(a, key.publicKey)))
        const worker = (verifier as unknown as { workers: Worker[] }).workers[0]!
        if (how === 'an error')
          worker.postMessage({ id: 0, keys: null }) // throws inside the worker
        else void worker.terminate()
        assert.deepEqual(
          await inFlight,
          atts.map(() => true)
        )
        await new Promise((r) => setTimeout(r, 100))
        // every later batch is answered, by the worker that is left and a replacement
        for (let round = 0; round < 4; round++) {
          const later = await Promise.race([
            Promise.all(atts.map((a) => verifier.verify(a, key.publicKey))),
            new Promise((r) => setTimeout(() => r('hung'), 5000))
          ])
          assert.deepEqual(
            later,
            atts.map(() => true)
          )
        }
        assert.ok((await verifier.sign('a fingerprint')).startsWith('v-1:'))
      } finally {
        await verifier.stop()
      }
    })
  }
})
