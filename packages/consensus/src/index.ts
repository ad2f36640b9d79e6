/**
 * @packageDocumentation
 *
 * Build consensus for narthex: builders sign attestations of what they built; an output is agreed when k distinct
 * trusted builders state the same claim (outPath, NarHash, NarSize, References, manifest root). Pure logic, no
 * I/O: the orchestrator stores attestations and agreements and rebuilds the ledger from them.
 *
 * - `attestation.ts`: the JSON form, the canonical signed encoding (`narthex-attestation-v1`), sign/verify;
 * - `claim.ts`: what builders must agree on;
 * - `policy.ts`: `decide`, the agreement rule (pending / agreed / disputed, sticky agreements);
 * - `ledger.ts`: the in-memory ledger the orchestrator drives.
 * See docs/consensus.md for the policy and the encoding in prose.
 *
 * @example
 * ```ts
 * import { createLedger, createPolicy, createTrust, signAttestation } from '@narthex/consensus'
 * const ledger = createLedger({
 *   policy: createPolicy({ quorum: 2 }),
 *   trust: createTrust([{ publicKey: 'builder-1:...' }, { publicKey: 'builder-2:...' }])
 * })
 * const result = ledger.submit(signAttestation(builderKey, fields))
 * if (result.kind === 'accepted' && result.change.newAgreement) { ... sign and serve the narinfo ... }
 * ```
 */
import { Ledger, type LedgerInit } from './ledger.js'

export {
  type Attestation,
  type AttestationFields,
  type AttestationJson,
  checkAttestationFields,
  checkBuilderName,
  checkManifestRoot,
  encodeAttestation,
  formatAttestation,
  parseAttestation,
  signAttestation,
  verifyAttestation
} from './attestation.js'
export { type Claim, claimKey, claimOf } from './claim.js'
export * from './constants.js'
export * from './errors.js'
export type {
  Agreement,
  BuilderState,
  Ledger,
  LedgerInit,
  OutputChange,
  OutputState,
  StoredAttestation,
  SubmitResult
} from './ledger.js'
export {
  type AfterAgreement,
  createPolicy,
  type Decision,
  decide,
  type OutputStatus,
  type Policy,
  type Vote
} from './policy.js'
export { createTrust, type TrustEntry, type TrustedBuilder } from './trust.js'

/** Create an empty ledger. */
export function createLedger(init: LedgerInit): Ledger {
  return new Ledger(init)
}
