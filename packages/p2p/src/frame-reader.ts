/**
 * Reads length-prefixed frames (wire.ts) from a libp2p v3 stream with bounded memory.
 *
 * - Each read names the largest frame it accepts; a larger declared length fails at once with
 *   MessageTooLargeError, before any byte of it is buffered beyond what already arrived.
 * - Backpressure: when more than `highWater` bytes wait unread (and no read is waiting for them), the stream is
 *   paused, which stops yamux window updates so the remote stops sending; a read resumes it. Pausing runs from a
 *   microtask: pausing inside the 'message' handler itself trips a window-update bug in libp2p 3.
 * - The stream's own maxReadBufferLength (set by the caller) is the hard cap: a peer that sends more than it was
 *   granted gets the stream reset.
 */
import type { Stream, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { LENGTH_PREFIX_BYTES } from './constants.js'
import {
  MalformedMessageError,
  MessageTooLargeError,
  StreamResetByPeerError,
  TruncatedMessageError
} from './errors.js'

export interface FrameReaderInit {
  /** Unread bytes above which the stream is paused. */
  readonly highWater: number
}

export class FrameReader {
  private readonly buffer = new Uint8ArrayList()
  private ended = false
  private closeError: Error | undefined
  private wake: (() => void) | undefined
  /** Bytes the waiting read needs in the buffer before it can return (0 when no read waits). */
  private need = 0
  private pausing = false
  /** When the last byte arrived (for stall detection by the caller). */
  lastDataAt = Date.now()
  /** Total bytes received. */
  received = 0

  constructor(
    private readonly stream: Stream,
    private readonly init: FrameReaderInit
  ) {
    stream.addEventListener('message', this.onMessage)
    stream.addEventListener('end', this.onEnd)
    stream.addEventListener('close', this.onClose)
    if (stream.readableEnded) this.ended = true
  }

  /** Bytes received and not yet read as frames. */
  get buffered(): number {
    return this.buffer.byteLength
  }

  /** Whether the stream ended (or closed) for reading: nothing more will arrive. */
  get isEnded(): boolean {
    return this.ended
  }

  private readonly onMessage = (evt: StreamMessageEvent): void => {
    this.buffer.append(evt.data)
    this.received += evt.data.byteLength
    this.lastDataAt = Date.now()
    this.maybePause()
    this.notify()
  }

  private readonly onEnd = (): void => {
    this.ended = true
    this.notify()
  }

  private readonly onClose = (evt: StreamCloseEvent): void => {
    this.ended = true
    if (evt.error !== undefined) this.closeError = evt.error
    this.notify()
  }

  private notify(): void {
    const w = this.wake
    this.wake = undefined
    w?.()
  }

  private maybePause(): void {
    const size = this.buffer.byteLength
    if (size <= this.init.highWater || (this.need > 0 && size < this.need) || this.pausing) return
    this.pausing = true
    queueMicrotask(() => {
      this.pausing = false
      if (this.stream.readStatus !== 'readable') return
      const s = this.buffer.byteLength
      if (s > this.init.highWater && !(this.need > 0 && s < this.need)) this.stream.pause()
    })
  }

  private maybeResume(): void {
    if (this.stream.readStatus === 'paused') this.stream.resume()
  }

  /** Wait until `n` bytes are buffered; false when the stream ended first. */
  private async fill(n: number, signal?: AbortSignal): Promise<boolean> {
    while (this.buffer.byteLength < n) {
      if (this.ended) {
        if (this.closeError !== undefined) throw new StreamResetByPeerError(this.closeError.message)
        return false
      }
      signal?.throwIfAborted()
      this.need = n
      this.maybeResume()
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          this.wake = undefined
          reject(signal!.reason)
        }
        signal?.addEventListener('abort', onAbort, { once: true })
        this.wake = () => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        }
      })
    }
    this.need = 0
    return true
  }

  /**
   * The next frame's body (type byte + payload), at most `limit` bytes. Returns undefined when the stream ended
   * cleanly at a frame boundary; throws TruncatedMessageError when it ended inside a frame.
   */
  async next(limit: number, options: { signal?: AbortSignal } = {}): Promise<Uint8ArrayList | undefined> {
    if (!(await this.fill(LENGTH_PREFIX_BYTES, options.signal))) {
      if (this.buffer.byteLength === 0) return undefined
      throw new TruncatedMessageError('stream ended inside a length prefix')
    }
    const length = this.buffer.getUint32(0)
    if (length === 0) throw new MalformedMessageError('zero-length frame')
    if (length > limit) throw new MessageTooLargeError(length, limit)
    if (!(await this.fill(LENGTH_PREFIX_BYTES + length, options.signal))) {
      throw new TruncatedMessageError(`stream ended after ${this.buffer.byteLength - 4} of ${length} bytes`)
    }
    const frame = this.buffer.sublist(LENGTH_PREFIX_BYTES, LENGTH_PREFIX_BYTES + length)
    this.buffer.consume(LENGTH_PREFIX_BYTES + length)
    if (this.buffer.byteLength <= this.init.highWater) this.maybeResume()
    return frame
  }

  /** Stop listening to the stream (the stream itself is left as it is). */
  release(): void {
    this.stream.removeEventListener('message', this.onMessage)
    this.stream.removeEventListener('end', this.onEnd)
    this.stream.removeEventListener('close', this.onClose)
    this.notify()
  }
}

/**
 * Write one frame's parts, waiting for the stream to drain when its buffer is full, so a slow reader slows the
 * writer instead of growing memory.
 */
export async function writeFrame(
  stream: Stream,
  data: Uint8Array | Uint8ArrayList,
  options: { signal?: AbortSignal } = {}
): Promise<void> {
  if (!stream.send(data)) await stream.onDrain(options)
}
