/**
 * The orchestrator's state and its operations, independent of HTTP: the consensus ledger, the durable store, the
 * signed narinfos of agreed outputs, the event log and the recent-attestation list.
 *
 * Visibility rule: a change becomes visible to clients (a narinfo served, an event published, a submission
 * acknowledged) only once it is durable. The ledger itself changes synchronously on submission; a narinfo that a
 * change withdraws is withdrawn at once (withdrawing early is safe, serving early is not).
 */
import {
  type Agreement,
  AttestationSignatureError,
  createLedger,
  createPolicy,
  createTrust,
  type Ledger,
  type OutputChange,
  type OutputState,
  type OutputStatus,
  parseAttestation,
  type StoredAttestation
} from '@narthex/consensus'
import { formatPublicKey, type SecretKey } from '@narthex/nix'
import createDebug from 'debug'
import type { OrchestratorConfig } from './config.js'
import {
  MAX_BATCH_ATTESTATIONS,
  MAX_CLOCK_SKEW_MS,
  RECENT_ATTESTATIONS,
  SSE_REPLAY_EVENTS
} from './constants.js'
import { CryptoWorkers } from './crypto-workers.js'
import {
  AttestationFromFutureError,
  InvalidRequestError,
  ShuttingDownError,
  StorageUnavailableError
} from './errors.js'
import { EventLog } from './events.js'
import type { Metrics } from './metrics.js'
import { agreementNarinfo } from './narinfo.js'
import type { AgreementRecord, Store } from './store.js'

const log = createDebug('narthex:orchestrator')

export interface SubmitOutcome {
  readonly result: 'accepted' | 'duplicate'
  readonly seq: number
  readonly output: OutputState
}

/** A narinfo ready to send: its bytes and its complete response headers, built once at agreement time. */
export interface ServedNarinfo {
  readonly body: Buffer
  readonly headers: Readonly<Record<string, string | number>>
}

/** Response headers of a narinfo: the agreed manifest root rides along for shims (docs/api.md). */
function servedNarinfo(text: string, manifestRoot: string): ServedNarinfo {
  const body = Buffer.from(text, 'utf8')
  return {
    body,
    headers: {
      'content-type': 'text/x-nix-narinfo',
      'content-length': body.length,
      'x-narthex-manifest-root': manifestRoot
    }
  }
}

export interface ServiceInit {
  readonly config: OrchestratorConfig
  readonly key: SecretKey
  readonly store: Store
  readonly metrics: Metrics
  readonly now?: () => number
}

export class Service {
  readonly ledger: Ledger
  readonly events = new EventLog(SSE_REPLAY_EVENTS)
  readonly metrics: Metrics
  readonly publicKey: string
  private readonly store: Store
  private readonly now: () => number
  /** Signed narinfo of every agreement, by output path, with its response headers. */
  private readonly narinfoText = new Map<string, ServedNarinfo>()
  /** What is served: hash part → narinfo, only for durable, currently served agreements. */
  private readonly served = new Map<string, ServedNarinfo>()
  /** Writes not yet durable, per output path. */
  private readonly inFlight = new Map<string, number>()
  /** seq → its durable-write promise, so a duplicate of an in-flight attestation is acknowledged only when durable. */
  private readonly pendingSeq = new Map<number, Promise<unknown>>()
  private readonly recentList: StoredAttestation[] = []
  readonly startedAt: number
  private readonly crypto: CryptoWorkers
  private readonly countAccepted: () => void
  private readonly countDuplicate: () => void
  /** Submissions are recorded in the ledger in arrival order, one after the other, through this chain. */
  private recordChain: Promise<void> = Promise.resolve()
  /** Set by the orchestrator's stop(): new submissions are refused. */
  stopping = false

  constructor(init: ServiceInit) {
    this.store = init.store
    this.metrics = init.metrics
    this.countAccepted = init.metrics.attestations.bind({ result: 'accepted' })
    this.countDuplicate = init.metrics.attestations.bind({ result: 'duplicate' })
    this.now = init.now ?? Date.now
    this.publicKey = formatPublicKey(init.key.publicKey)
    this.ledger = createLedger({
      policy: createPolicy({ quorum: init.config.quorum, afterAgreement: init.config.afterAgreement }),
      trust: createTrust(init.config.trust.map((t) => ({ publicKey: t.key, revoked: t.revoked })))
    })
    this.startedAt = this.now()
    this.crypto = new CryptoWorkers({
      keys: this.ledger.builders().flatMap((b) => (b.trusted === null ? [] : [b.trusted.publicKey])),
      signingKey: init.key
    })
  }

  async close(): Promise<void> {
    await this.crypto.stop()
  }

