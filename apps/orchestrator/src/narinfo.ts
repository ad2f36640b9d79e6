/**
 * The narinfo the orchestrator serves for an agreed output, built with @narthex/nix's `formatNarinfo` and signed
 * with the orchestrator's key over `fingerprintOf` (what `signNarinfo` signs). Made once, when the output is agreed (or when the signing key
 * changed since), and kept as bytes in memory and in level.
 *
 * - `URL: nar/<NarHash digest in nix32, without "sha256:">.nar`: the NAR is named by its hash, as harmonia does,
 *   so the URL of a path never changes and a shim can serve it from any seeder;
 * - `Compression: none`, `FileHash`/`FileSize` equal to `NarHash`/`NarSize` (the file is the plain NAR);
 * - `References` and `Deriver` as base names; `Deriver` is the one of the earliest supporting attestation.
 */
import type { Agreement } from '@narthex/consensus'
import { fingerprintOf, formatNarinfo, type Narinfo } from '@narthex/nix'

/** Base name of a full store path. */
function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1)
}

/**
 * Format the narinfo of an agreement, signed by `sign` (which signs a narinfo fingerprint and returns the
 * `name:base64` signature; the orchestrator signs in its crypto workers).
 */
export async function agreementNarinfo(
  agreement: Agreement,
  sign: (fingerprint: string) => Promise<string>
): Promise<string> {
  const c = agreement.claim
  const info: Narinfo = {
    storePath: c.outPath,
    url: `nar/${c.narHash.slice('sha256:'.length)}.nar`,
    compression: 'none',
    fileHash: c.narHash,
    fileSize: c.narSize,
    narHash: c.narHash,
    narSize: c.narSize,
    references: c.references.map(baseName),
    ...(agreement.deriver === null ? {} : { deriver: baseName(agreement.deriver) }),
    sigs: []
  }
  return formatNarinfo({ ...info, sigs: [await sign(fingerprintOf(info))] })
}
