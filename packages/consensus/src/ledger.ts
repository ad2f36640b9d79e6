/**
 * The ledger: every accepted attestation, grouped by output path, with each output's current decision and its
 * (sticky) agreement. In memory and synchronous; the orchestrator persists what `submit` returns and rebuilds the
 * ledger on start with `restore`, `restoreAgreement` and `settle`.
 *
 * `submit` verifies before it changes anything: an unknown builder, a revoked builder or a bad signature throws and
 * leaves the ledger as it was. A duplicate (the same builder stating the same thing about the same derivation
 * output again, whatever its time or signature bytes) changes nothing either and is reported as such.
 */
import { type PublicKey, parseStorePath } from '@narthex/nix'
import { type Attestation, verifyAttestation } from './attestation.js'
import { type Claim, claimKey, claimOf } from './claim.js'
import { AttestationSignatureError, BuilderRevokedError, UnknownBuilderError } from './errors.js'
import { type Decision, decide, type OutputStatus, type Policy, type Vote } from './policy.js'
import type { TrustedBuilder } from './trust.js'

/** An accepted attestation with what the ledger adds to it. */
export interface StoredAttestation {
  readonly attestation: Attestation
  /** `claimKey(claimOf(attestation))`. */
  readonly claimKey: string
  /** Position in the ledger's history (1, 2, ...): the order attestations were accepted in. */
  readonly seq: number
  /** When the orchestrator accepted it, milliseconds since the Unix epoch. */
  readonly receivedAt: number
}

/** The agreement of an output: reached once, never replaced by another claim. */
export interface Agreement {
  readonly claim: Claim
  readonly claimKey: string
  /** Deriver for the narinfo: the one stated by the earliest supporting attestation (not part of the claim). */
  readonly deriver: string | null
  /** Names of the builders whose support reached the quorum, sorted. */
  readonly builders: readonly string[]
  /** When the agreement was reached (orchestrator clock), milliseconds since the Unix epoch. */
  readonly time: number
}

/** One output path as the ledger sees it. Read-only view of live state: copy what you keep. */
export interface OutputState {
  readonly outPath: string
  readonly hashPart: string
  /** Every accepted attestation for this path, in acceptance order (counted or not). */
  readonly attestations: readonly StoredAttestation[]
  readonly agreement: Agreement | null
  readonly decision: Decision
  readonly firstSeen: number
  readonly updatedAt: number
}

/** A builder as the ledger sees it. */
export interface BuilderState {
  readonly name: string
  /** Null for a name that signed stored attestations but is no longer in the trust set. */
  readonly trusted: TrustedBuilder | null
  readonly revoked: boolean
  readonly attestations: number
  readonly lastSeen: number | null
  /** Output paths on which this builder stated two or more different claims. */
  readonly equivocations: ReadonlySet<string>
  /** Number of agreements this builder's support helped reach. */
  readonly agreements: number
}

/** A change of an output's decision caused by one event. */
export interface OutputChange {
  readonly output: OutputState
  /** The status before, or null when the output is new. */
  readonly previous: OutputStatus | null
  readonly status: OutputStatus
  /** Set when this event reached the output's agreement: persist it with the event. */
  readonly newAgreement: Agreement | null
  readonly previousServed: boolean
}

export type SubmitResult =
  | {
      readonly kind: 'accepted'
      readonly stored: StoredAttestation
      readonly output: OutputState
      /** True when this attestation made its builder an equivocator on this output. */
      readonly equivocation: boolean
      readonly change: OutputChange
    }
  | { readonly kind: 'duplicate'; readonly stored: StoredAttestation; readonly output: OutputState }

export interface LedgerInit {
  readonly policy: Policy
  readonly trust: ReadonlyMap<string, TrustedBuilder>
}

interface OutputEntry {
  outPath: string
  hashPart: string
  attestations: StoredAttestation[]
  /** Identity of a statement (builder, drv, output, deriver, claim) → its first stored attestation. */
  statements: Map<string, StoredAttestation>
  agreement: Agreement | null
  decision: Decision
  firstSeen: number
  updatedAt: number
}

interface BuilderEntry {
  name: string
  trusted: TrustedBuilder | null
  revoked: boolean
  attestations: number
  lastSeen: number | null
  equivocations: Set<string>
  agreements: number
}

const EMPTY_DECISION: Decision = {
  status: 'pending',
  agreedKey: null,
  newlyAgreed: false,
  served: false,
  support: new Map(),
  equivocators: [],
  dissenters: []
}

function statementKey(att: Attestation, key: string): string {
  return `${att.builder}\n${att.drvPath}\n${att.outputName}\n${att.deriver ?? ''}\n${key}`
}

export class Ledger {
  readonly policy: Policy
  private readonly outputs = new Map<string, OutputEntry>()
  private readonly byHashPart = new Map<string, OutputEntry>()
  private readonly byDrv = new Map<string, Set<OutputEntry>>()
  private readonly builderEntries = new Map<string, BuilderEntry>()
  private readonly counts: Record<OutputStatus, number> = { pending: 0, agreed: 0, disputed: 0 }
  private seq = 0