  /**
   * Rebuild the state from the store: agreements, then attestations in order, then one decision per output.
   * Agreements reached now (the trust set or quorum changed) and narinfos signed by another key are written
   * before anything is served.
   */
  async load(): Promise<void> {
    const records = new Map<string, AgreementRecord>()
    for await (const r of this.store.agreements()) {
      records.set(r.agreement.claim.outPath, r)
      this.ledger.restoreAgreement(r.agreement)
    }
    let count = 0
    for await (const s of this.store.attestations()) {
      this.ledger.restore(s)
      this.remember(s)
      count++
    }
    const changes = this.ledger.settle(this.now())
    const ops = []
    for (const change of changes) {
      if (change.newAgreement !== null) {
        const record = await this.sign(change.newAgreement)
        records.set(record.agreement.claim.outPath, record)
        ops.push(this.store.putAgreementOp(record))
      }
    }
    for (const [outPath, r] of records) {
      if (r.signedBy !== this.publicKey) {
        const record = await this.sign(r.agreement)
        records.set(outPath, record)
        ops.push(this.store.putAgreementOp(record))
      }
    }
    if (ops.length > 0) await this.store.write(ops)
    for (const [outPath, r] of records) {
      this.narinfoText.set(outPath, servedNarinfo(r.narinfo, r.agreement.claim.manifestRoot))
    }
    for (const o of this.ledger.allOutputs()) this.refreshServing(o)
    log('loaded %d attestations, %d agreements (%d new or re-signed)', count, records.size, ops.length)
  }

  get storageFailed(): boolean {
    return this.store.failed
  }

  isServed(hashPart: string): boolean {
    return this.served.has(hashPart)
  }

  /** True when the builder's attestations count (trusted and not revoked). */
  isCounted(builder: string): boolean {
    const b = this.ledger.builder(builder)
    return b !== undefined && b.trusted !== null && !b.revoked
  }

  /**
   * Outputs, most recently updated first, filtered by status and/or a search string matched against the output
   * path and the derivation paths (a hash part or a name fragment). A linear scan: fine for the tens of thousands
   * of outputs one orchestrator holds; an index would be the next step.
   */
  listOutputs(opts: { status: OutputStatus | null; q: string | null; limit: number }): {
    outputs: OutputState[]
    total: number
  } {
    const q = opts.q
    const hits: OutputState[] = []
    for (const o of this.ledger.allOutputs()) {
      if (opts.status !== null && o.decision.status !== opts.status) continue
      if (
        q !== null &&
        !o.outPath.includes(q) &&
        !o.attestations.some((s) => s.attestation.drvPath.includes(q))
      ) {
        continue
      }
      hits.push(o)
    }
    hits.sort((a, b) => b.updatedAt - a.updatedAt)
    return { outputs: hits.slice(0, opts.limit), total: hits.length }
  }

  summary(p2p: unknown): Record<string, unknown> {
    const counts = this.ledger.statusCounts()
    const decided = counts.agreed + counts.disputed
    return {
      outputs: { ...counts, total: this.ledger.outputCount },
      agreementRate: decided === 0 ? null : counts.agreed / decided,
      served: this.served.size,
      attestations: this.ledger.lastSeq(),
      builders: this.ledger.builders().filter((b) => b.trusted !== null && !b.revoked).length,
      quorum: this.ledger.policy.quorum,
      afterAgreement: this.ledger.policy.afterAgreement,
      orchestratorKey: this.publicKey,
      startedAt: this.startedAt,
      lastEventId: this.events.lastId,
      p2p
    }
  }

  /** The narinfo served for a hash part, if its output is agreed and served. */
  narinfo(hashPart: string): ServedNarinfo | undefined {
    return this.served.get(hashPart)
  }

  get servedCount(): number {
    return this.served.size
  }

  /** Most recent accepted attestations, newest first. */
  recent(limit: number): StoredAttestation[] {
    return this.recentList.slice(-limit).reverse()
  }

  /** The agreement of a served output. */
  agreementOf(hashPart: string): { output: OutputState; agreement: Agreement } | undefined {
    const output = this.ledger.outputByHashPart(hashPart)
    if (output === undefined || output.agreement === null || !this.served.has(hashPart)) return undefined
    return { output, agreement: output.agreement }
  }

