import assert from 'node:assert/strict'
import type { Stream } from '@libp2p/interface'
import fc from 'fast-check'
import { MAX_REQUEST_BYTES, NAR_PROTOCOL } from '../src/constants.js'
import { FrameReader } from '../src/frame-reader.js'
import { FetchServer, type NarthexNode, PeerSession } from '../src/index.js'
import { decodeReply, decodeRequest, encodeFrameHeader, encodeRequest, MessageType } from '../src/wire.js'
import { loopbackNode, MemoryStore, pseudoRandomBytes, rawCid } from './util.js'

function prefix(length: number): Uint8Array {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, length)
  return b
}

describe('wire format', () => {
  it('round-trips every request', () => {
    const cids = [1, 2, 3].map((i) => rawCid(Uint8Array.of(i)))
    for (const req of [
      { type: 'HAVE', narCid: cids[0]! },
      { type: 'GET_MANIFEST', narCid: cids[1]! },
      { type: 'GET_CHUNKS', cids }
    ] as const) {
      const frame = encodeRequest(req).subarray()
      assert.equal(new DataView(frame.buffer, frame.byteOffset).getUint32(0), frame.byteLength - 4)
      assert.equal(JSON.stringify(decodeRequest(frame.subarray(4))), JSON.stringify(req))
    }
  })

  it('decodeRequest fails only with typed errors on arbitrary bytes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.constantFrom(0x01, 0x02, 0x03, 0x7f),
        (body, type) => {
          for (const input of [body, Uint8Array.of(type, ...body)]) {
            try {
              decodeRequest(input)
            } catch (err) {
              assert.ok(
                ['MalformedMessageError', 'MessageTooLargeError'].includes((err as Error).name),
                (err as Error).name
              )
            }
          }
        }
      ),
      { numRuns: 2000 }
    )
  })

  it('decodeReply rejects wrong payload sizes with MalformedMessageError', async () => {
    const { Uint8ArrayList } = await import('uint8arraylist')
    for (const bad of [[], [0x81], [0x81, 2], [0x84, 0], [0x8f], [0x42]]) {
      assert.throws(() => decodeReply(new Uint8ArrayList(Uint8Array.from(bad))), {
        name: 'MalformedMessageError'
      })
    }
  })
})

