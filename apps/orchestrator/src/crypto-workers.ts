/**
 * ed25519 off the event loop, in worker threads: verifying attestation signatures (50-100 µs each, most of an
 * attestation's CPU) and signing narinfos (~40 µs). On the main thread they would stall narinfo answers during a
 * burst of submissions and cap ingest at one core. Requests made in the same tick go to the workers as one message
 * per worker (raw bytes only: no KeyObject crosses the thread boundary), so the cost on the main thread is a few
 * microseconds per signature. Each worker keeps the trusted public keys and the signing key it was started with.
 */
import { sign as edSign, verify as edVerify } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { type Attestation, encodeAttestation } from '@narthex/consensus'
import { formatSignature, type PublicKey, type SecretKey } from '@narthex/nix'

/** Largest group of signatures verified on the calling thread instead of a worker. */
const INLINE_MAX = 2

function verifyInline(key: PublicKey, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return edVerify(null, message, key.keyObject, signature)
  } catch {
    return false
  }
}

/** A verification (`signature` set) or a signing (`signature` null) of `message`. */
interface Job {
  readonly key: number
  readonly message: Uint8Array
  readonly signature: Uint8Array | null
  readonly resolve: (result: boolean | Uint8Array) => void
}

// The worker: verifies (one byte per item: 1 valid) or signs (64 bytes per item) synchronously with node:crypto.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const { createPrivateKey, createPublicKey, sign, verify } = require('node:crypto')
const spki = Buffer.from('302a300506032b6570032100', 'hex')
const pkcs8 = Buffer.from('302e020100300506032b657004220420', 'hex')
const keys = workerData.keys.map((raw) => createPublicKey({ key: Buffer.concat([spki, Buffer.from(raw)]), format: 'der', type: 'spki' }))
const signer = createPrivateKey({ key: Buffer.concat([pkcs8, Buffer.from(workerData.seed)]), format: 'der', type: 'pkcs8' })
parentPort.on('message', ({ id, keys: ks, messages, signatures }) => {
  const results = []
  for (let i = 0; i < ks.length; i++) {
    if (signatures[i] === null) { results.push(new Uint8Array(sign(null, messages[i], signer))); continue }
    let ok = false
    try { ok = verify(null, messages[i], keys[ks[i]], signatures[i]) } catch {}
    results.push(ok)
  }
  parentPort.postMessage({ id, results })
})
`

export interface CryptoWorkersInit {
  /** The trusted keys; a job names one by its index in this list. */
  readonly keys: readonly PublicKey[]
  /** The key `sign` signs with. */
  readonly signingKey: SecretKey
  /** Worker threads (default: one per core, at most 4; the event loop itself mostly waits on them). */
  readonly threads?: number
}

/** Workers started to replace ones that died, over the life of a CryptoWorkers, before it gives up on threads. */
const MAX_REPLACEMENTS = 16

export class CryptoWorkers {
  private readonly workers: Worker[] = []
  private readonly keys: readonly PublicKey[]
  private readonly signingKey: SecretKey
  private readonly keyIndex = new Map<string, number>()
  /** Batches sent to a worker and not answered yet, by message id. */
  private readonly pending = new Map<number, { readonly worker: Worker; readonly jobs: Job[] }>()
  private queue: Job[] = []
  private scheduled = false
  private nextId = 1
  private next = 0
  private replacements = 0
  private stopping = false

  constructor(init: CryptoWorkersInit) {
    this.keys = init.keys
    for (const [i, k] of init.keys.entries()) this.keyIndex.set(k.name, i)
    const threads = init.threads ?? Math.min(4, availableParallelism())
    this.signingKey = init.signingKey
    for (let i = 0; i < threads; i++) this.workers.push(this.startWorker())
  }

  private startWorker(): Worker {
    const w = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { keys: this.keys.map((k) => k.key), seed: this.signingKey.seed }
    })
    w.on('message', ({ id, results }: { id: number; results: (boolean | Uint8Array)[] }) => {
      const batch = this.pending.get(id)
      this.pending.delete(id)
      for (const [k, j] of (batch?.jobs ?? []).entries()) j.resolve(results[k]!)
    })
    // An error ends the worker ('exit' follows); an exit may come alone (terminated, out of memory).
    w.on('error', () => this.lost(w))
    w.on('exit', () => this.lost(w))
    w.unref()
    return w
  }

  /**
   * A worker died: nothing may wait for it. What it held is done on this thread (verified for real: a broken
   * thread is no reason to reject a good signature), and a new worker takes its place while replacements last;
   * with none left, every batch is done on this thread.
   */
  private lost(w: Worker): void {
    const at = this.workers.indexOf(w)
    if (at < 0) return
    this.workers.splice(at, 1)
    for (const [id, batch] of this.pending) {
      if (batch.worker !== w) continue
      this.pending.delete(id)
      for (const j of batch.jobs) this.inline(j)
    }
    if (!this.stopping && this.replacements < MAX_REPLACEMENTS) {
      this.replacements++
      this.workers.push(this.startWorker())
    }
  }

  /** True when the attestation's signature verifies with `key` (which must be one of the init keys). */
  verify(att: Attestation, key: PublicKey): Promise<boolean> {
    const index = this.keyIndex.get(key.name)
    const prefix = `${att.builder}:`
    if (index === undefined || key.name !== att.builder || !att.signature.startsWith(prefix)) {
      return Promise.resolve(false)
    }
    const signature = Buffer.from(att.signature.slice(prefix.length), 'base64')
    if (signature.length !== 64) return Promise.resolve(false)
    return new Promise((resolve) => {
      this.enqueue({
        key: index,
        message: encodeAttestation(att),
        signature,
        resolve: (r) => resolve(r === true)
      })
    })
  }

  /** The `name:base64` signature of `message` by the signing key (a narinfo fingerprint). */
  async sign(message: string): Promise<string> {
    const sig = await new Promise<Uint8Array>((resolve) => {
      this.enqueue({
        key: -1,
        message: Buffer.from(message, 'utf8'),
        signature: null,
        resolve: (r) => resolve(r as Uint8Array)
      })
    })
    return formatSignature({ keyName: this.signingKey.name, sig })
  }

  private enqueue(job: Job): void {
    this.queue.push(job)
    if (!this.scheduled) {
      this.scheduled = true
      queueMicrotask(() => this.flush())
    }
  }

  private flush(): void {
    this.scheduled = false
    const jobs = this.queue
    this.queue = []
    if (jobs.length === 0) return
    if (jobs.length <= INLINE_MAX || this.workers.length === 0) {
      // One or two signatures: verifying here (~60-90 µs each) beats two thread hops, which dominate the latency
      // of a lone submission when the machine is busy.
      for (const j of jobs) this.inline(j)
      return
    }
    // Spread a large group over every worker.
    const per = Math.ceil(jobs.length / this.workers.length)
    for (let start = 0; start < jobs.length; start += per) {
      const slice = jobs.slice(start, start + per)
      const id = this.nextId++
      const worker = this.workers[this.next++ % this.workers.length]!
      this.pending.set(id, { worker, jobs: slice })
      worker.postMessage({
        id,
        keys: slice.map((j) => j.key),
        messages: slice.map((j) => j.message),
        signatures: slice.map((j) => j.signature)
      })
    }
  }

  /** A job done on this thread. */
  private inline(j: Job): void {
    j.resolve(
      j.signature === null
        ? edSign(null, j.message, this.signingKey.keyObject)
        : verifyInline(this.keys[j.key]!, j.message, j.signature)
    )
  }

  async stop(): Promise<void> {
    this.stopping = true
    // each exit hands what its worker held to this thread (lost)
    await Promise.all([...this.workers].map((w) => w.terminate()))
  }
}
