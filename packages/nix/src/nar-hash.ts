/**
 * The NarHash and NarSize of a NAR stream: sha256 over the NAR's bytes, as narinfos and `nix path-info` state
 * them (`nix-hash --type sha256 --base32` of the NAR file gives the same digest).
 */
import { createHash } from 'node:crypto'
import type { Hash } from './hash.js'

export interface NarHashResult {
  /** sha256 of the NAR; `formatHash(hash)` gives `sha256:<nix32>`. */
  readonly hash: Hash
  /** Length of the NAR in bytes. */
  readonly size: number
}

/**
 * Hash a NAR as it streams by, without keeping it.
 *
 * @example
 * ```ts
 * const { hash, size } = await hashNar(dumpPath('./result'))
 * formatHash(hash) // 'sha256:1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s'
 * ```
 */
export async function hashNar(
  nar: AsyncIterable<Uint8Array>,
  opts: { signal?: AbortSignal } = {}
): Promise<NarHashResult> {
  const h = createHash('sha256')
  let size = 0
  for await (const chunk of nar) {
    opts.signal?.throwIfAborted()
    h.update(chunk)
    size += chunk.length
  }
  return { hash: { algorithm: 'sha256', digest: new Uint8Array(h.digest()) }, size }
}
