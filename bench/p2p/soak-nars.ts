/** The NAR set of the churn soak, made the same way (deterministic bytes) in every soak process. */
import type { IngestResult } from '@narthex/content'
import type { Behaviour } from '../../packages/p2p/test/malicious.js'
import { type MemoryStore, pseudoRandomBytes, seedBlob } from '../../packages/p2p/test/util.js'

export interface SoakNarSpec {
  /** How many NARs. */
  readonly count: number
  /** Largest NAR in bytes; sizes spread from a few KiB up to it (one size of exactly 1 byte). */
  readonly maxBytes: number
}

export interface SoakNodeOptions {
  readonly role: 'swarm' | 'seeder'
  readonly nars: SoakNarSpec
  /** Bootstrap multiaddr (the seeder role). */
  bootstrap?: string
  /** Honest stable seeders in the swarm (besides the churn seeder). */
  readonly honest: number
  readonly malicious: readonly Behaviour[]
  /** Stop and start the churn seeder this often (0: never). */
  readonly restartEveryMs: number
  readonly sampleMs?: number
}

export interface SoakNar {
  readonly narHash: string
  readonly root: string
  readonly size: number
}

/** The i-th NAR's size: 1 byte, then spread over [4 KiB, maxBytes] by a fixed stride. */
function sizeOf(i: number, spec: SoakNarSpec): number {
  if (i === 0) return 1
  return 4096 + Math.floor(((i * 0.618034) % 1) * (spec.maxBytes - 4096))
}

/** Make the NARs and put each whole into every store given. */
export async function makeSoakNars(spec: SoakNarSpec, stores: MemoryStore[]): Promise<SoakNar[]> {
  const out: SoakNar[] = []
  for (let i = 0; i < spec.count; i++) {
    const size = sizeOf(i, spec)
    const r: IngestResult = await seedBlob(pseudoRandomBytes(size, 1000 + i), stores)
    out.push({ narHash: r.narHash, root: r.root.toString(), size })
  }
  return out
}
