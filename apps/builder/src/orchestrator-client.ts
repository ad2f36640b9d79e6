/**
 * Submitting attestations to the orchestrator (`POST /api/v1/attestations`, docs/api.md), in batches.
 */
import { deadline } from '@narthex/abort'
import type { Attestation, OutputStatus } from '@narthex/consensus'
import { formatAttestation } from '@narthex/consensus'
import { SUBMIT_BATCH, SUBMIT_TIMEOUT_MS } from './constants.js'
import { OrchestratorRejectedError, OrchestratorUnreachableError } from './errors.js'

/** The orchestrator's answer for one attestation. */
export type SubmitResult =
  | {
      readonly result: 'accepted' | 'duplicate'
      readonly seq: number
      readonly outPath: string
      readonly status: OutputStatus
    }
  | { readonly error: { readonly name: string; readonly message: string } }

export class OrchestratorClient {
  readonly base: string

  /** `base`: the orchestrator's URL, e.g. `http://127.0.0.1:7420`. */
  constructor(base: string) {
    this.base = base.replace(/\/+$/, '')
  }

  /** Submit attestations; one result per attestation, in order. */
  async submit(
    attestations: readonly Attestation[],
    opts: { signal?: AbortSignal } = {}
  ): Promise<SubmitResult[]> {
    const results: SubmitResult[] = []
    for (let i = 0; i < attestations.length; i += SUBMIT_BATCH) {
      const batch = attestations.slice(i, i + SUBMIT_BATCH).map(formatAttestation)
      const signal = deadline(SUBMIT_TIMEOUT_MS, opts.signal)
      let res: Response
      try {
        res = await fetch(`${this.base}/api/v1/attestations`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(batch),
          signal,
          redirect: 'error'
        })
      } catch (err) {
        throw new OrchestratorUnreachableError(
          `cannot reach the orchestrator at ${this.base}: ${(err as Error).message}`,
          { cause: err }
        )
      }
      let body: { results?: SubmitResult[]; error?: { name: string; message: string } }
      try {
        body = (await res.json()) as typeof body
      } catch {
        throw new OrchestratorUnreachableError(
          `${this.base} answered ${res.status} with something that is not JSON`
        )
      }
      if (res.status !== 200 || !Array.isArray(body.results)) {
        throw new OrchestratorRejectedError(
          `the orchestrator refused the submission: ${body.error?.name ?? res.status}: ${body.error?.message ?? ''}`,
          res.status,
          body.error?.name ?? 'unknown'
        )
      }
      results.push(...body.results)
    }
    return results
  }
}