describe('wire fuzzing over loopback TCP', function () {
  this.timeout(30_000)
  let nodes: NarthexNode[] = []
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
  })

  async function pair(): Promise<[NarthexNode, NarthexNode]> {
    const a = await loopbackNode()
    const b = await loopbackNode()
    nodes.push(a, b)
    await b.dial(a.getMultiaddrs()[0]!)
    return [a, b]
  }

  /** What the server answers to raw bytes: the reply type, or 'closed' when it closed/reset without one. */
  async function answer(client: NarthexNode, server: NarthexNode, bytes: Uint8Array[], closeWrite: boolean) {
    const stream = await client.dialProtocol(server.peerId, NAR_PROTOCOL)
    for (const b of bytes) stream.send(b)
    if (closeWrite) await stream.close()
    const reader = new FrameReader(stream, { highWater: 1 << 20 })
    try {
      const frame = await reader.next(1 << 20, { signal: AbortSignal.timeout(5000) })
      return frame === undefined ? 'closed' : decodeReply(frame)
    } catch (err) {
      return (err as Error).name
    } finally {
      stream.abort(new Error('done'))
    }
  }

  it('the server answers BAD_REQUEST to length prefixes 0, max−1, max, max+1, 2³²−1 and truncations, and keeps serving', async () => {
    const [server, client] = await pair()
    const store = new MemoryStore()
    const chunk = pseudoRandomBytes(1000, 3)
    store.chunks.set(rawCid(chunk).toString(), chunk)
    const fetch = new FetchServer({ node: server, source: store })
    await fetch.start()
    const before = process.memoryUsage().arrayBuffers
    const garbage = (n: number) => {
      const b = pseudoRandomBytes(n, n)
      b[0] = 0x7e // unknown type
      return b
    }
    const cases: Array<[string, Uint8Array[], boolean]> = [
      ['length 0', [prefix(0)], false],
      ['max−1', [prefix(MAX_REQUEST_BYTES - 1), garbage(MAX_REQUEST_BYTES - 1)], false],
      ['max', [prefix(MAX_REQUEST_BYTES), garbage(MAX_REQUEST_BYTES)], false],
      ['max+1', [prefix(MAX_REQUEST_BYTES + 1)], false],
      ['2^32−1', [prefix(0xffffffff)], false],
      ['truncated body', [prefix(100), garbage(50)], true],
      ['truncated prefix', [Uint8Array.of(0, 0)], true],
      ['GET_CHUNKS count 0', [prefix(3), Uint8Array.of(MessageType.GET_CHUNKS, 0, 0)], false],
      ['GET_CHUNKS count 257', [prefix(3), Uint8Array.of(MessageType.GET_CHUNKS, 1, 1)], false]
    ]
    for (const [what, bytes, close] of cases) {
      const reply = await answer(client, server, bytes, close)
      assert.deepEqual(reply, { type: 'ERROR', code: 1 }, what)
    }
    assert.equal(fetch.stats.badRequests, cases.length)
    const grown = process.memoryUsage().arrayBuffers - before
    assert.ok(grown < 64 * 1024 * 1024, `array buffers grew by ${grown} bytes`)
    // Still serving honest requests.
    const session = await PeerSession.open(client, server.peerId)
    const got: number[] = []
    await session.getChunks([rawCid(chunk)], (_i, b) => void got.push(b?.byteLength ?? -1))
    assert.deepEqual(got, [1000])
    await session.close()
  })

  it('the client rejects over-limit, zero and truncated replies with typed errors and allocates nothing for them', async () => {
    const [server, client] = await pair()
    const max = 1000 // the session's chunk limit: a frame may be max+1 bytes (type byte + chunk)
    let reply: Uint8Array[] = []
    await server.handle(NAR_PROTOCOL, (stream: Stream) => {
      const reader = new FrameReader(stream, { highWater: 1 << 16 })
      reader
        .next(MAX_REQUEST_BYTES)
        .then(async () => {
          for (const r of reply) stream.send(r)
          await stream.close()
        })
        .catch(() => stream.abort(new Error('x')))
    })
    const cid = rawCid(Uint8Array.of(1))
    const chunkFrame = (len: number) => [
      encodeFrameHeader(MessageType.CHUNK, len - 1),
      new Uint8Array(len - 1)
    ]
    const before = process.memoryUsage().arrayBuffers
    const cases: Array<[string, Uint8Array[], string]> = [
      ['length 0', [prefix(0)], 'MalformedMessageError'],
      ['max−1', chunkFrame(max), 'ok:999'],
      ['max', chunkFrame(max + 1), 'ok:1000'],
      ['max+1', chunkFrame(max + 2), 'MessageTooLargeError'],
      ['2^32−1', [prefix(0xffffffff), Uint8Array.of(MessageType.CHUNK)], 'MessageTooLargeError'],
      ['truncated', [prefix(500), Uint8Array.of(MessageType.CHUNK, 1, 2, 3)], 'TruncatedMessageError'],
      ['truncated prefix', [Uint8Array.of(0, 0, 1)], 'TruncatedMessageError'],
      ['unknown type', [prefix(1), Uint8Array.of(0x55)], 'MalformedMessageError'],
      ['error reply', [prefix(2), Uint8Array.of(MessageType.ERROR, 2)], 'RemoteError']
    ]
    for (const [what, bytes, expected] of cases) {
      reply = bytes
      const session = await PeerSession.open(client, server.peerId, { maxChunkBytes: max })
      let outcome = ''
      try {
        await session.getChunks([cid], (_i, b) => {
          outcome = `ok:${b?.byteLength}`
        })
      } catch (err) {
        outcome = (err as Error).name
      }
      session.abort(new Error('done'))
      assert.equal(outcome, expected, what)
    }
    const grown = process.memoryUsage().arrayBuffers - before
    assert.ok(grown < 64 * 1024 * 1024, `array buffers grew by ${grown} bytes`)
  })
})
