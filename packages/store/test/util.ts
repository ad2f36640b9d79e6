/** Helpers for the store's tests: deterministic NAR-like bytes and stream helpers. */
import { createHash } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { formatSha256 } from '@narthex/nix'

/** Deterministic pseudo-random bytes: SHA-256 in counter mode over `seed`. */
export function detBytes(n: number, seed: string): Buffer {
  const out = Buffer.alloc(Math.ceil(n / 32) * 32)
  for (let i = 0, k = 0; i < n; i += 32, k++)
    createHash('sha256').update(`${seed}/${k}`).digest().copy(out, i)
  return out.subarray(0, n)
}

export async function* piecesOf(data: Uint8Array, size = 65536): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size)
}

export async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const p of source) parts.push(p)
  return Buffer.concat(parts)
}

export function narHashOf(bytes: Uint8Array): string {
  return formatSha256(createHash('sha256').update(bytes).digest())
}

/** A narinfo text for `bytes` under a made-up store path whose hash part is derived from `name`. */
export function narinfoFor(bytes: Uint8Array, name: string, extra = ''): { text: string; hashPart: string } {
  const alphabet = '0123456789abcdfghijklmnpqrsvwxyz'
  const h = createHash('sha256').update(name).digest()
  let hashPart = ''
  for (let i = 0; i < 32; i++) hashPart += alphabet[h[i]! % 32]
  const text =
    `StorePath: /nix/store/${hashPart}-${name}\nURL: nar/x.nar\nCompression: none\n` +
    `NarHash: ${narHashOf(bytes)}\nNarSize: ${bytes.length}\nReferences: \n${extra}` +
    `Sig: test-1:${Buffer.alloc(64, 7).toString('base64')}\n`
  return { text, hashPart }
}

/** Every file under `dir`, as paths relative to it. */
export async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(join(e.parentPath ?? e.path, e.name).slice(dir.length + 1))
  }
  return out.sort()
}
