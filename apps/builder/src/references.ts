/**
 * Reference scanning, as Nix does it after a build: a path is a reference of an output when its 32-character hash
 * part occurs anywhere in the output's NAR serialisation. Only candidates are looked for (Nix scans for the build's
 * input closure and the derivation's own outputs). Used for a `--check` rebuild that differs from the registered
 * output: Nix keeps it as `<out>.check` but does not register it, so its references must be found here.
 */
import { nixBase32 } from '@narthex/nix'

const HASH_LEN = 32
const IS_NIX32 = new Uint8Array(256)
for (const c of nixBase32.NIX_BASE32_ALPHABET) IS_NIX32[c.charCodeAt(0)] = 1

/** Scans NAR bytes as they stream by; `feed` every piece in order, then read `found`. */
export class ReferenceScanner {
  private readonly candidates: Map<string, string>
  private readonly seen = new Set<string>()
  /** The last HASH_LEN - 1 bytes of the previous piece, so a hash split across pieces is found. */
  private carry: Uint8Array = new Uint8Array(0)

  /** `candidates`: full store paths that may be referenced. */
  constructor(candidates: Iterable<string>) {
    this.candidates = new Map()
    for (const p of candidates) {
      const base = p.slice(p.lastIndexOf('/') + 1)
      this.candidates.set(base.slice(0, HASH_LEN), p)
    }
  }

  feed(piece: Uint8Array): void {
    const buf = this.carry.length === 0 ? piece : Buffer.concat([this.carry, piece])
    // Walk runs of nix-base32 characters; every 32-character window of a run is a possible hash part.
    let runStart = -1
    for (let i = 0; i <= buf.length; i++) {
      const inRun = i < buf.length && IS_NIX32[buf[i]!] === 1
      if (inRun) {
        if (runStart < 0) runStart = i
        continue
      }
      if (runStart >= 0 && i - runStart >= HASH_LEN) this.scanRun(buf, runStart, i)
      runStart = -1
    }
    const keep = Math.min(HASH_LEN - 1, buf.length)
    this.carry = Uint8Array.prototype.slice.call(buf, buf.length - keep)
  }

  private scanRun(buf: Uint8Array, start: number, end: number): void {
    for (let j = start; j + HASH_LEN <= end; j++) {
      const h = Buffer.from(buf.buffer, buf.byteOffset + j, HASH_LEN).toString('latin1')
      const path = this.candidates.get(h)
      if (path !== undefined) this.seen.add(path)
    }
  }

  /** Full store paths found, sorted. */
  found(): string[] {
    return [...this.seen].sort()
  }
}
