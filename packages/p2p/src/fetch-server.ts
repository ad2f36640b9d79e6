/**
 * The server side of `/narthex/nar/1.0.0`: answers HAVE, GET_MANIFEST and GET_CHUNKS from a ChunkSource.
 *
 * Requests on one stream are served one at a time, in order; the next request is read only when the previous
 * reply has been handed to the muxer, and every write waits for the stream to drain. A client that pipelines
 * too much, sends a malformed or oversized frame, goes idle, or stops reading is cut off; nothing it does
 * makes the server buffer more than one chunk and the stream's read limit.
 */
import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import debug from 'debug'
import { Uint8ArrayList } from 'uint8arraylist'
import {
  MAX_CONCURRENT_FETCH_STREAMS,
  MAX_INBOUND_FETCH_STREAMS_PER_CONNECTION,
  MAX_OUTBOUND_FETCH_STREAMS_PER_CONNECTION,
  MAX_REQUEST_BYTES,
  NAR_PROTOCOL,
  SEND_COALESCE_BYTES,
  SERVE_READ_GROUP_CHUNKS,
  SERVER_READ_BUFFER_BYTES,
  SERVER_STREAM_IDLE_TIMEOUT_MS
} from './constants.js'
import { MalformedMessageError, MessageTooLargeError, TruncatedMessageError } from './errors.js'
import { FrameReader, writeFrame } from './frame-reader.js'
import type { ChunkSource } from './interfaces.js'
import { decodeRequest, ErrorCode, encodeFrame, encodeReply, MessageType, type Request } from './wire.js'

const log = debug('narthex:p2p:server')

export interface FetchServerInit {
  /** Streams served at once across all peers (default MAX_CONCURRENT_FETCH_STREAMS). */
  readonly maxConcurrentStreams?: number
  /** Close a stream on which nothing moves for this long (default SERVER_STREAM_IDLE_TIMEOUT_MS). */
  readonly idleTimeoutMs?: number
  /** Inbound fetch streams per connection (default MAX_INBOUND_FETCH_STREAMS_PER_CONNECTION). */
  readonly maxInboundStreamsPerConnection?: number
}

export interface FetchServerStats {
  streams: number
  activeStreams: number
  requests: number
  chunksServed: number
  bytesServed: number
  notFound: number
  rejectedBusy: number
  badRequests: number
}

/** Serves the fetch protocol on a libp2p node. start() registers the handler, stop() removes it. */
export class FetchServer {
  readonly stats: FetchServerStats = {
    streams: 0,
    activeStreams: 0,
    requests: 0,
    chunksServed: 0,
    bytesServed: 0,
    notFound: 0,
    rejectedBusy: 0,
    badRequests: 0
  }
  private readonly active = new Set<Stream>()
  private started = false

  constructor(
    private readonly components: { readonly node: Libp2p; readonly source: ChunkSource },
    private readonly init: FetchServerInit = {}
  ) {}

  async start(): Promise<void> {
    if (this.started) return
    await this.components.node.handle(NAR_PROTOCOL, (stream, conn) => this.handle(stream, conn), {
      maxInboundStreams: this.init.maxInboundStreamsPerConnection ?? MAX_INBOUND_FETCH_STREAMS_PER_CONNECTION,
      maxOutboundStreams: MAX_OUTBOUND_FETCH_STREAMS_PER_CONNECTION
    })
    this.started = true
  }

  async stop(): Promise<void> {
    if (!this.started) return
    this.started = false
    await this.components.node.unhandle(NAR_PROTOCOL).catch(() => {})
    for (const s of this.active) s.abort(new Error('server stopping'))
    this.active.clear()
  }

