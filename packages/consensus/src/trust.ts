/**
 * The trust set: the builders whose attestations count, by key name, and which of them were revoked.
 * A revoked builder's attestations, past and future, stop counting; its history stays visible.
 */
import { type PublicKey, parsePublicKey } from '@narthex/nix'
import { checkBuilderName } from './attestation.js'
import { InvalidPolicyError } from './errors.js'

export interface TrustedBuilder {
  readonly name: string
  readonly publicKey: PublicKey
  readonly revoked: boolean
}

export interface TrustEntry {
  /** A Nix public key, `name:base64(32 bytes)`, or an already parsed one. */
  readonly publicKey: string | PublicKey
  /** Revoked builders stay listed (their history is shown) but their attestations do not count. */
  readonly revoked?: boolean
}

/**
 * Build a trust set. Two keys with one name are an `InvalidPolicyError` (a signature names its key only by
 * name, so names must be unique); so is a name that is not a valid builder name.
 */
export function createTrust(entries: Iterable<TrustEntry>): Map<string, TrustedBuilder> {
  const trust = new Map<string, TrustedBuilder>()
  for (const e of entries) {
    let publicKey: PublicKey
    try {
      publicKey = typeof e.publicKey === 'string' ? parsePublicKey(e.publicKey) : e.publicKey
      checkBuilderName(publicKey.name, 'trust')
    } catch (err) {
      throw new InvalidPolicyError(`trusted key: ${(err as Error).message}`)
    }
    if (trust.has(publicKey.name)) {
      throw new InvalidPolicyError(`two trusted keys are named ${JSON.stringify(publicKey.name)}`)
    }
    trust.set(publicKey.name, { name: publicKey.name, publicKey, revoked: e.revoked === true })
  }
  return trust
}
