/**
 * The JSON shapes of the HTTP API (docs/api.md documents each), built from the ledger's state. One place, so the
 * handlers stay thin and the shapes stay consistent.
 */
import {
  type Agreement,
  type AttestationJson,
  type BuilderState,
  formatAttestation,
  type OutputState,
  type OutputStatus,
  type StoredAttestation
} from '@narthex/consensus'
import { formatPublicKey } from '@narthex/nix'

export interface AgreementView {
  readonly outPath: string
  readonly narHash: string
  readonly narSize: number
  readonly references: readonly string[]
  readonly manifestRoot: string
  readonly deriver: string | null
  readonly builders: readonly string[]
  readonly time: number
}

export interface StoredAttestationView extends AttestationJson {
  readonly seq: number
  readonly receivedAt: number
  /** False when its builder is revoked or no longer trusted. */
  readonly counted: boolean
}

export interface ClaimView {
  readonly narHash: string
  readonly narSize: number
  readonly references: readonly string[]
  readonly manifestRoot: string
  /** Builders whose vote counts for this claim. */
  readonly supporters: readonly string[]
  /** Every builder that stated it (including equivocators and revoked builders). */
  readonly statedBy: readonly string[]
  readonly agreed: boolean
}

export interface OutputSummaryView {
  readonly outPath: string
  readonly hashPart: string
  readonly status: OutputStatus
  readonly served: boolean
  /** Agreed but someone dissents (afterAgreement: keep). */
  readonly contested: boolean
  readonly claims: number
  readonly attestations: number
  readonly derivations: readonly { readonly drvPath: string; readonly outputName: string }[]
  readonly narHash: string | null
  readonly firstSeen: number
  readonly updatedAt: number
}

export interface OutputView extends OutputSummaryView {
  readonly agreement: AgreementView | null
  readonly claimList: readonly ClaimView[]
  readonly equivocators: readonly string[]
  readonly dissenters: readonly string[]
  readonly attestationList: readonly StoredAttestationView[]
}

export interface BuilderView {
  readonly name: string
  readonly publicKey: string | null
  readonly trusted: boolean
  readonly revoked: boolean
  readonly attestations: number
  readonly lastSeen: number | null
  readonly agreements: number
  readonly equivocations: readonly string[]
}

export function agreementView(a: Agreement): AgreementView {
  return {
    outPath: a.claim.outPath,
    narHash: a.claim.narHash,
    narSize: a.claim.narSize,
    references: a.claim.references,
    manifestRoot: a.claim.manifestRoot,
    deriver: a.deriver,
    builders: a.builders,
    time: a.time
  }
}

export function storedAttestationView(s: StoredAttestation, counted: boolean): StoredAttestationView {
  return { ...formatAttestation(s.attestation), seq: s.seq, receivedAt: s.receivedAt, counted }
}

function derivations(o: OutputState): { drvPath: string; outputName: string }[] {
  const seen = new Map<string, { drvPath: string; outputName: string }>()
  for (const s of o.attestations) {
    const key = `${s.attestation.drvPath}!${s.attestation.outputName}`
    if (!seen.has(key))
      seen.set(key, { drvPath: s.attestation.drvPath, outputName: s.attestation.outputName })
  }
  return [...seen.values()]
}

/** The NarHash shown for an output: the agreed one, else the best-supported claim's, else the first stated. */
function leadingNarHash(o: OutputState): string | null {
  const key =
    o.agreement?.claimKey ?? [...o.decision.support].sort((a, b) => b[1].length - a[1].length)[0]?.[0]
  const s = o.attestations.find((x) => x.claimKey === key) ?? o.attestations[0]
  return s?.attestation.narHash ?? null
}

export function outputSummaryView(o: OutputState, served: boolean): OutputSummaryView {
  const claims = new Set(o.attestations.map((s) => s.claimKey))
  return {
    outPath: o.outPath,
    hashPart: o.hashPart,
    status: o.decision.status,
    served,
    contested: o.decision.status === 'agreed' && o.decision.dissenters.length > 0,
    claims: claims.size,
    attestations: o.attestations.length,
    derivations: derivations(o),
    narHash: leadingNarHash(o),
    firstSeen: o.firstSeen,
    updatedAt: o.updatedAt
  }
}

export function outputView(
  o: OutputState,
  served: boolean,
  counted: (builder: string) => boolean
): OutputView {
  const claims = new Map<string, { first: StoredAttestation; statedBy: Set<string> }>()
  for (const s of o.attestations) {
    let c = claims.get(s.claimKey)
    if (c === undefined) {
      c = { first: s, statedBy: new Set() }
      claims.set(s.claimKey, c)
    }
    c.statedBy.add(s.attestation.builder)
  }
  const claimList: ClaimView[] = [...claims].map(([key, c]) => ({
    narHash: c.first.attestation.narHash,
    narSize: c.first.attestation.narSize,
    references: c.first.attestation.references,
    manifestRoot: c.first.attestation.manifestRoot,
    supporters: o.decision.support.get(key) ?? [],
    statedBy: [...c.statedBy].sort(),
    agreed: o.agreement?.claimKey === key
  }))
  return {
    ...outputSummaryView(o, served),
    agreement: o.agreement === null ? null : agreementView(o.agreement),
    claimList,
    equivocators: o.decision.equivocators,
    dissenters: o.decision.status === 'pending' && o.agreement === null ? [] : o.decision.dissenters,
    attestationList: o.attestations.map((s) => storedAttestationView(s, counted(s.attestation.builder)))
  }
}

export function builderView(b: BuilderState): BuilderView {
  return {
    name: b.name,
    publicKey: b.trusted === null ? null : formatPublicKey(b.trusted.publicKey),
    trusted: b.trusted !== null,
    revoked: b.revoked,
    attestations: b.attestations,
    lastSeen: b.lastSeen,
    agreements: b.agreements,
    equivocations: [...b.equivocations]
  }
}
