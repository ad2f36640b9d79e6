/**
 * Durable state in `level`: every accepted attestation and every agreement, written with group commit.
 *
 * Layout (UTF-8 keys, JSON values):
 * - `meta:layout` → DB_LAYOUT_VERSION
 * - `att:<seq, 15 digits>` → `{ seq, receivedAt, attestation: <AttestationJson> }`, in acceptance order
 * - `agr:<outPath>` → `{ agreement: { claim, deriver, builders, time }, narinfo, signedBy }`
 *
 * Crash consistency: everything one submission changes (its attestation, and the agreement and narinfo it reached)
 * goes into one level batch; LevelDB applies a batch atomically and in order, so after a crash at any point an
 * agreement is on disk only with the attestation that completed it (and every earlier one), and an output has at
 * most one agreement record. Batches are written with `sync: true` (fsync) before a submission is acknowledged.
 * Submissions that arrive while a batch is being written are written together in the next one (group commit),
 * which is how durable ingest keeps up with thousands of attestations per second.
 */
import {
  type Agreement,
  type AttestationJson,
  claimKey,
  formatAttestation,
  parseAttestation,
  type StoredAttestation
} from '@narthex/consensus'
import createDebug from 'debug'
import { Level } from 'level'
import { DB_LAYOUT_VERSION } from './constants.js'
import { DatabaseLayoutError, StorageUnavailableError } from './errors.js'

const log = createDebug('narthex:orchestrator:store')

export interface AgreementRecord {
  readonly agreement: Agreement
  /** The signed narinfo text. */
  readonly narinfo: string
  /** The public key (`name:base64`) that signed `narinfo`; a different current key means re-signing. */
  readonly signedBy: string
}

interface AttestationValue {
  readonly seq: number
  readonly receivedAt: number
  readonly attestation: AttestationJson
}

interface AgreementValue {
  readonly agreement: {
    readonly claim: Agreement['claim']
    readonly deriver: string | null
    readonly builders: readonly string[]
    readonly time: number
  }
  readonly narinfo: string
  readonly signedBy: string
}

export interface Op {
  readonly type: 'put'
  readonly key: string
  readonly value: unknown
}

interface Pending {
  readonly ops: Op[]
  resolve(): void
  reject(err: Error): void
}

export function attestationKey(seq: number): string {
  return `att:${String(seq).padStart(15, '0')}`
}

export class Store {
  private readonly db: Level<string, unknown>
  private queue: Pending[] = []
  private writing: Promise<void> | null = null
  private failure: Error | null = null
  /** Batches written and attestations per batch, for /metrics. */
  commits = 0
  committedOps = 0

  constructor(readonly dir: string) {
    this.db = new Level<string, unknown>(dir, { valueEncoding: 'json' })
  }

  /** Open (creating when empty) and check the layout version. */
  async open(): Promise<void> {
    await this.db.open()
    const layout = await this.db.get('meta:layout')
    if (layout === undefined) {
      let empty = true
      for await (const _ of this.db.keys({ limit: 1 })) empty = false
      if (!empty) throw new DatabaseLayoutError(`${this.dir} holds data but no narthex layout version`)
      await this.db.put('meta:layout', DB_LAYOUT_VERSION, { sync: true })
    } else if (layout !== DB_LAYOUT_VERSION) {
      throw new DatabaseLayoutError(
        `${this.dir} has layout version ${String(layout)}; this build reads ${DB_LAYOUT_VERSION}`
      )
    }
  }

  /** Every stored agreement. */
  async *agreements(): AsyncGenerator<AgreementRecord> {
    for await (const value of this.db.values({ gt: 'agr:', lt: 'agr;' })) {
      const v = value as AgreementValue
      yield {
        agreement: { ...v.agreement, claimKey: claimKey(v.agreement.claim) },
        narinfo: v.narinfo,
        signedBy: v.signedBy
      }
    }
  }

  /** Every stored attestation, in acceptance order. They were verified when accepted; they are parsed again here. */
  async *attestations(): AsyncGenerator<StoredAttestation> {
    for await (const value of this.db.values({ gt: 'att:', lt: 'att;' })) {
      const v = value as AttestationValue
      const attestation = parseAttestation(v.attestation)
      yield { attestation, claimKey: claimKey(attestation), seq: v.seq, receivedAt: v.receivedAt }
    }
  }

  putAttestationOp(s: StoredAttestation): Op {
    const value: AttestationValue = {
      seq: s.seq,
      receivedAt: s.receivedAt,
      attestation: formatAttestation(s.attestation)
    }
    return { type: 'put', key: attestationKey(s.seq), value }
  }

  putAgreementOp(r: AgreementRecord): Op {
    const a = r.agreement
    const value: AgreementValue = {
      agreement: { claim: a.claim, deriver: a.deriver, builders: a.builders, time: a.time },
      narinfo: r.narinfo,
      signedBy: r.signedBy
    }
    return { type: 'put', key: `agr:${a.claim.outPath}`, value }
  }

  /**
   * Write `ops` durably (fsync) in one atomic batch shared with whatever else is queued. Resolves once on disk.
   * After a failed write every later call rejects with `StorageUnavailableError`.
   */
  write(ops: Op[]): Promise<void> {
    if (this.failure !== null)
      return Promise.reject(new StorageUnavailableError('storage failed; restart the orchestrator'))
    return new Promise((resolve, reject) => {
      this.queue.push({ ops, resolve, reject })
      if (this.writing === null) this.writing = this.drain()
    })
  }

  get failed(): boolean {
    return this.failure !== null
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const group = this.queue
        this.queue = []
        const ops = group.length === 1 ? group[0]!.ops : group.flatMap((p) => p.ops)
        try {
          await this.db.batch(ops, { sync: true })
        } catch (err) {
          this.failure = err as Error
          log('durable write failed: %O', err)
          const e = new StorageUnavailableError('storage failed; restart the orchestrator')
          for (const p of [...group, ...this.queue]) p.reject(e)
          this.queue = []
          return
        }
        this.commits++
        this.committedOps += ops.length
        for (const p of group) p.resolve()
      }
    } finally {
      this.writing = null
    }
  }

  async close(): Promise<void> {
    while (this.writing !== null) await this.writing
    await this.db.close()
  }
}
