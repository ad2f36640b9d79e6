/**
 * Model-based test of the ledger: random histories of submissions (valid, tampered, by unknown keys, by
 * impostors using a trusted name, duplicates, re-signed statements, equivocations, replays of earlier
 * submissions) and revocations are applied both to the real ledger and to a small reference model written
 * independently and naively (it re-derives everything from the full history after every event, with its own
 * encoding and its own signature check). After every event, both must agree on the submission's outcome and on
 * every output's status, agreement and equivocators: 0 mismatches.
 */
import assert from 'node:assert/strict'
import { verify as edVerify } from 'node:crypto'
import type { SecretKey } from '@narthex/nix'
import fc from 'fast-check'
import {
  type AfterAgreement,
  type Attestation,
  createLedger,
  createPolicy,
  createTrust,
  signAttestation
} from '../src/index.js'
import { fields, keyFromSeed } from './fixtures.js'

// ---------------------------------------------------------------------------------------------------------------
// The reference model

interface ModelAtt {
  readonly att: Attestation
  readonly claim: string
}

class Model {
  readonly accepted: ModelAtt[] = []
  readonly revoked = new Set<string>()
  readonly agreed = new Map<string, string>()

  constructor(
    readonly trusted: ReadonlyMap<string, SecretKey>,
    readonly k: number,
    readonly after: AfterAgreement
  ) {}

  /** The documented canonical encoding, written out again from docs/consensus.md. */
  static encode(a: Attestation): Buffer {
    const lines = [
      'narthex-attestation-v1',
      'builder:' + a.builder,
      'drv-path:' + a.drvPath,
      'output-name:' + a.outputName,
      'out-path:' + a.outPath,
      'nar-hash:' + a.narHash,
      'nar-size:' + String(a.narSize),
      'references:' + a.references.join(','),
      'deriver:' + (a.deriver === null ? '' : a.deriver),
      'manifest-root:' + a.manifestRoot,
      'time:' + String(a.time)
    ]
    return Buffer.from(lines.map((l) => l + '\n').join(''), 'latin1')
  }

  static claim(a: Attestation): string {
    return JSON.stringify([a.outPath, a.narHash, a.narSize, a.references, a.manifestRoot])
  }

  submit(a: Attestation): string {
    const key = this.trusted.get(a.builder)
    if (key === undefined) return 'UnknownBuilderError'
    if (this.revoked.has(a.builder)) return 'BuilderRevokedError'
    const prefix = a.builder + ':'
    const sig = Buffer.from(a.signature.slice(prefix.length), 'base64')
    const ok =
      a.signature.startsWith(prefix) &&
      sig.length === 64 &&
      edVerify(null, Model.encode(a), key.publicKey.keyObject, sig)
    if (!ok) return 'AttestationSignatureError'
    const claim = Model.claim(a)
    const same = this.accepted.find(
      (m) =>
        m.att.builder === a.builder &&
        m.att.drvPath === a.drvPath &&
        m.att.outputName === a.outputName &&
        m.att.deriver === a.deriver &&
        m.claim === claim
    )
    if (same !== undefined) return 'duplicate'
    this.accepted.push({ att: a, claim })
    this.settle()
    return 'accepted'
  }

  revoke(name: string): void {
    this.revoked.add(name)
    this.settle()
  }

  outPaths(): string[] {
    return [...new Set(this.accepted.map((m) => m.att.outPath))]
  }

  /** Builder → its distinct claims on `outPath`, counting only trusted, unrevoked builders. */
  claimsBy(outPath: string): Map<string, Set<string>> {
    const m = new Map<string, Set<string>>()
    for (const x of this.accepted) {
      if (x.att.outPath !== outPath || this.revoked.has(x.att.builder)) continue
      if (!m.has(x.att.builder)) m.set(x.att.builder, new Set())
      m.get(x.att.builder)!.add(x.claim)
    }
    return m
  }

  equivocators(outPath: string): string[] {
    return [...this.claimsBy(outPath)]
      .filter(([, s]) => s.size > 1)
      .map(([b]) => b)
      .sort()
  }

