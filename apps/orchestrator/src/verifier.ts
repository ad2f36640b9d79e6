/**
 * Signature verification off the event loop, in worker threads. Verifying an ed25519 signature costs 50-100 µs,
 * most of an attestation's CPU; done on the main thread it would stall narinfo answers during a burst of
 * submissions and cap ingest at one core. Requests made in the same tick are sent to a worker as one message
 * (raw bytes only: no KeyObject crosses the thread boundary), so the per-attestation cost on the main thread is a
 * few microseconds. Workers are spread round-robin; each keeps the trusted public keys it was started with.
 */
import { verify as edVerify } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { type Attestation, encodeAttestation } from '@narthex/consensus'
import type { PublicKey } from '@narthex/nix'

/** Largest group of signatures verified on the calling thread instead of a worker. */
const INLINE_MAX = 2

function verifyInline(key: PublicKey, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return edVerify(null, message, key.keyObject, signature)
  } catch {
    return false
  }
}

interface Job {
  readonly key: number
  readonly message: Uint8Array
  readonly signature: Uint8Array
  readonly resolve: (ok: boolean) => void
}

// The worker: verifies batches synchronously with node:crypto and answers with one byte per item.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const { createPublicKey, verify } = require('node:crypto')
const prefix = Buffer.from('302a300506032b6570032100', 'hex')
const keys = workerData.keys.map((raw) => createPublicKey({ key: Buffer.concat([prefix, Buffer.from(raw)]), format: 'der', type: 'spki' }))
parentPort.on('message', ({ id, keys: ks, messages, signatures }) => {
  const results = new Uint8Array(ks.length)
  for (let i = 0; i < ks.length; i++) {
    try { results[i] = verify(null, messages[i], keys[ks[i]], signatures[i]) ? 1 : 0 } catch { results[i] = 0 }
  }
  parentPort.postMessage({ id, results }, [results.buffer])
})
`

export interface VerifierInit {
  /** The trusted keys; a job names one by its index in this list. */
  readonly keys: readonly PublicKey[]
  /** Worker threads (default: cores - 1, at least 1, at most 4). */
  readonly threads?: number
}

export class Verifier {
  private readonly workers: Worker[] = []
  private readonly keys: readonly PublicKey[]
  private readonly keyIndex = new Map<string, number>()
  private readonly pending = new Map<number, Job[]>()
  private queue: Job[] = []
  private scheduled = false
  private nextId = 1
  private next = 0

  constructor(init: VerifierInit) {
    this.keys = init.keys
    for (const [i, k] of init.keys.entries()) this.keyIndex.set(k.name, i)
    const threads = init.threads ?? Math.min(4, Math.max(1, availableParallelism() - 1))
    const keys = init.keys.map((k) => k.key)
    for (let i = 0; i < threads; i++) {
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { keys } })
      w.on('message', ({ id, results }: { id: number; results: Uint8Array }) => {
        const jobs = this.pending.get(id)
        this.pending.delete(id)
        for (const [k, j] of (jobs ?? []).entries()) j.resolve(results[k] === 1)
      })
      w.on('error', () => {
        // A broken worker must not leave submissions waiting: fail what it held (treated as unverified).
        for (const jobs of this.pending.values()) for (const j of jobs) j.resolve(false)
        this.pending.clear()
      })
      w.unref()
      this.workers.push(w)
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
      this.queue.push({ key: index, message: encodeAttestation(att), signature, resolve })
      if (!this.scheduled) {
        this.scheduled = true
        queueMicrotask(() => this.flush())
      }
    })
  }

  private flush(): void {
    this.scheduled = false
    const jobs = this.queue
    this.queue = []
    if (jobs.length === 0) return
    if (jobs.length <= INLINE_MAX) {
      // One or two signatures: verifying here (~60-90 µs each) beats two thread hops, which dominate the latency
      // of a lone submission when the machine is busy.
      for (const j of jobs) j.resolve(verifyInline(this.keys[j.key]!, j.message, j.signature))
      return
    }
    const id = this.nextId++
    this.pending.set(id, jobs)
    const worker = this.workers[this.next++ % this.workers.length]!
    worker.postMessage({
      id,
      keys: jobs.map((j) => j.key),
      messages: jobs.map((j) => j.message),
      signatures: jobs.map((j) => j.signature)
    })
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()))
    for (const jobs of this.pending.values()) for (const j of jobs) j.resolve(false)
    this.pending.clear()
  }
}
