/**
 * Test-only misbehaving seeders: a hand-written server for `/narthex/nar/1.0.0` that claims to hold every NAR and
 * then corrupts its replies in one chosen way. Not a production flag: it lives under test/ and is registered on
 * a node directly.
 */
import type { Stream } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import { NAR_PROTOCOL } from '../src/constants.js'
import { FrameReader } from '../src/frame-reader.js'
import type { NarthexNode } from '../src/index.js'
import { decodeRequest, encodeFrameHeader, encodeReply, MessageType } from '../src/wire.js'
import type { MemoryStore } from './util.js'

export type Behaviour =
  /** Every chunk with one bit flipped. */
  | 'bitflip'
  /** The first chunk cut in half, then the stream is closed. */
  | 'truncate'
  /** Answers HAVE and GET_MANIFEST, then never sends a chunk (keeps the stream open). */
  | 'stall'
  /** Sends a partial chunk and then stops (stall at 50 % of a chunk). */
  | 'stall-mid-chunk'
  /** Resets the stream when asked for chunks. */
  | 'reset'
  /** Declares a chunk of 2^32−1 bytes. */
  | 'oversize'
  /** Serves `fakeManifest` for every NAR (chunks from its store, which the fake manifest names). */
  | 'wrong-manifest'

export interface MaliciousStats {
  /** Corrupt, truncated or oversized chunk replies sent. */
  injected: number
  streams: number
}

export async function startMaliciousServer(
  node: NarthexNode,
  store: MemoryStore,
  behaviour: Behaviour,
  options: { fakeManifest?: Uint8Array } = {}
): Promise<MaliciousStats> {
  const stats: MaliciousStats = { injected: 0, streams: 0 }
  await node.handle(NAR_PROTOCOL, (stream) => {
    stats.streams++
    serve(stream, store, behaviour, stats, options.fakeManifest).catch(() => stream.abort(new Error('done')))
  })
  return stats
}

async function serve(
  stream: Stream,
  store: MemoryStore,
  behaviour: Behaviour,
  stats: MaliciousStats,
  fakeManifest?: Uint8Array
): Promise<void> {
  const reader = new FrameReader(stream, { highWater: 1 << 20 })
  for (;;) {
    const frame = await reader.next(1 << 16)
    if (frame === undefined) break
    const req = decodeRequest(frame)
    if (req.type === 'HAVE') {
      stream.send(encodeReply({ type: 'HAVE_REPLY', has: true }))
      continue
    }
    if (req.type === 'GET_MANIFEST') {
      const bytes =
        behaviour === 'wrong-manifest' && fakeManifest !== undefined
          ? fakeManifest
          : await store.getManifest(req.narCid)
      if (bytes === undefined) {
        stream.send(encodeReply({ type: 'NOT_FOUND' }))
      } else {
        stream.send(encodeFrameHeader(MessageType.MANIFEST, bytes.byteLength))
        stream.send(bytes)
      }
      continue
    }
    for (const cid of req.cids) {
      const ok = await sendChunk(stream, store, cid, behaviour, stats)
      if (!ok) return
    }
  }
  await stream.close()
}

/** Send one (mis)reply; false when the behaviour ends the stream. */
async function sendChunk(
  stream: Stream,
  store: MemoryStore,
  cid: CID,
  behaviour: Behaviour,
  stats: MaliciousStats
): Promise<boolean> {
  const bytes = await store.getChunk(cid)
  if (bytes === undefined) {
    stream.send(encodeReply({ type: 'NOT_FOUND' }))
    return true
  }
  switch (behaviour) {
    case 'bitflip': {
      const bad = Uint8Array.from(bytes)
      bad[Math.floor(bad.length / 2)]! ^= 0x10
      stats.injected++
      stream.send(encodeFrameHeader(MessageType.CHUNK, bad.byteLength))
      if (!stream.send(bad)) await stream.onDrain()
      return true
    }
    case 'truncate':
      stats.injected++
      stream.send(encodeFrameHeader(MessageType.CHUNK, bytes.byteLength))
      stream.send(bytes.subarray(0, bytes.byteLength >> 1))
      await stream.close()
      return false
    case 'stall':
      await new Promise((resolve) => stream.addEventListener('close', resolve, { once: true }))
      return false
    case 'stall-mid-chunk':
      stats.injected++
      stream.send(encodeFrameHeader(MessageType.CHUNK, bytes.byteLength))
      stream.send(bytes.subarray(0, bytes.byteLength >> 1))
      await new Promise((resolve) => stream.addEventListener('close', resolve, { once: true }))
      return false
    case 'reset':
      stream.abort(new Error('reset by a test peer'))
      return false
    case 'oversize': {
      stats.injected++
      const header = new Uint8Array(5)
      new DataView(header.buffer).setUint32(0, 0xffffffff)
      header[4] = MessageType.CHUNK
      stream.send(header)
      stream.send(bytes)
      await new Promise((resolve) => stream.addEventListener('close', resolve, { once: true }))
      return false
    }
    case 'wrong-manifest':
      stream.send(encodeFrameHeader(MessageType.CHUNK, bytes.byteLength))
      if (!stream.send(bytes)) await stream.onDrain()
      return true
  }
}