  /** Single-claim builders per claim. */
  honest(outPath: string): Map<string, string[]> {
    const out = new Map<string, string[]>()
    for (const [b, s] of this.claimsBy(outPath)) {
      if (s.size !== 1) continue
      const c = [...s][0]!
      out.set(c, [...(out.get(c) ?? []), b])
    }
    return out
  }

  status(outPath: string): string {
    const honest = this.honest(outPath)
    const equiv = this.equivocators(outPath)
    const agreed = this.agreed.get(outPath)
    if (agreed === undefined) {
      if (equiv.length === 0 && honest.size === 1 && [...honest.values()][0]!.length >= this.k)
        return 'agreed'
      return equiv.length > 0 || honest.size >= 2 ? 'disputed' : 'pending'
    }
    const support = honest.get(agreed)?.length ?? 0
    let dissent = equiv.length
    for (const [c, bs] of honest) if (c !== agreed) dissent += bs.length
    if (support >= this.k && (dissent === 0 || this.after === 'keep')) return 'agreed'
    return dissent > 0 ? 'disputed' : 'pending'
  }

  settle(): void {
    for (const o of this.outPaths()) {
      if (this.agreed.has(o)) continue
      if (this.status(o) === 'agreed') this.agreed.set(o, [...this.honest(o).keys()][0]!)
    }
  }

  builderEquivocations(name: string): string[] {
    const out: string[] = []
    for (const o of this.outPaths()) {
      const claims = new Set(
        this.accepted.filter((m) => m.att.outPath === o && m.att.builder === name).map((m) => m.claim)
      )
      if (claims.size > 1) out.push(o)
    }
    return out.sort()
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Histories

const TRUSTED = ['t1', 't2', 't3', 't4'].map((n) => keyFromSeed(n, n))
const STRANGER = keyFromSeed('stranger', 'stranger')
const IMPOSTOR = keyFromSeed('t1', 'impostor')
const SIGNERS = [...TRUSTED, STRANGER, IMPOSTOR]
const OUTPUTS = ['alpha', 'beta']
const VARIANTS = ['a', 'b', 'c']

type Event =
  | {
      type: 'submit'
      signer: number
      output: number
      variant: number
      drv: number
      nullDeriver: boolean
      time: number
      tamper: 'none' | 'narSize' | 'time' | 'signature' | 'builder'
    }
  | { type: 'replay'; index: number }
  | { type: 'revoke'; builder: number }

const eventArb: fc.Arbitrary<Event> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      type: fc.constant('submit' as const),
      signer: fc.oneof({ weight: 6, arbitrary: fc.nat(TRUSTED.length - 1) }, fc.constantFrom(4, 5)),
      output: fc.nat(OUTPUTS.length - 1),
      variant: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, fc.nat(VARIANTS.length - 1)),
      drv: fc.nat(1),
      nullDeriver: fc.boolean(),
      time: fc.nat(3),
      tamper: fc.oneof(
        { weight: 8, arbitrary: fc.constant('none' as const) },
        fc.constantFrom('narSize' as const, 'time' as const, 'signature' as const, 'builder' as const)
      )
    })
  },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('replay' as const), index: fc.nat(1000) }) },
  {
    weight: 1,
    arbitrary: fc.record({ type: fc.constant('revoke' as const), builder: fc.nat(TRUSTED.length - 1) })
  }
)

