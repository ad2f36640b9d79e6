/**
 * Collusion matrix: n trusted builders (n = 3..7), f of them colluding to get a false NarHash agreed, every
 * quorum k from 1 to n. Colluders submit in any order relative to the honest builders (fast-check shuffles),
 * re-sign their false claim with new times, equivocate, and replay each other's attestations. The property:
 * with f < k a false claim is never agreed (never the agreement, never served). The same harness with f ≥ k and
 * colluders first does reach a false agreement, so the test can see one when it happens.
 */
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { type Attestation, createLedger, createPolicy, createTrust, signAttestation } from '../src/index.js'
import { fields, keyFromSeed } from './fixtures.js'

const KEYS = Array.from({ length: 7 }, (_, i) => keyFromSeed(`n${i}`, `collusion-${i}`))
const TRUE = fields('victim', 'true')
const FALSE = fields('victim', 'evil')

const cache = new Map<string, Attestation>()
/** Signatures are deterministic: sign each (builder, statement) once. */
function signed(key: (typeof KEYS)[number], kind: 'true' | 'false' | 'false-resigned'): Attestation {
  const id = `${key.name}/${kind}`
  let att = cache.get(id)
  if (att === undefined) {
    const f = kind === 'true' ? TRUE : { ...FALSE, time: FALSE.time + (kind === 'false-resigned' ? 1 : 0) }
    att = signAttestation(key, f)
    cache.set(id, att)
  }
  return att
}

interface Step {
  readonly builder: number
  readonly kind: 'true' | 'false' | 'false-resigned' | 'replay'
}

function run(
  n: number,
  f: number,
  k: number,
  order: readonly Step[]
): { agreedHash: string | null; served: boolean } {
  const ledger = createLedger({
    policy: createPolicy({ quorum: k }),
    trust: createTrust(KEYS.slice(0, n).map((key) => ({ publicKey: key.publicKey })))
  })
  const sent: Attestation[] = []
  for (const step of order) {
    const key = KEYS[step.builder]!
    let att: Attestation
    if (step.kind === 'replay') {
      if (sent.length === 0) continue
      att = sent[step.builder % sent.length]!
    } else att = signed(key, step.kind)
    sent.push(att)
    try {
      ledger.submit(att)
    } catch (err) {
      assert.fail(`an attestation by a trusted builder was refused: ${(err as Error).name}`)
    }
    const o = ledger.output(TRUE.outPath)!
    if (o.agreement !== null && o.agreement.claim.narHash === FALSE.narHash && f < k) {
      assert.fail(`false claim agreed with n=${n} f=${f} k=${k}`)
    }
  }
  const o = ledger.output(TRUE.outPath)
  return { agreedHash: o?.agreement?.claim.narHash ?? null, served: o?.decision.served ?? false }
}

/** Steps for n builders of which the first f collude: honest ones attest the truth, colluders lie (and more). */
function stepsArb(n: number, f: number): fc.Arbitrary<Step[]> {
  const steps: fc.Arbitrary<Step>[] = []
  for (let b = 0; b < n; b++) {
    if (b < f) {
      steps.push(fc.constantFrom<Step>({ builder: b, kind: 'false' }, { builder: b, kind: 'false-resigned' }))
      // Some colluders also attest the truth (equivocate), some replay.
      steps.push(
        fc.constantFrom<Step>(
          { builder: b, kind: 'true' },
          { builder: b, kind: 'replay' },
          { builder: b, kind: 'false' }
        )
      )
    } else {
      steps.push(fc.constant<Step>({ builder: b, kind: 'true' }))
    }
  }
  return fc.tuple(...steps).chain((all) => fc.shuffledSubarray(all, { minLength: all.length }))
}

describe('collusion matrix', () => {
  let cells = 0
  for (let n = 3; n <= 7; n++) {
    it(`n = ${n}: with f < k colluders a false hash is never agreed (every k, every f)`, () => {
      for (let k = 1; k <= n; k++) {
        for (let f = 0; f < k; f++) {
          cells++
          fc.assert(
            fc.property(stepsArb(n, f), (order) => {
              const r = run(n, f, k, order)
              assert.notEqual(r.agreedHash, FALSE.narHash)
            }),
            { numRuns: 40 }
          )
          // Liveness when nobody lies and enough honest builders exist: the true claim is agreed.
          if (f === 0) {
            const r = run(
              n,
              0,
              k,
              KEYS.slice(0, n).map((_, b) => ({ builder: b, kind: 'true' as const }))
            )
            assert.equal(r.agreedHash, TRUE.narHash)
            assert.ok(r.served)
          }
        }
      }
    })
  }

  it('covers the whole matrix', () => {
    assert.equal(
      cells,
      [3, 4, 5, 6, 7].reduce((s, n) => s + (n * (n + 1)) / 2, 0)
    )
  })

  it('sees a false agreement when f ≥ k colluders go first (the check can fail)', () => {
    const order: Step[] = [
      { builder: 0, kind: 'false' },
      { builder: 1, kind: 'false' },
      { builder: 2, kind: 'true' }
    ]
    assert.equal(run(3, 2, 2, order).agreedHash, FALSE.narHash)
  })

  it('an honest dissent before the colluders reach k blocks their agreement (disputed, nothing served)', () => {
    const r = run(4, 2, 2, [
      { builder: 3, kind: 'true' },
      { builder: 0, kind: 'false' },
      { builder: 1, kind: 'false' }
    ])
    assert.equal(r.agreedHash, null)
    assert.equal(r.served, false)
  })
})