  /**
   * Accept one attestation (already `JSON.parse`d): validate, verify, record, persist, publish. Resolves when
   * durable. Throws the typed errors of @narthex/consensus, `AttestationFromFutureError`, or
   * `StorageUnavailableError`.
   */
  async submit(json: unknown): Promise<SubmitOutcome> {
    if (this.stopping) throw new ShuttingDownError('the orchestrator is stopping')
    if (this.store.failed) throw new StorageUnavailableError('storage failed; restart the orchestrator')
    let result: ReturnType<Ledger['submit']>
    try {
      const att = parseAttestation(json)
      if (att.time > this.now() + MAX_CLOCK_SKEW_MS) {
        throw new AttestationFromFutureError(
          `attestation time ${new Date(att.time).toISOString()} is more than ${MAX_CLOCK_SKEW_MS / 60000} minutes ahead of the orchestrator's clock`
        )
      }
      // Verified in the crypto workers, in parallel with other submissions; recorded strictly in arrival order
      // (the chain), so a batch is applied in its order whatever order its signatures are verified in.
      const verified = this.crypto.verify(att, this.ledger.trustedKey(att))
      const recorded = this.recordChain.then(async () => {
        if (!(await verified)) {
          throw new AttestationSignatureError(
            `the signature does not verify with builder ${JSON.stringify(att.builder)}'s key`
          )
        }
        if (this.store.failed) throw new StorageUnavailableError('storage failed; restart the orchestrator')
        return this.ledger.submitVerified(att, this.now())
      })
      this.recordChain = recorded.then(
        () => {},
        () => {}
      )
      result = await recorded
    } catch (err) {
      this.metrics.attestations.inc({ result: 'rejected', reason: (err as Error).name })
      throw err
    }
    if (result.kind === 'duplicate') {
      this.countDuplicate()
      const pending = this.pendingSeq.get(result.stored.seq)
      if (pending !== undefined) await pending
      return { result: 'duplicate', seq: result.stored.seq, output: result.output }
    }
    const { stored, output, change } = result
    // From here until the write is durable, the output serves nothing new and a duplicate of this attestation
    // waits for it.
    if (!output.decision.served) this.served.delete(output.hashPart)
    this.inFlight.set(output.outPath, (this.inFlight.get(output.outPath) ?? 0) + 1)
    const durable = (async (): Promise<AgreementRecord | null> => {
      const ops = [this.store.putAttestationOp(stored)]
      const rec = change.newAgreement === null ? null : await this.sign(change.newAgreement)
      if (rec !== null) ops.push(this.store.putAgreementOp(rec))
      await this.store.write(ops)
      return rec
    })()
    this.pendingSeq.set(stored.seq, durable)
    let record: AgreementRecord | null
    try {
      record = await durable
    } catch (err) {
      this.metrics.attestations.inc({ result: 'rejected', reason: (err as Error).name })
      throw err
    } finally {
      this.pendingSeq.delete(stored.seq)
      const n = (this.inFlight.get(output.outPath) ?? 1) - 1
      if (n === 0) this.inFlight.delete(output.outPath)
      else this.inFlight.set(output.outPath, n)
    }
    if (record !== null) {
      this.narinfoText.set(output.outPath, servedNarinfo(record.narinfo, record.agreement.claim.manifestRoot))
    }
    this.refreshServing(output)
    this.remember(stored)
    this.countAccepted()
    if (record !== null) this.metrics.agreements.inc()
    this.publish(stored, output, change, result.equivocation)
    return { result: 'accepted', seq: stored.seq, output }
  }

  /** Submit several attestations; one outcome or error per item, in order. */
  async submitBatch(items: unknown[]): Promise<({ ok: SubmitOutcome } | { error: Error })[]> {
    if (items.length > MAX_BATCH_ATTESTATIONS) {
      throw new InvalidRequestError(`a batch holds at most ${MAX_BATCH_ATTESTATIONS} attestations`)
    }
    return Promise.all(
      items.map((item) =>
        this.submit(item).then(
          (ok) => ({ ok }),
          (error: Error) => ({ error })
        )
      )
    )
  }

  private async sign(agreement: Agreement): Promise<AgreementRecord> {
    const narinfo = await agreementNarinfo(agreement, (fp) => this.crypto.sign(fp))
    return { agreement, narinfo, signedBy: this.publicKey }
  }

  private refreshServing(output: OutputState): void {
    const text = this.narinfoText.get(output.outPath)
    if (output.decision.served && text !== undefined && !this.inFlight.has(output.outPath)) {
      this.served.set(output.hashPart, text)
    } else {
      this.served.delete(output.hashPart)
    }
  }

  private remember(s: StoredAttestation): void {
    this.recentList.push(s)
    if (this.recentList.length > RECENT_ATTESTATIONS * 2) this.recentList.splice(0, RECENT_ATTESTATIONS)
  }

  private publish(
    stored: StoredAttestation,
    output: OutputState,
    change: OutputChange,
    equivocation: boolean
  ): void {
    const a = stored.attestation
    this.events.publish({
      type: 'attestation',
      data: {
        seq: stored.seq,
        builder: a.builder,
        outPath: a.outPath,
        hashPart: output.hashPart,
        drvPath: a.drvPath,
        outputName: a.outputName,
        narHash: a.narHash,
        receivedAt: stored.receivedAt,
        status: output.decision.status
      }
    })
    if (equivocation) {
      this.events.publish({
        type: 'equivocation',
        data: { builder: a.builder, outPath: a.outPath, hashPart: output.hashPart }
      })
    }
    if (change.previous !== change.status || change.previousServed !== change.output.decision.served) {
      this.events.publish({
        type: 'output',
        data: {
          outPath: output.outPath,
          hashPart: output.hashPart,
          previous: change.previous,
          status: change.status,
          served: this.served.has(output.hashPart),
          agreed: change.newAgreement !== null
        }
      })
    }
  }
}
