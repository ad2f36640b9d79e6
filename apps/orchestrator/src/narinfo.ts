/**
 * The narinfo the orchestrator serves for an agreed output, signed with its key. Written once, when the output is
 * agreed (or when the signing key changed since), and kept as bytes in memory and in level.
 *
 * ```
 * StorePath: /nix/store/<hash>-<name>
 * URL: nar/<NarHash digest in nix32, without "sha256:">.nar
 * Compression: none
 * FileHash: <NarHash>            (the file is the uncompressed NAR)
 * FileSize: <NarSize>
 * NarHash: sha256:<nix32>
 * NarSize: <bytes>
 * References: <base names, space-separated>
 * Deriver: <base name>           (when known)
 * Sig: <orchestrator key name>:<base64>   over 1;StorePath;NarHash;NarSize;<full reference paths, comma-separated>
 * ```
 * The NAR URL names the NAR by its hash, as harmonia does, so the URL of a path never changes and a shim can
 * serve it from any seeder.
 */

import type { Agreement } from '@narthex/consensus'
import { fingerprint, type SecretKey, signDetached } from '@narthex/nix'

/** Base name of a full store path. */
function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1)
}

/** Format and sign the narinfo of an agreement. */
export function agreementNarinfo(agreement: Agreement, key: SecretKey): string {
  const c = agreement.claim
  const sig = signDetached(
    key,
    fingerprint({ storePath: c.outPath, narHash: c.narHash, narSize: c.narSize, references: c.references })
  )
  const digest = c.narHash.slice('sha256:'.length)
  let text =
    `StorePath: ${c.outPath}\n` +
    `URL: nar/${digest}.nar\n` +
    'Compression: none\n' +
    `FileHash: ${c.narHash}\n` +
    `FileSize: ${c.narSize}\n` +
    `NarHash: ${c.narHash}\n` +
    `NarSize: ${c.narSize}\n` +
    `References: ${c.references.map(baseName).join(' ')}\n`
  if (agreement.deriver !== null) text += `Deriver: ${baseName(agreement.deriver)}\n`
  text += `Sig: ${sig}\n`
  return text
}