  private async handle(stream: Stream, conn: Connection): Promise<void> {
    this.stats.streams++
    const max = this.init.maxConcurrentStreams ?? MAX_CONCURRENT_FETCH_STREAMS
    if (this.active.size >= max) {
      this.stats.rejectedBusy++
      try {
        stream.send(encodeReply({ type: 'ERROR', code: ErrorCode.BUSY }))
        await stream.close({ signal: AbortSignal.timeout(1000) })
      } catch {
        stream.abort(new Error('busy'))
      }
      return
    }
    this.active.add(stream)
    this.stats.activeStreams = this.active.size
    stream.maxReadBufferLength = SERVER_READ_BUFFER_BYTES
    const reader = new FrameReader(stream, { highWater: 64 * 1024 })
    const idleMs = this.init.idleTimeoutMs ?? SERVER_STREAM_IDLE_TIMEOUT_MS
    try {
      for (;;) {
        const frame = await reader.next(MAX_REQUEST_BYTES, { signal: AbortSignal.timeout(idleMs) })
        if (frame === undefined) break
        const req = decodeRequest(frame)
        this.stats.requests++
        await this.serve(stream, req, AbortSignal.timeout(idleMs))
      }
      await stream.close({ signal: AbortSignal.timeout(idleMs) })
    } catch (err) {
      const e = err as Error
      if (
        e instanceof MalformedMessageError ||
        e instanceof MessageTooLargeError ||
        e instanceof TruncatedMessageError
      ) {
        this.stats.badRequests++
        log('bad request from %s: %s', conn.remotePeer.toString(), e.message)
        try {
          stream.send(encodeReply({ type: 'ERROR', code: ErrorCode.BAD_REQUEST }))
          await stream.close({ signal: AbortSignal.timeout(1000) })
        } catch {
          stream.abort(e)
        }
      } else {
        log('stream from %s ended: %s', conn.remotePeer.toString(), e.message)
        stream.abort(e)
      }
    } finally {
      reader.release()
      this.active.delete(stream)
      this.stats.activeStreams = this.active.size
    }
  }

  /**
   * Serve one request. `signal` bounds the whole reply: a reader that stops reading holds the write until it
   * fires. Each reply (per GET_CHUNKS item) gets a fresh deadline once data moves.
   */
  private async serve(stream: Stream, req: Request, signal: AbortSignal): Promise<void> {
    const { source } = this.components
    const idleMs = this.init.idleTimeoutMs ?? SERVER_STREAM_IDLE_TIMEOUT_MS
    switch (req.type) {
      case 'HAVE': {
        const has = await source.hasNar(req.narCid, { signal })
        await writeFrame(stream, encodeReply({ type: 'HAVE_REPLY', has }), { signal })
        return
      }
      case 'GET_MANIFEST': {
        const bytes = await source.getManifest(req.narCid, { signal })
        if (bytes === undefined) this.stats.notFound++
        const reply =
          bytes === undefined ? encodeReply({ type: 'NOT_FOUND' }) : encodeFrame(MessageType.MANIFEST, bytes)
        await writeFrame(stream, reply, { signal })
        return
      }
      case 'GET_CHUNKS': {
        // Read the next group of chunks (at most SERVE_READ_GROUP_CHUNKS and ~SEND_COALESCE_BYTES of them, or one
        // from a source without getChunks) while the previous one is being sent, and hand the muxer up to
        // SEND_COALESCE_BYTES of replies per send: fewer muxer frames and drain waits, no copies.
        const n = req.cids.length
        const read = (from: number): Promise<Array<Uint8Array | undefined>> => {
          const asked = Math.min(SERVE_READ_GROUP_CHUNKS, n - from)
          const p = (
            source.getChunks !== undefined
              ? source.getChunks(req.cids.slice(from, from + asked), {
                  signal,
                  maxBytes: SEND_COALESCE_BYTES
                })
              : source.getChunk(req.cids[from]!, { signal }).then((bytes) => [bytes])
          ).then((group) => {
            if (group.length < 1 || group.length > asked) {
              throw new Error(`chunk source answered ${group.length} chunks for ${asked}`)
            }
            return group
          })
          p.catch(() => {}) // awaited below, unless a send fails first
          return p
        }
        let next = read(0)
        let out = new Uint8ArrayList()
        for (let done = 0; done < n; ) {
          const group = await next
          if (done + group.length < n) next = read(done + group.length)
          for (const bytes of group) {
            done++
            if (bytes === undefined) {
              this.stats.notFound++
              out.append(encodeReply({ type: 'NOT_FOUND' }))
            } else {
              out.append(encodeFrame(MessageType.CHUNK, bytes))
              this.stats.chunksServed++
              this.stats.bytesServed += bytes.byteLength
            }
            if (out.byteLength >= SEND_COALESCE_BYTES || done === n) {
              await writeFrame(stream, out, { signal: AbortSignal.timeout(idleMs) })
              out = new Uint8ArrayList()
            }
          }
        }
        return
      }
    }
  }
}
