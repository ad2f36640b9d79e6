/**
 * The client side of `/narthex/nar/1.0.0`: one long-lived stream to one peer, with pipelined requests.
 *
 * Requests are written at once (waiting only for the stream to drain); replies are read in request order by a
 * single chain, each with the limit of the message expected there. The caller bounds how much it asks for
 * (the downloader's per-peer window), so an honest peer never fills the read buffer; a peer that sends more
 * than it was asked for overflows the stream's read limit and the stream is reset.
 */
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { Uint8ArrayList } from 'uint8arraylist'
import { MAX_CHUNK_BYTES, MAX_MANIFEST_BYTES, NAR_PROTOCOL, STREAM_MAX_READ_BUFFER } from './constants.js'
import { MalformedMessageError, RemoteError } from './errors.js'
import { FrameReader, writeFrame } from './frame-reader.js'
import { decodeReply, encodeRequest, type Reply } from './wire.js'

export interface PeerSessionInit {
  /** Largest CHUNK reply accepted (content's maximum chunk size; default MAX_CHUNK_BYTES). */
  readonly maxChunkBytes?: number
  /** Largest MANIFEST reply accepted (default MAX_MANIFEST_BYTES). */
  readonly maxManifestBytes?: number
  readonly signal?: AbortSignal
}

export class PeerSession {
  private readonly reader: FrameReader
  private chain: Promise<unknown> = Promise.resolve()
  private closed = false
  /** Requests sent whose replies have not all been read. */
  private inFlight = 0
  /** A request or its reply failed: the stream may be out of step with its requests, never to be reused. */
  private broken = false
  readonly maxChunkBytes: number
  readonly maxManifestBytes: number

  private constructor(
    readonly peer: PeerId,
    readonly stream: Stream,
    init: PeerSessionInit
  ) {
    this.maxChunkBytes = init.maxChunkBytes ?? MAX_CHUNK_BYTES
    this.maxManifestBytes = init.maxManifestBytes ?? MAX_MANIFEST_BYTES
    stream.maxReadBufferLength = STREAM_MAX_READ_BUFFER
    // Pause above one largest message: the downloader's window keeps honest traffic below this anyway.
    this.reader = new FrameReader(stream, { highWater: Math.max(this.maxChunkBytes, 1024 * 1024) * 4 })
  }

  /** Open a fetch stream to `peer` (dialling it if needed). */
  static async open(node: Libp2p, peer: PeerId, init: PeerSessionInit = {}): Promise<PeerSession> {
    const stream = await node.dialProtocol(peer, NAR_PROTOCOL, { signal: init.signal })
    return new PeerSession(peer, stream, init)
  }

  /** Wrap an already open stream (used by tests that speak the protocol to a hand-made server). */
  static fromStream(peer: PeerId, stream: Stream, init: PeerSessionInit = {}): PeerSession {
    return new PeerSession(peer, stream, init)
  }

  /** When the last byte arrived from the peer. */
  get lastDataAt(): number {
    return this.reader.lastDataAt
  }

  get isOpen(): boolean {
    return !this.closed && this.stream.status === 'open'
  }

  /**
   * Whether another download may use this session (SessionPool): open both ways, every reply to every request read,
   * none failed, and no byte waiting that nobody asked for.
   */
  get reusable(): boolean {
    return (
      this.isOpen &&
      this.inFlight === 0 &&
      !this.broken &&
      this.reader.buffered === 0 &&
      !this.reader.isEnded &&
      this.stream.writeStatus === 'writable' &&
      this.stream.remoteWriteStatus === 'writable' &&
      this.stream.remoteReadStatus === 'readable'
    )
  }

  /**
   * Send one request and queue reading its replies after those of every earlier request. Any failure marks the
   * session broken (not reusable): a request half written or a reply half read leaves the stream out of step.
   */
  private async request<T>(
    frame: Uint8Array | Uint8ArrayList,
    options: { signal?: AbortSignal },
    read: () => Promise<T>
  ): Promise<T> {
    this.inFlight++
    try {
      await writeFrame(this.stream, frame, options)
    } catch (err) {
      this.broken = true
      this.inFlight--
      throw err
    }
    return this.enqueue(async () => {
      try {
        return await read()
      } catch (err) {
        this.broken = true
        throw err
      } finally {
        this.inFlight--
      }
    })
  }

  /** Queue reading replies after those of every earlier request. */
  private enqueue<T>(read: () => Promise<T>): Promise<T> {
    const p = this.chain.then(read)
    this.chain = p.catch(() => {})
    return p
  }

  private async readReply(limit: number, signal?: AbortSignal): Promise<Reply> {
    const frame = await this.reader.next(limit, { signal })
    if (frame === undefined) throw new MalformedMessageError('stream closed before the reply')
    const reply = decodeReply(frame)
    if (reply.type === 'ERROR') throw new RemoteError(reply.code)
    return reply
  }

  /** Does the peer hold the whole NAR? */
  async have(narCid: CID, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    return this.request(encodeRequest({ type: 'HAVE', narCid }), options, async () => {
      const reply = await this.readReply(2, options.signal)
      if (reply.type !== 'HAVE_REPLY')
        throw new MalformedMessageError(`expected HAVE_REPLY, got ${reply.type}`)
      return reply.has
    })
  }

  /** The NAR's encoded manifest, or undefined when the peer does not have it. Not verified here. */
  async getManifest(narCid: CID, options: { signal?: AbortSignal } = {}): Promise<Uint8Array | undefined> {
    return this.request(encodeRequest({ type: 'GET_MANIFEST', narCid }), options, async () => {
      const reply = await this.readReply(this.maxManifestBytes + 1, options.signal)
      if (reply.type === 'NOT_FOUND') return undefined
      if (reply.type !== 'MANIFEST') throw new MalformedMessageError(`expected MANIFEST, got ${reply.type}`)
      return reply.bytes.subarray()
    })
  }

  /**
   * Ask for chunks; `onChunk(i, bytes)` is called for each reply in order as it arrives (bytes undefined for
   * NOT_FOUND). Resolves when all replies have arrived; rejects on a protocol error or when the stream fails.
   * Not verified here: the caller checks each chunk against its CID.
   */
  async getChunks(
    cids: readonly CID[],
    onChunk: (index: number, bytes: Uint8ArrayList | undefined) => void | Promise<void>,
    options: { signal?: AbortSignal } = {}
  ): Promise<void> {
    return this.request(encodeRequest({ type: 'GET_CHUNKS', cids }), options, async () => {
      for (let i = 0; i < cids.length; i++) {
        const reply = await this.readReply(this.maxChunkBytes + 1, options.signal)
        if (reply.type === 'NOT_FOUND') await onChunk(i, undefined)
        else if (reply.type === 'CHUNK') await onChunk(i, reply.bytes)
        else throw new MalformedMessageError(`expected CHUNK, got ${reply.type}`)
      }
    })
  }

  /** Half-close and let the peer finish; then release the stream. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    try {
      await this.stream.close({ signal: AbortSignal.timeout(2000) })
    } catch {
      this.stream.abort(new Error('close timed out'))
    }
    this.reader.release()
  }

  /** Reset the stream at once (stall, misbehaviour, cancelled download). */
  abort(err: Error): void {
    this.closed = true
    this.stream.abort(err)
    this.reader.release()
  }
}
