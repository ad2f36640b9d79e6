import assert from 'node:assert/strict'
import {
  type AfterAgreement,
  type Attestation,
  createLedger,
  createPolicy,
  createTrust,
  decide,
  type Ledger,
  signAttestation
} from '../src/index.js'
import { fields, keyFromSeed } from './fixtures.js'

const keys = ['b1', 'b2', 'b3', 'b4'].map((name) => keyFromSeed(name, name))
const [k1, k2, k3, k4] = keys as [(typeof keys)[0], (typeof keys)[0], (typeof keys)[0], (typeof keys)[0]]

function ledger(quorum = 2, afterAgreement: AfterAgreement = 'keep', revoked: string[] = []): Ledger {
  return createLedger({
    policy: createPolicy({ quorum, afterAgreement }),
    trust: createTrust(keys.map((k) => ({ publicKey: k.publicKey, revoked: revoked.includes(k.name) })))
  })
}

const att = (key: typeof k1, variant = 'a', name = 'hello', time?: number): Attestation =>
  signAttestation(key, fields(name, variant, time))

describe('ledger', () => {
  it('agrees when k distinct trusted builders attest the same claim, and records the agreement', () => {
    const l = ledger(2)
    const r1 = l.submit(att(k1), 1)
    assert.equal(r1.kind, 'accepted')
    assert.equal(r1.output.decision.status, 'pending')
    const r2 = l.submit(att(k2), 2)
    assert.equal(r2.kind, 'accepted')
    assert.equal(r2.output.decision.status, 'agreed')
    assert.ok(r2.kind === 'accepted' && r2.change.newAgreement)
    assert.deepEqual(r2.change.newAgreement.builders, ['b1', 'b2'])
    assert.equal(r2.change.newAgreement.time, 2)
    assert.equal(r2.change.newAgreement.claim.narHash, fields('hello').narHash)
    assert.deepEqual(l.statusCounts(), { pending: 0, agreed: 1, disputed: 0 })
    assert.equal(l.builder('b1')!.agreements, 1)
  })

  it('never counts duplicates or replays twice', () => {
    const l = ledger(2)
    const a = att(k1)
    assert.equal(l.submit(a).kind, 'accepted')
    assert.equal(l.submit(a).kind, 'duplicate')
    // The same statement re-signed later is still a duplicate.
    assert.equal(l.submit(att(k1, 'a', 'hello', 1_800_000_000_000)).kind, 'duplicate')
    assert.equal(l.output(a.outPath)!.decision.status, 'pending')
    assert.equal(l.output(a.outPath)!.attestations.length, 1)
  })

  it('counts one builder once even when it attests the same claim for two derivations', () => {
    const l = ledger(2)
    l.submit(att(k1))
    const other = signAttestation(k1, { ...fields('hello'), drvPath: fields('hello-alt').drvPath })
    assert.equal(l.submit(other).kind, 'accepted')
    assert.equal(l.output(other.outPath)!.decision.status, 'pending')
    assert.equal(l.outputsOfDrv(other.drvPath).length, 1)
  })

  it('rejects unknown builders, revoked builders and bad signatures without changing anything', () => {
    const l = ledger(2, 'keep', ['b4'])
    const stranger = keyFromSeed('stranger', 'x')
    assert.throws(() => l.submit(att(stranger)), { name: 'UnknownBuilderError' })
    assert.throws(() => l.submit(att(k4)), { name: 'BuilderRevokedError' })
    const impostor = keyFromSeed('b1', 'not-b1')
    assert.throws(() => l.submit(att(impostor)), { name: 'AttestationSignatureError' })
    const tampered = { ...att(k1), narSize: 5 }
    assert.throws(() => l.submit(tampered), { name: 'AttestationSignatureError' })
    assert.equal(l.outputCount, 0)
    assert.equal(l.lastSeq(), 0)
  })

  it('marks disagreement as disputed and never agrees while it lasts (non-reproducible output)', () => {
    const l = ledger(2)
    l.submit(att(k1, 'a'))
    const r = l.submit(att(k2, 'b'))
    assert.equal(r.output.decision.status, 'disputed')
    l.submit(att(k3, 'a'))
    const o = l.output(fields('hello').outPath)!
    assert.equal(o.decision.status, 'disputed')
    assert.equal(o.agreement, null)
    assert.deepEqual([...o.decision.support.values()].map((s) => s.length).sort(), [1, 2])
  })

  it('flags a builder that attests two different claims for one output, and its votes stop counting', () => {
    const l = ledger(2)
    l.submit(att(k1, 'a'))
    const r = l.submit(att(k1, 'b'))
    assert.ok(r.kind === 'accepted' && r.equivocation)
    assert.deepEqual([...l.builder('b1')!.equivocations], [fields('hello').outPath])
    assert.deepEqual(r.output.decision.equivocators, ['b1'])
    assert.equal(r.output.decision.status, 'disputed')
    l.submit(att(k2, 'a'))
    assert.equal(l.output(fields('hello').outPath)!.decision.status, 'disputed')
    assert.equal(l.output(fields('hello').outPath)!.agreement, null)
  })

  it('keeps an agreement after a late dissenter when afterAgreement is keep, flagged as contested', () => {
    const l = ledger(2, 'keep')
    l.submit(att(k1))
    l.submit(att(k2))
    const r = l.submit(att(k3, 'evil'))
    assert.equal(r.output.decision.status, 'agreed')
    assert.ok(r.output.decision.served)
    assert.deepEqual(r.output.decision.dissenters, ['b3'])
  })

  it('withdraws an agreement after a late dissenter when afterAgreement is withdraw, and never agrees on another claim', () => {
    const l = ledger(2, 'withdraw')
    l.submit(att(k1))
    l.submit(att(k2))
    const r = l.submit(att(k3, 'other'))
    assert.equal(r.output.decision.status, 'disputed')
    assert.equal(r.output.decision.served, false)
    assert.ok(r.kind === 'accepted' && r.change.previousServed)
    l.submit(att(k4, 'other'))
    const o = l.output(fields('hello').outPath)!
    assert.equal(o.decision.status, 'disputed')
    assert.equal(o.agreement!.claim.narHash, fields('hello', 'a').narHash)
  })

  it('stops counting a revoked builder: a dispute it caused resolves, an agreement it carried is withdrawn', () => {
    const l = ledger(2)
    l.submit(att(k1, 'a'))
    l.submit(att(k2, 'evil'))
    l.submit(att(k3, 'a'))
    assert.equal(l.output(fields('hello').outPath)!.decision.status, 'disputed')
    const changes = l.revoke('b2', 10)
    assert.equal(changes.length, 1)
    assert.equal(changes[0]!.status, 'agreed')
    assert.ok(changes[0]!.newAgreement)
    // Now revoke one of the supporters: support falls under k, the narinfo is no longer served.
    const again = l.revoke('b3', 11)
    assert.equal(again[0]!.status, 'pending')
    assert.equal(again[0]!.output.decision.served, false)
    assert.equal(l.output(fields('hello').outPath)!.agreement!.claim.narHash, fields('hello').narHash)
    // A new supporter restores it, on the same claim.
    l.submit(att(k4, 'a'))
    assert.equal(l.output(fields('hello').outPath)!.decision.status, 'agreed')
  })

  it('rebuilds the same state from restored attestations and agreements', () => {
    const l = ledger(2)
    l.submit(att(k1, 'a', 'x'), 1)
    l.submit(att(k2, 'a', 'x'), 2)
    l.submit(att(k3, 'b', 'x'), 3)
    l.submit(att(k1, 'a', 'y'), 4)
    const copy = ledger(2)
    for (const o of l.allOutputs()) if (o.agreement) copy.restoreAgreement(o.agreement)
    const all = [...l.allOutputs()].flatMap((o) => o.attestations).sort((a, b) => a.seq - b.seq)
    for (const s of all) copy.restore(s)
    const changes = copy.settle(5)
    assert.ok(changes.every((c) => c.newAgreement === null))
    for (const o of l.allOutputs()) {
      const c = copy.output(o.outPath)!
      assert.equal(c.decision.status, o.decision.status)
      assert.deepEqual(c.agreement, o.agreement)
    }
    assert.deepEqual(copy.statusCounts(), l.statusCounts())
    assert.equal(copy.lastSeq(), l.lastSeq())
  })

  it('agrees at settle time when the quorum was lowered since', () => {
    const l = ledger(3)
    l.submit(att(k1), 1)
    l.submit(att(k2), 2)
    const copy = ledger(2)
    for (const s of l.output(fields('hello').outPath)!.attestations) copy.restore(s)
    const changes = copy.settle(9)
    assert.equal(changes.length, 1)
    assert.equal(changes[0]!.newAgreement!.time, 9)
  })
})

