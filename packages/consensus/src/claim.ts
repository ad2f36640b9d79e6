/**
 * The claim of an attestation: the part builders must agree on. Two attestations support the same claim when
 * they state the same (outPath, NarHash, NarSize, References, manifest root) — exactly what Nix's narinfo
 * signature covers (store path, NarHash, NarSize, References) plus the manifest root that binds the chunks.
 *
 * Deriver, drvPath, output name and time are recorded but not compared: Nix does not sign Deriver either, and
 * two different derivations may legitimately produce one input-addressed output path (Nix's `hashDerivationModulo`
 * makes derivations that differ only in how fixed-output inputs are fetched share their outputs).
 */
import type { AttestationFields } from './attestation.js'

export interface Claim {
  readonly outPath: string
  readonly narHash: string
  readonly narSize: number
  /** Sorted full store paths. */
  readonly references: readonly string[]
  readonly manifestRoot: string
}

/** The claim stated by (validated, normalised) attestation fields. */
export function claimOf(f: AttestationFields): Claim {
  return {
    outPath: f.outPath,
    narHash: f.narHash,
    narSize: f.narSize,
    references: f.references,
    manifestRoot: f.manifestRoot
  }
}

/**
 * A string equal for two claims exactly when the claims are equal (fields are normalised and can contain neither
 * space nor comma, so the joined form is unambiguous). Used as a map key.
 */
export function claimKey(c: Claim): string {
  return `${c.outPath} ${c.narHash} ${c.narSize} ${c.manifestRoot} ${c.references.join(',')}`
}
