/**
 * The `/narthex/nar/1.0.0` wire format: pure encode/decode of messages. No I/O here (the stream side is
 * frame-reader.ts and frame-writer.ts).
 *
 * Every message is one frame:
 *
 *     +-----------------------+-----------+---------------------+
 *     | length L (u32 BE)     | type (u8) | payload (L-1 bytes) |
 *     +-----------------------+-----------+---------------------+
 *
 * L counts the type byte and the payload; L = 0 is malformed. A reader knows, before the frame arrives, which
 * message may come next and its largest size, and rejects a larger L without allocating it.
 *
 * Requests (client → server), answered in order on the same stream; a client may pipeline several:
 *
 *     0x01 HAVE          cid                      → HAVE_REPLY
 *     0x02 GET_MANIFEST  cid                      → MANIFEST | NOT_FOUND
 *     0x03 GET_CHUNKS    count (u16 BE) cid*count → count × (CHUNK | NOT_FOUND), in request order
 *
 * Replies (server → client):
 *
 *     0x81 HAVE_REPLY    has (u8: 0 or 1)
 *     0x82 MANIFEST      the manifest's encoded bytes (content's DAG-CBOR)
 *     0x83 CHUNK         the chunk's bytes (no CID: replies are positional)
 *     0x84 NOT_FOUND     (empty)
 *     0x8f ERROR         code (u8): 1 BAD_REQUEST, 2 BUSY, 3 INTERNAL; the server closes the stream after it
 *
 * A CID is its binary form (CID.bytes), which is self-delimiting.
 */
import { CID } from 'multiformats/cid'
import { Uint8ArrayList } from 'uint8arraylist'
import { LENGTH_PREFIX_BYTES, MAX_CHUNKS_PER_REQUEST, MAX_CID_BYTES, MAX_REQUEST_BYTES } from './constants.js'
import { MalformedMessageError, MessageTooLargeError } from './errors.js'

export const MessageType = {
  HAVE: 0x01,
  GET_MANIFEST: 0x02,
  GET_CHUNKS: 0x03,
  HAVE_REPLY: 0x81,
  MANIFEST: 0x82,
  CHUNK: 0x83,
  NOT_FOUND: 0x84,
  ERROR: 0x8f
} as const

export const ErrorCode = { BAD_REQUEST: 1, BUSY: 2, INTERNAL: 3 } as const

export type Request =
  | { readonly type: 'HAVE'; readonly narCid: CID }
  | { readonly type: 'GET_MANIFEST'; readonly narCid: CID }
  | { readonly type: 'GET_CHUNKS'; readonly cids: readonly CID[] }

export type Reply =
  | { readonly type: 'HAVE_REPLY'; readonly has: boolean }
  | { readonly type: 'MANIFEST'; readonly bytes: Uint8ArrayList }
  | { readonly type: 'CHUNK'; readonly bytes: Uint8ArrayList }
  | { readonly type: 'NOT_FOUND' }
  | { readonly type: 'ERROR'; readonly code: number }

/** The 4-byte length prefix plus the type byte of a frame whose payload is `payloadLength` bytes. */
export function encodeFrameHeader(type: number, payloadLength: number): Uint8Array {
  const header = new Uint8Array(LENGTH_PREFIX_BYTES + 1)
  new DataView(header.buffer).setUint32(0, payloadLength + 1)
  header[LENGTH_PREFIX_BYTES] = type
  return header
}

/** A whole frame (header + payload) in one list, without copying the payload. */
export function encodeFrame(type: number, payload?: Uint8Array | Uint8ArrayList): Uint8ArrayList {
  const list = new Uint8ArrayList(encodeFrameHeader(type, payload?.byteLength ?? 0))
  if (payload !== undefined && payload.byteLength > 0) list.append(payload)
  return list
}

export function encodeRequest(req: Request): Uint8ArrayList {
  switch (req.type) {
    case 'HAVE':
      return encodeFrame(MessageType.HAVE, req.narCid.bytes)
    case 'GET_MANIFEST':
      return encodeFrame(MessageType.GET_MANIFEST, req.narCid.bytes)
    case 'GET_CHUNKS': {
      if (req.cids.length === 0 || req.cids.length > MAX_CHUNKS_PER_REQUEST) {
        throw new MalformedMessageError(`GET_CHUNKS needs 1..${MAX_CHUNKS_PER_REQUEST} CIDs`)
      }
      const count = new Uint8Array(2)
      new DataView(count.buffer).setUint16(0, req.cids.length)
      const body = new Uint8ArrayList(count)
      for (const cid of req.cids) body.append(cid.bytes)
      if (body.byteLength + 1 > MAX_REQUEST_BYTES)
        throw new MessageTooLargeError(body.byteLength + 1, MAX_REQUEST_BYTES)
      return encodeFrame(MessageType.GET_CHUNKS, body)
    }
  }
}

