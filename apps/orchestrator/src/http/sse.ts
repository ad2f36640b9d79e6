/**
 * Server-Sent Events: `GET /api/v1/events` streams the event log (events.ts). Each event is
 * `id: <n>\nevent: <type>\ndata: <json>\n\n`. A client resuming with `Last-Event-ID` (header, or the
 * `lastEventId` query parameter) first gets the events it missed that are still in the replay ring. Idle streams
 * get a comment line every SSE_HEARTBEAT_MS; a client that stops reading is dropped once MAX_SSE_BUFFER_BYTES are
 * queued for it; at most MAX_SSE_CLIENTS streams are open at once.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { MAX_SSE_BUFFER_BYTES, MAX_SSE_CLIENTS, SSE_HEARTBEAT_MS } from '../constants.js'
import { InvalidRequestError, TooManyStreamsError } from '../errors.js'
import type { EventLog, OrchestratorEvent } from '../events.js'

function frame(e: OrchestratorEvent): string {
  return `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`
}

export class EventStreams {
  /** Each open stream and what stops feeding it (its subscription and heartbeat). */
  private readonly open_ = new Map<ServerResponse, () => void>()

  constructor(private readonly log: EventLog) {}

  get count(): number {
    return this.open_.size
  }

  open(req: IncomingMessage, res: ServerResponse, queryLastId: string | null): void {
    const raw = req.headers['last-event-id'] ?? queryLastId
    let lastId: number | null = null
    if (raw !== undefined && raw !== null && raw !== '') {
      if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw))
        throw new InvalidRequestError('Last-Event-ID must be an event id')
      lastId = Number(raw)
    }
    if (this.open_.size >= MAX_SSE_CLIENTS) throw new TooManyStreamsError('too many event streams are open')
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no'
    })
    // An event stream is long-lived by design: no idle timeout on its socket.
    req.socket.setTimeout(0)
    req.socket.setNoDelay(true)
    const send = (text: string): void => {
      // Ended (shutdown) or gone: a write after end() is an 'error' event on the response, which nothing handles.
      if (res.writableEnded || res.destroyed) return
      if (res.writableLength > MAX_SSE_BUFFER_BYTES) {
        res.destroy()
        return
      }
      res.write(text)
    }
    send(`retry: 2000\n: connected, last event ${this.log.lastId}\n\n`)
    if (lastId !== null) for (const e of this.log.since(lastId)) send(frame(e))
    const unsubscribe = this.log.subscribe((e) => send(frame(e)))
    const heartbeat = setInterval(() => send(': keep-alive\n\n'), SSE_HEARTBEAT_MS)
    heartbeat.unref()
    const stop = (): void => {
      clearInterval(heartbeat)
      unsubscribe()
      this.open_.delete(res)
    }
    this.open_.set(res, stop)
    res.on('close', stop)
  }

  /**
   * End every stream (on shutdown). Each stops receiving events at once: a client that stopped reading may keep
   * its response from closing until the server's grace period ends, and events still come in until then.
   */
  closeAll(): void {
    for (const [res, stop] of [...this.open_]) {
      stop()
      res.end()
    }
  }
}
