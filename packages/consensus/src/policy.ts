/**
 * The agreement policy, as a pure function of the counted votes on one output and the agreement (if any) that
 * was reached on it before. The ledger calls it after every event that touches an output (a new attestation, a
 * revocation); because an agreement is sticky, the history matters only through `agreedKey`.
 *
 * Definitions, for one output path:
 * - a *vote* is (builder, claim key) from an accepted attestation whose builder is trusted and not revoked;
 *   several votes of one builder for one claim are one vote (duplicates never count twice);
 * - an *equivocator* is a builder with votes for two or more different claims; none of its votes count for any
 *   claim, and it counts as a dissenter;
 * - the *support* of a claim is the set of non-equivocating builders voting for it.
 *
 * Before agreement:
 * - **agreed** when one claim has support ≥ k and there is no dissent at all (no other claim has support, no
 *   equivocator). The claim becomes the output's agreement, for ever (`agreedKey`);
 * - **disputed** when votes name two or more claims, or someone equivocated;
 * - **pending** otherwise (nobody voted yet, or fewer than k builders agree and nobody disagrees).
 *
 * After agreement (only the agreed claim can ever be served: never two different agreements for one output):
 * - **agreed** (served) while the agreed claim has support ≥ k and either nobody dissents or `afterAgreement` is
 *   `keep` (a late dissent then leaves the output agreed but *contested*: `dissenters` is not empty);
 * - **disputed** (withdrawn, not served) when someone dissents and `afterAgreement` is `withdraw`, or when
 *   revocations took the support under k while someone dissents;
 * - **pending** (withdrawn) when revocations took the support under k and nobody dissents. Enough new votes for
 *   the agreed claim serve it again.
 */
import { DEFAULT_AFTER_AGREEMENT, DEFAULT_QUORUM } from './constants.js'
import { InvalidPolicyError } from './errors.js'

export type OutputStatus = 'pending' | 'agreed' | 'disputed'

/** What happens when a trusted builder dissents after an output was agreed. */
export type AfterAgreement = 'keep' | 'withdraw'

export interface Policy {
  /** k: how many distinct trusted builders must support one claim. */
  readonly quorum: number
  /** See the module comment. */
  readonly afterAgreement: AfterAgreement
}

/** Fill defaults and check a policy; throws `InvalidPolicyError`. */
export function createPolicy(init: Partial<Policy> = {}): Policy {
  const quorum = init.quorum ?? DEFAULT_QUORUM
  const afterAgreement = init.afterAgreement ?? DEFAULT_AFTER_AGREEMENT
  if (!Number.isSafeInteger(quorum) || quorum < 1) {
    throw new InvalidPolicyError(`quorum must be an integer ≥ 1, got ${quorum}`)
  }
  if (afterAgreement !== 'keep' && afterAgreement !== 'withdraw') {
    throw new InvalidPolicyError(`afterAgreement must be "keep" or "withdraw", got ${String(afterAgreement)}`)
  }
  return { quorum, afterAgreement }
}

export interface Vote {
  readonly builder: string
  readonly claimKey: string
}

export interface Decision {
  readonly status: OutputStatus
  /** The agreed claim key after this decision: the previous one, the one agreed now, or null. */
  readonly agreedKey: string | null
  /** True when this decision reached the agreement (it was null before). */
  readonly newlyAgreed: boolean
  /** True when the agreed claim is served (a signed narinfo exists for clients): status is `agreed`. */
  readonly served: boolean
  /** Claim key → sorted names of the non-equivocating builders supporting it. */
  readonly support: ReadonlyMap<string, readonly string[]>
  /** Sorted names of builders that voted for two or more claims. */
  readonly equivocators: readonly string[]
  /**
   * Sorted names of builders that disagree with the agreed claim (or, before agreement, with the best-supported
   * claim): supporters of other claims, and equivocators.
   */
  readonly dissenters: readonly string[]
}

/** Decide an output's status from its counted votes and its previous agreement. Pure. */
export function decide(votes: Iterable<Vote>, agreedKey: string | null, policy: Policy): Decision {
  const byBuilder = new Map<string, Set<string>>()
  for (const v of votes) {
    let keys = byBuilder.get(v.builder)
    if (keys === undefined) {
      keys = new Set()
      byBuilder.set(v.builder, keys)
    }
    keys.add(v.claimKey)
  }
  const equivocators: string[] = []
  const supportSets = new Map<string, string[]>()
  for (const [builder, keys] of byBuilder) {
    if (keys.size > 1) {
      equivocators.push(builder)
      continue
    }
    const [key] = keys as unknown as [string]
    let list = supportSets.get(key)
    if (list === undefined) {
      list = []
      supportSets.set(key, list)
    }
    list.push(builder)
  }
  equivocators.sort()
  for (const list of supportSets.values()) list.sort()

  const k = policy.quorum
  // The claim the others are measured against: the agreed one, else the best supported (ties: smallest key).
  let reference = agreedKey
  if (reference === null) {
    let best = -1
    for (const [key, list] of supportSets) {
      if (list.length > best || (list.length === best && reference !== null && key < reference)) {
        best = list.length
        reference = key
      }
    }
  }
  const dissenters: string[] = [...equivocators]
  for (const [key, list] of supportSets) if (key !== reference) dissenters.push(...list)
  dissenters.sort()

  const supportOf = (key: string | null): number => (key === null ? 0 : (supportSets.get(key)?.length ?? 0))

  let status: OutputStatus
  let newlyAgreed = false
  let nextAgreed = agreedKey
  if (agreedKey === null) {
    if (dissenters.length === 0 && supportOf(reference) >= k) {
      status = 'agreed'
      newlyAgreed = true
      nextAgreed = reference
    } else {
      status = dissenters.length > 0 ? 'disputed' : 'pending'
    }
  } else if (supportOf(agreedKey) >= k && (dissenters.length === 0 || policy.afterAgreement === 'keep')) {
    status = 'agreed'
  } else {
    status = dissenters.length > 0 ? 'disputed' : 'pending'
  }
  return {
    status,
    agreedKey: nextAgreed,
    newlyAgreed,
    served: status === 'agreed',
    support: supportSets,
    equivocators,
    dissenters
  }
}