  constructor(init: LedgerInit) {
    this.policy = init.policy
    for (const t of init.trust.values()) {
      this.builderEntries.set(t.name, {
        name: t.name,
        trusted: t,
        revoked: t.revoked,
        attestations: 0,
        lastSeen: null,
        equivocations: new Set(),
        agreements: 0
      })
    }
  }

  /**
   * The public key an attestation must verify with: its builder's, if that builder is trusted and not revoked.
   * Throws `UnknownBuilderError` or `BuilderRevokedError`.
   */
  trustedKey(att: Attestation): PublicKey {
    const b = this.builderEntries.get(att.builder)
    if (b === undefined || b.trusted === null) {
      throw new UnknownBuilderError(`no trusted builder key is named ${JSON.stringify(att.builder)}`)
    }
    if (b.revoked) throw new BuilderRevokedError(`builder ${JSON.stringify(att.builder)} was revoked`)
    return b.trusted.publicKey
  }

  /** Check an attestation's builder and signature; throws the typed error `submit` would. */
  verify(att: Attestation): void {
    if (!verifyAttestation(att, this.trustedKey(att))) {
      throw new AttestationSignatureError(
        `the signature does not verify with builder ${JSON.stringify(att.builder)}'s key`
      )
    }
  }

  /**
   * Verify and record an attestation (validated with `parseAttestation`/`checkAttestationFields`), then decide
   * its output again. Throws `UnknownBuilderError`, `BuilderRevokedError` or `AttestationSignatureError`.
   */
  submit(att: Attestation, now: number = Date.now()): SubmitResult {
    this.verify(att)
    return this.record(att, now, this.seq + 1, true)
  }

  /**
   * Record an attestation whose signature the caller has already verified with `trustedKey(att)` (for example
   * in a worker thread). The builder is checked again (it may have been revoked meanwhile).
   */
  submitVerified(att: Attestation, now: number = Date.now()): SubmitResult {
    this.trustedKey(att)
    return this.record(att, now, this.seq + 1, true)
  }

  /**
   * Put back a stored attestation on start, without verifying or deciding (call `settle` once all are back).
   * Attestations must be restored in `seq` order. A duplicate is ignored.
   */
  restore(stored: StoredAttestation): void {
    this.record(stored.attestation, stored.receivedAt, stored.seq, false)
  }

  /** Put back a stored agreement on start (before `settle`). */
  restoreAgreement(agreement: Agreement): void {
    const entry = this.entry(agreement.claim.outPath, agreement.time)
    entry.agreement = agreement
    for (const name of agreement.builders) {
      const b = this.builderEntries.get(name)
      if (b !== undefined) b.agreements++
    }
  }

  /**
   * Decide every output again (after restoring, or after the trust set changed): returns the outputs whose
   * decision changed, including agreements reached now (a dissenter was revoked, the quorum lowered...), which the
   * caller must persist.
   */
  settle(now: number = Date.now()): OutputChange[] {
    const changes: OutputChange[] = []
    for (const entry of this.outputs.values()) {
      const change = this.redecide(entry, now, this.statusOf(entry))
      if (change !== null) changes.push(change)
    }
    return changes
  }

  /** Revoke a builder: its attestations stop counting. Returns the outputs whose decision changed. */
  revoke(name: string, now: number = Date.now()): OutputChange[] {
    const b = this.builderEntries.get(name)
    if (b === undefined || b.trusted === null) {
      throw new UnknownBuilderError(`no trusted builder key is named ${JSON.stringify(name)}`)
    }
    if (b.revoked) return []
    b.revoked = true
    const changes: OutputChange[] = []
    const seen = new Set<OutputEntry>()
    for (const entry of this.outputs.values()) {
      if (seen.has(entry) || !entry.attestations.some((s) => s.attestation.builder === name)) continue
      seen.add(entry)
      const change = this.redecide(entry, now, entry.decision.status)
      if (change !== null) changes.push(change)
    }
    return changes
  }

  output(outPath: string): OutputState | undefined {
    return this.outputs.get(outPath)
  }

  outputByHashPart(hashPart: string): OutputState | undefined {
    return this.byHashPart.get(hashPart)
  }

  /** Outputs attested as outputs of `drvPath`, in first-seen order. */
  outputsOfDrv(drvPath: string): OutputState[] {
    return [...(this.byDrv.get(drvPath) ?? [])]
  }

  allOutputs(): IterableIterator<OutputState> {
    return this.outputs.values()
  }

  builders(): BuilderState[] {
    return [...this.builderEntries.values()]
  }

  builder(name: string): BuilderState | undefined {
    return this.builderEntries.get(name)
  }

  statusCounts(): Readonly<Record<OutputStatus, number>> {
    return { ...this.counts }
  }

  /** The seq of the last accepted attestation (0 when none). */
  lastSeq(): number {
    return this.seq
  }

