/**
 * Test helpers for the seeder: binary caches made of real NARs (`nix-store --dump` of generated trees) with
 * narinfos, signed or not; a client node; the raw fetch-protocol frames the peer-cap test speaks.
 */
import { createHash } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type CID, narCidFromNarHash } from '@narthex/content'
import { formatNarinfo, formatSha256, nixBase32, type SecretKey, signNarinfo } from '@narthex/nix'
import { createNode, type NarthexNode } from '@narthex/p2p'
import { runOk } from '../../../test/util/index.js'

export interface CacheEntry {
  readonly storePath: string
  readonly hashPart: string
  readonly narHash: string
  readonly narSize: number
  readonly nar: Buffer
  readonly narinfo: string
}

/** Deterministic pseudo-random bytes. */
export function noise(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size)
  let x = Math.imul(seed, 2654435761) >>> 0 || 1
  for (let i = 0; i + 4 <= size; i += 4) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out.writeUInt32BE(x >>> 0, i)
  }
  return out
}

/** A fake store path hash part derived from a name (valid nix-base32, 32 characters). */
export function hashPartFor(name: string): string {
  return nixBase32.encode(createHash('sha256').update(name).digest().subarray(0, 20))
}

/**
 * Write a `file://` binary cache in `dir` with one entry per item: the NAR of a one-file tree (`nix-store --dump`)
 * and its narinfo, signed by `sign` when given.
 */
export async function makeCache(
  dir: string,
  items: ReadonlyArray<{ name: string; size: number; seed: number; sign?: SecretKey }>
): Promise<CacheEntry[]> {
  await mkdir(join(dir, 'nar'), { recursive: true })
  const out: CacheEntry[] = []
  for (const item of items) {
    const file = join(dir, `src-${item.name}`)
    await writeFile(file, noise(item.size, item.seed))
    const nar = (await runOk('nix-store', ['--dump', file])).stdout
    const narHash = formatSha256(createHash('sha256').update(nar).digest())
    const hashPart = hashPartFor(item.name)
    const storePath = `/nix/store/${hashPart}-${item.name}`
    const narFile = `nar/${narHash.slice('sha256:'.length)}.nar`
    await writeFile(join(dir, narFile), nar)
    let info = {
      storePath,
      url: narFile,
      compression: 'none',
      narHash,
      narSize: nar.length,
      references: [] as string[],
      sigs: [] as string[]
    }
    if (item.sign !== undefined) info = signNarinfo(info, item.sign) as typeof info
    const narinfo = formatNarinfo(info)
    await writeFile(join(dir, `${hashPart}.narinfo`), narinfo)
    out.push({ storePath, hashPart, narHash, narSize: nar.length, nar, narinfo })
  }
  return out
}

export const LOOPBACK = { allowPrivateAddresses: true, allow: ['/ip4/127.0.0.1'] }

/** A client node connected to nothing yet. */
export function clientNode(bootstrap: readonly string[] = []): Promise<NarthexNode> {
  return createNode({ ...LOOPBACK, bootstrap: [...bootstrap] })
}

export function narCid(narHash: string): CID {
  return narCidFromNarHash(narHash)
}

/** A HAVE request frame of `/narthex/nar/1.0.0` (packages/p2p/src/wire.ts). */
export function haveFrame(cid: CID): Uint8Array {
  const out = new Uint8Array(5 + cid.bytes.length)
  new DataView(out.buffer).setUint32(0, 1 + cid.bytes.length)
  out[4] = 0x01
  out.set(cid.bytes, 5)
  return out
}

export const HAVE_YES = Uint8Array.of(0, 0, 0, 2, 0x81, 1)
export const BUSY = Uint8Array.of(0, 0, 0, 2, 0x8f, 2)