export function encodeReply(reply: Reply): Uint8ArrayList {
  switch (reply.type) {
    case 'HAVE_REPLY':
      return encodeFrame(MessageType.HAVE_REPLY, Uint8Array.of(reply.has ? 1 : 0))
    case 'MANIFEST':
      return encodeFrame(MessageType.MANIFEST, reply.bytes)
    case 'CHUNK':
      return encodeFrame(MessageType.CHUNK, reply.bytes)
    case 'NOT_FOUND':
      return encodeFrame(MessageType.NOT_FOUND)
    case 'ERROR':
      return encodeFrame(MessageType.ERROR, Uint8Array.of(reply.code))
  }
}

/** Decode one CID at `offset` of `bytes`; returns it and the offset after it. */
function decodeCidAt(bytes: Uint8Array, offset: number): [CID, number] {
  const window = bytes.subarray(offset, offset + MAX_CID_BYTES)
  let cid: CID
  let rest: Uint8Array
  try {
    ;[cid, rest] = CID.decodeFirst(window)
  } catch (err) {
    throw new MalformedMessageError(`bad CID: ${(err as Error).message}`)
  }
  if (cid.version !== 1) throw new MalformedMessageError('only CIDv1 is used on the wire')
  return [cid, offset + (window.byteLength - rest.byteLength)]
}

/** A frame body holding exactly one CID. */
function decodeSingleCid(body: Uint8Array): CID {
  const [cid, end] = decodeCidAt(body, 1)
  if (end !== body.byteLength) throw new MalformedMessageError('trailing bytes after CID')
  return cid
}

/** Decode a request body (type byte + payload, as a frame reader returns it). */
export function decodeRequest(frame: Uint8Array | Uint8ArrayList): Request {
  const body = frame instanceof Uint8Array ? frame : frame.subarray()
  if (body.byteLength === 0) throw new MalformedMessageError('empty message')
  if (body.byteLength > MAX_REQUEST_BYTES) throw new MessageTooLargeError(body.byteLength, MAX_REQUEST_BYTES)
  switch (body[0]) {
    case MessageType.HAVE:
      return { type: 'HAVE', narCid: decodeSingleCid(body) }
    case MessageType.GET_MANIFEST:
      return { type: 'GET_MANIFEST', narCid: decodeSingleCid(body) }
    case MessageType.GET_CHUNKS: {
      if (body.byteLength < 3) throw new MalformedMessageError('GET_CHUNKS without a count')
      const count = (body[1]! << 8) | body[2]!
      if (count === 0 || count > MAX_CHUNKS_PER_REQUEST) {
        throw new MalformedMessageError(`GET_CHUNKS count ${count} outside 1..${MAX_CHUNKS_PER_REQUEST}`)
      }
      const cids: CID[] = []
      let offset = 3
      for (let i = 0; i < count; i++) {
        if (offset >= body.byteLength) throw new MalformedMessageError('GET_CHUNKS shorter than its count')
        const [cid, next] = decodeCidAt(body, offset)
        cids.push(cid)
        offset = next
      }
      if (offset !== body.byteLength) throw new MalformedMessageError('trailing bytes after GET_CHUNKS')
      return { type: 'GET_CHUNKS', cids }
    }
    default:
      throw new MalformedMessageError(`unknown request type 0x${body[0]!.toString(16)}`)
  }
}

/** Decode a reply body. Large payloads stay a Uint8ArrayList (no copy). */
export function decodeReply(frame: Uint8ArrayList): Reply {
  if (frame.byteLength === 0) throw new MalformedMessageError('empty message')
  const type = frame.get(0)
  switch (type) {
    case MessageType.HAVE_REPLY: {
      if (frame.byteLength !== 2) throw new MalformedMessageError('HAVE_REPLY must be 1 byte')
      const has = frame.get(1)
      if (has !== 0 && has !== 1) throw new MalformedMessageError('HAVE_REPLY must be 0 or 1')
      return { type: 'HAVE_REPLY', has: has === 1 }
    }
    case MessageType.MANIFEST:
      return { type: 'MANIFEST', bytes: frame.sublist(1) }
    case MessageType.CHUNK:
      return { type: 'CHUNK', bytes: frame.sublist(1) }
    case MessageType.NOT_FOUND:
      if (frame.byteLength !== 1) throw new MalformedMessageError('NOT_FOUND has no payload')
      return { type: 'NOT_FOUND' }
    case MessageType.ERROR:
      if (frame.byteLength !== 2) throw new MalformedMessageError('ERROR must carry one code byte')
      return { type: 'ERROR', code: frame.get(1) }
    default:
      throw new MalformedMessageError(`unknown reply type 0x${type.toString(16)}`)
  }
}