describe('decide', () => {
  const policy = createPolicy({ quorum: 2 })
  const v = (builder: string, claimKey: string) => ({ builder, claimKey })
  const table: [string, ReturnType<typeof v>[], string | null, string, string | null][] = [
    ['no votes', [], null, 'pending', null],
    ['one vote', [v('a', 'X')], null, 'pending', null],
    ['two agreeing', [v('a', 'X'), v('b', 'X')], null, 'agreed', 'X'],
    ['one builder twice', [v('a', 'X'), v('a', 'X')], null, 'pending', null],
    ['two disagreeing', [v('a', 'X'), v('b', 'Y')], null, 'disputed', null],
    ['majority with a dissenter', [v('a', 'X'), v('b', 'X'), v('c', 'Y')], null, 'disputed', null],
    ['equivocator alone', [v('a', 'X'), v('a', 'Y')], null, 'disputed', null],
    ['agreed, late dissenter (keep)', [v('a', 'X'), v('b', 'X'), v('c', 'Y')], 'X', 'agreed', 'X'],
    ['agreed, support lost', [v('a', 'X')], 'X', 'pending', 'X'],
    ['agreed, other claim reaches k', [v('c', 'Y'), v('d', 'Y')], 'X', 'disputed', 'X']
  ]
  for (const [what, votes, agreed, status, agreedKey] of table) {
    it(`${what}: ${status}`, () => {
      const d = decide(votes, agreed, policy)
      assert.equal(d.status, status)
      assert.equal(d.agreedKey, agreedKey)
    })
  }

  it('rejects a quorum under 1 and an unknown afterAgreement', () => {
    assert.throws(() => createPolicy({ quorum: 0 }), { name: 'InvalidPolicyError' })
    assert.throws(() => createPolicy({ afterAgreement: 'maybe' as AfterAgreement }), {
      name: 'InvalidPolicyError'
    })
  })

  it('rejects two trusted keys with one name', () => {
    assert.throws(
      () => createTrust([{ publicKey: k1.publicKey }, { publicKey: keyFromSeed('b1', 'other').publicKey }]),
      { name: 'InvalidPolicyError' }
    )
  })
})