  get outputCount(): number {
    return this.outputs.size
  }

  private isCounted(name: string): boolean {
    const b = this.builderEntries.get(name)
    return b !== undefined && b.trusted !== null && !b.revoked
  }

  private statusOf(entry: OutputEntry): OutputStatus | null {
    return entry.attestations.length === 0 && entry.agreement === null ? null : entry.decision.status
  }

  private entry(outPath: string, now: number): OutputEntry {
    let entry = this.outputs.get(outPath)
    if (entry === undefined) {
      const hashPart = parseStorePath(outPath).hashPart
      entry = {
        outPath,
        hashPart,
        attestations: [],
        statements: new Map(),
        agreement: null,
        decision: EMPTY_DECISION,
        firstSeen: now,
        updatedAt: now
      }
      this.outputs.set(outPath, entry)
      this.byHashPart.set(hashPart, entry)
      this.counts.pending++
    }
    return entry
  }

  private record(att: Attestation, now: number, seq: number, decideNow: boolean): SubmitResult {
    const key = claimKey(claimOf(att))
    const existing = this.outputs.get(att.outPath)
    const sKey = statementKey(att, key)
    const dup = existing?.statements.get(sKey)
    if (dup !== undefined && existing !== undefined)
      return { kind: 'duplicate', stored: dup, output: existing }

    const previous = existing === undefined ? null : this.statusOf(existing)
    const entry = this.entry(att.outPath, now)
    const stored: StoredAttestation = { attestation: att, claimKey: key, seq, receivedAt: now }
    const wasEquivocating = this.equivocates(entry, att.builder)
    entry.attestations.push(stored)
    entry.statements.set(sKey, stored)
    entry.updatedAt = now
    if (seq > this.seq) this.seq = seq
    let drvs = this.byDrv.get(att.drvPath)
    if (drvs === undefined) {
      drvs = new Set()
      this.byDrv.set(att.drvPath, drvs)
    }
    drvs.add(entry)

    let b = this.builderEntries.get(att.builder)
    if (b === undefined) {
      // Only on restore: a name removed from the trust set since. Kept visible, never counted.
      b = {
        name: att.builder,
        trusted: null,
        revoked: false,
        attestations: 0,
        lastSeen: null,
        equivocations: new Set(),
        agreements: 0
      }
      this.builderEntries.set(att.builder, b)
    }
    b.attestations++
    b.lastSeen = Math.max(b.lastSeen ?? 0, now)
    const nowEquivocating = this.equivocates(entry, att.builder)
    if (nowEquivocating) b.equivocations.add(att.outPath)

    if (!decideNow) {
      return {
        kind: 'accepted',
        stored,
        output: entry,
        equivocation: false,
        change: {
          output: entry,
          previous,
          status: entry.decision.status,
          newAgreement: null,
          previousServed: entry.decision.served
        }
      }
    }
    const change = this.redecide(entry, now, previous) ?? {
      output: entry,
      previous,
      status: entry.decision.status,
      newAgreement: null,
      previousServed: entry.decision.served
    }
    return {
      kind: 'accepted',
      stored,
      output: entry,
      equivocation: nowEquivocating && !wasEquivocating,
      change
    }
  }

  private equivocates(entry: OutputEntry, builder: string): boolean {
    let first: string | undefined
    for (const s of entry.attestations) {
      if (s.attestation.builder !== builder) continue
      if (first === undefined) first = s.claimKey
      else if (s.claimKey !== first) return true
    }
    return false
  }

  /** Decide `entry` again; returns the change, or null when neither status nor served-ness changed. */
  private redecide(entry: OutputEntry, now: number, previous: OutputStatus | null): OutputChange | null {
    const votes: Vote[] = []
    for (const s of entry.attestations) {
      if (this.isCounted(s.attestation.builder)) {
        votes.push({ builder: s.attestation.builder, claimKey: s.claimKey })
      }
    }
    const before = entry.decision
    const decision = decide(votes, entry.agreement?.claimKey ?? null, this.policy)
    entry.decision = decision
    this.counts[before.status]--
    this.counts[decision.status]++
    let newAgreement: Agreement | null = null
    if (decision.newlyAgreed && decision.agreedKey !== null) {
      const supporters = decision.support.get(decision.agreedKey) ?? []
      const first = entry.attestations.find(
        (s) => s.claimKey === decision.agreedKey && supporters.includes(s.attestation.builder)
      )!
      newAgreement = {
        claim: claimOf(first.attestation),
        claimKey: decision.agreedKey,
        deriver: first.attestation.deriver,
        builders: supporters,
        time: now
      }
      entry.agreement = newAgreement
      for (const name of supporters) {
        const b = this.builderEntries.get(name)
        if (b !== undefined) b.agreements++
      }
    }
    if (previous === decision.status && before.served === decision.served && newAgreement === null)
      return null
    return { output: entry, previous, status: decision.status, newAgreement, previousServed: before.served }
  }
}
