/** Helpers for the p2p package's tests: in-memory chunk stores and loopback nodes. */
import { createHash } from 'node:crypto'
import { type IngestResult, ingestNar, narCidFromNarHash } from '@narthex/content'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import {
  type ChunkSink,
  type ChunkSource,
  createNode,
  type NarthexNode,
  type NodeInit
} from '../src/index.js'

export function sha256(bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest()
}

export function rawCid(bytes: Uint8Array): CID {
  return CID.createV1(raw.code, createDigest(0x12, sha256(bytes)))
}

/** Byte-equality of two arrays (Buffer and Uint8Array compare equal). */
export function same(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength)
  )
}

/** Deterministic pseudo-random bytes (xorshift), fast enough for hundreds of MiB. */
export function pseudoRandomBytes(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length)
  const view = new DataView(out.buffer)
  let x = seed >>> 0 || 1
  let i = 0
  for (; i + 4 <= length; i += 4) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    view.setUint32(i, x >>> 0)
  }
  for (; i < length; i++) out[i] = i & 0xff
  return out
}

/** A chunk store in memory: ChunkSource and ChunkSink for unit tests of the protocol. */
export class MemoryStore implements ChunkSource, ChunkSink {
  readonly chunks = new Map<string, Uint8Array>()
  readonly manifests = new Map<string, Uint8Array>()
  readonly nars = new Set<string>()
  puts = 0

  async hasNar(narCid: CID): Promise<boolean> {
    return this.nars.has(narCid.toString())
  }
  async getManifest(narCid: CID): Promise<Uint8Array | undefined> {
    return this.manifests.get(narCid.toString())
  }
  async getChunk(cid: CID): Promise<Uint8Array | undefined> {
    return this.chunks.get(cid.toString())
  }
  async hasChunk(cid: CID): Promise<boolean> {
    return this.chunks.has(cid.toString())
  }
  async putChunk(cid: CID, bytes: Uint8Array): Promise<void> {
    this.puts++
    this.chunks.set(cid.toString(), bytes)
  }
  async commitNar(narCid: CID, manifestBytes: Uint8Array): Promise<void> {
    this.manifests.set(narCid.toString(), manifestBytes)
    this.nars.add(narCid.toString())
  }
}

/** A node listening on 127.0.0.1:0 with private addresses allowed and loopback exempt from rate limits. */
export function loopbackNode(init: NodeInit = {}): Promise<NarthexNode> {
  return createNode({
    listen: ['/ip4/127.0.0.1/tcp/0'],
    allowPrivateAddresses: true,
    allow: ['/ip4/127.0.0.1'],
    ...init
  })
}

/** Cut `bytes` (standing in for a NAR) with content's chunker and put it whole into each store. */
export async function seedBlob(bytes: Uint8Array, stores: readonly MemoryStore[]): Promise<IngestResult> {
  const chunks: Array<{ cid: CID; bytes: Uint8Array }> = []
  async function* source() {
    for (let i = 0; i < bytes.byteLength; i += 1 << 20) yield bytes.subarray(i, i + (1 << 20))
  }
  const result = await ingestNar(source(), {
    onChunk: (c) => void chunks.push({ cid: c.cid, bytes: c.bytes })
  })
  const narCid = narCidFromNarHash(result.narHash)
  for (const s of stores) {
    for (const c of chunks) s.chunks.set(c.cid.toString(), c.bytes)
    await s.commitNar(narCid, result.manifestBytes)
  }
  return result
}

/** Collect an async iterable of bytes into one buffer. */
export async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const b of source) parts.push(b)
  return Buffer.concat(parts)
}