const signed = new Map<string, Attestation>()
function attestationFor(e: Extract<Event, { type: 'submit' }>): Attestation {
  const id = JSON.stringify(e)
  const cached = signed.get(id)
  if (cached !== undefined) return cached
  const key = SIGNERS[e.signer]!
  const name = OUTPUTS[e.output]!
  const base = fields(name, VARIANTS[e.variant], 1_700_000_000_000 + e.time)
  const drvPath = e.drv === 0 ? base.drvPath : fields(`${name}-alt`).drvPath
  let a = signAttestation(key, { ...base, drvPath, deriver: e.nullDeriver ? null : drvPath })
  switch (e.tamper) {
    case 'narSize':
      a = { ...a, narSize: a.narSize + 1 }
      break
    case 'time':
      a = { ...a, time: a.time + 1 }
      break
    case 'signature':
      a = { ...a, signature: `${a.builder}:${Buffer.alloc(64, 7).toString('base64')}` }
      break
    case 'builder':
      // Claims to be another trusted builder, signature by its own key.
      a = { ...a, builder: a.builder === 't2' ? 't3' : 't2' }
      break
  }
  signed.set(id, a)
  return a
}

describe('ledger vs reference model (model-based, fast-check)', () => {
  for (const [k, after] of [
    [1, 'keep'],
    [2, 'keep'],
    [2, 'withdraw'],
    [3, 'keep'],
    [3, 'withdraw']
  ] as [number, AfterAgreement][]) {
    it(`0 mismatches on random histories, k = ${k}, afterAgreement = ${after}`, function () {
      this.timeout(120_000)
      const stats = { events: 0, accepted: 0, duplicate: 0, rejected: 0, agreed: 0, disputed: 0 }
      fc.assert(
        fc.property(fc.array(eventArb, { minLength: 5, maxLength: 40, size: 'max' }), (events) => {
          const trustedKeys = new Map(TRUSTED.map((key) => [key.name, key]))
          const model = new Model(trustedKeys, k, after)
          const ledger = createLedger({
            policy: createPolicy({ quorum: k, afterAgreement: after }),
            trust: createTrust(TRUSTED.map((key) => ({ publicKey: key.publicKey })))
          })
          const history: Attestation[] = []
          let now = 0
          for (const e of events) {
            now++
            stats.events++
            if (e.type === 'revoke') {
              const name = TRUSTED[e.builder]!.name
              model.revoke(name)
              ledger.revoke(name, now)
            } else {
              const a =
                e.type === 'submit'
                  ? attestationFor(e)
                  : history.length > 0
                    ? history[e.index % history.length]!
                    : undefined
              if (a === undefined) continue
              history.push(a)
              const expected = model.submit(a)
              let actual: string
              try {
                actual = ledger.submit(a, now).kind
              } catch (err) {
                actual = (err as Error).name
              }
              assert.equal(actual, expected, `submission outcome of ${JSON.stringify(e)}`)
              if (actual === 'accepted') stats.accepted++
              else if (actual === 'duplicate') stats.duplicate++
              else stats.rejected++
            }
            // Every output, every time.
            const outPaths = model.outPaths()
            assert.equal(ledger.outputCount, outPaths.length)
            for (const o of outPaths) {
              const state = ledger.output(o)!
              assert.equal(state.decision.status, model.status(o), `status of ${o}`)
              assert.equal(state.decision.served, model.status(o) === 'agreed')
              const agreed = model.agreed.get(o)
              assert.equal(
                state.agreement === null ? undefined : Model.claim(state.agreement.claim as Attestation),
                agreed
              )
              assert.deepEqual(state.decision.equivocators, model.equivocators(o))
            }
            for (const key of TRUSTED) {
              assert.deepEqual(
                [...ledger.builder(key.name)!.equivocations].sort(),
                model.builderEquivocations(key.name)
              )
            }
            const counts = ledger.statusCounts()
            assert.equal(counts.agreed + counts.pending + counts.disputed, outPaths.length)
          }
          for (const o of model.outPaths()) {
            if (model.status(o) === 'agreed') stats.agreed++
            if (model.status(o) === 'disputed') stats.disputed++
          }
        }),
        { numRuns: 150 }
      )
      // The histories must exercise every branch, or the comparison proves little.
      assert.ok(stats.accepted > 100 && stats.duplicate > 20 && stats.rejected > 20, JSON.stringify(stats))
      assert.ok(stats.agreed > 5 && stats.disputed > 5, JSON.stringify(stats))
      console.log(`      ${JSON.stringify(stats)}`)
    })
  }
})
