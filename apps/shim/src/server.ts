/**
 * The shim's HTTP server: node:http with every timeout and size limit set on purpose (constants.ts), request
 * hygiene first (method, Host, Origin, body, target), then three routes. Handlers only translate between HTTP and
 * the services; every error becomes a status through the one table in errors.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse, STATUS_CODES } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import createDebug from 'debug'
import type { ListenAddress } from './config.js'
import {
  CONNECTIONS_CHECKING_INTERVAL_MS,
  HEADERS_TIMEOUT_MS,
  KEEP_ALIVE_TIMEOUT_MS,
  MAX_CONNECTIONS,
  MAX_HEADER_SIZE,
  MAX_HEADERS_COUNT,
  REQUEST_TIMEOUT_MS,
  SOCKET_IDLE_TIMEOUT_MS,
  STORE_DIR
} from './constants.js'
import {
  BadRequestError,
  NarinfoNotFoundError,
  NarNotFoundError,
  RangeNotSatisfiableError,
  statusOf
} from './errors.js'
import type { NarService } from './nar-service.js'
import type { NarinfoCache } from './narinfo-cache.js'
import { type NarinfoService, narRequestOf } from './narinfo-service.js'
import type { Prefetcher } from './prefetch.js'
import { checkHost, checkMethod, METHODS, parseRange, parseRoute } from './routes.js'

const log = createDebug('narthex:shim:http')

export interface ShimServerInit {
  readonly listen: ListenAddress
  readonly allowHosts: readonly string[]
  readonly priority: number
  readonly cache: NarinfoCache
  readonly narinfos: NarinfoService
  readonly nars: NarService
  readonly prefetcher?: Prefetcher
}

export class ShimServer {
  readonly #init: ShimServerInit
  readonly #server: Server
  readonly #cacheInfo: Buffer
  #address: ListenAddress | undefined

  constructor(init: ShimServerInit) {
    this.#init = init
    this.#cacheInfo = Buffer.from(`StoreDir: ${STORE_DIR}\nWantMassQuery: 1\nPriority: ${init.priority}\n`)
    this.#server = createServer(
      {
        headersTimeout: HEADERS_TIMEOUT_MS,
        requestTimeout: REQUEST_TIMEOUT_MS,
        keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
        maxHeaderSize: MAX_HEADER_SIZE,
        connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
        requireHostHeader: true,
        noDelay: true
      },
      (req, res) => {
        this.#handle(req, res).catch((err) => this.#fail(res, err))
      }
    )
    this.#server.maxHeadersCount = MAX_HEADERS_COUNT
    this.#server.maxConnections = MAX_CONNECTIONS
    this.#server.timeout = SOCKET_IDLE_TIMEOUT_MS
    this.#server.on('clientError', onClientError)
  }

  /** The address actually bound (port resolved when 0 was asked). */
  get address(): ListenAddress {
    if (this.#address === undefined) throw new Error('server not started')
    return this.#address
  }

  async start(): Promise<ListenAddress> {
    const { host, port } = this.#init.listen
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen({ host, port, exclusive: true }, () => {
        this.#server.off('error', reject)
        // once listening, an error (a failed accept: ENOMEM, ENOBUFS) must not crash the program
        this.#server.on('error', (err) => log('server error: %s', err.message))
        resolve()
      })
    })
    const a = this.#server.address() as AddressInfo
    this.#address = { host: a.address, port: a.port }
    log('listening on %s:%d', a.address, a.port)
    return this.#address
  }

  async stop(): Promise<void> {
    if (!this.#server.listening) return
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()))
    this.#server.closeAllConnections()
    await closed
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    checkMethod(req.method)
    let hosts = 0
    for (let i = 0; i < req.rawHeaders.length; i += 2)
      if (req.rawHeaders[i]!.toLowerCase() === 'host') hosts++
    if (hosts !== 1) throw new BadRequestError('exactly one Host header is required')
    checkHost(req.headers, this.#init.allowHosts)
    if ((req.headers['content-length'] ?? '0') !== '0' || req.headers['transfer-encoding'] !== undefined) {
      throw new BadRequestError('GET and HEAD take no body')
    }
    const route = parseRoute(req.url)
    const head = req.method === 'HEAD'
    switch (route.kind) {
      case 'cache-info':
        return send(res, 200, 'text/x-nix-cache-info', this.#cacheInfo, head)
      case 'narinfo': {
        const entry = await this.#init.narinfos.answer(route.hashPart)
        if (entry === undefined) throw new NarinfoNotFoundError()
        send(res, 200, 'text/x-nix-narinfo', Buffer.from(entry.text), head)
        if (!head) this.#init.prefetcher?.closureOf(entry)
        return
      }
      case 'nar':
        return this.#nar(req, res, route.narHash, head)
    }
  }

  async #nar(req: IncomingMessage, res: ServerResponse, narHash: string, head: boolean): Promise<void> {
    const entry = this.#init.cache.byNarHash(narHash)
    if (entry === undefined) throw new NarNotFoundError()
    const narReq = narRequestOf(entry)
    const size = narReq.narSize
    const range = parseRange(req.headers.range, size)
    const status = range === undefined ? 200 : 206
    const { start, end } = range ?? { start: 0, end: size }
    const headers: Record<string, string | number> = {
      'Content-Type': 'application/x-nix-nar',
      'Content-Length': end - start,
      'Accept-Ranges': 'bytes'
    }
    if (range !== undefined) headers['Content-Range'] = `bytes ${start}-${end - 1}/${size}`
    if (head) {
      if (!(await this.#init.nars.canDeliver(narReq))) throw new NarNotFoundError('NAR cannot be delivered')
      res.writeHead(status, headers).end()
      return
    }
    const abort = new AbortController()
    // Only a response closed before it finished has anything to cancel; aborting after every answer cost a
    // DOMException with its stack trace per NAR (~5 % of the shim's CPU on a warm closure).
    res.on('close', () => {
      if (!res.writableFinished) abort.abort()
    })
    const nar = await this.#init.nars.open(narReq, { start, end }, { signal: abort.signal })
    try {
      res.writeHead(status, headers)
      // One write at a time, the next piece asked for only once the socket has taken this one: the stream may reuse
      // its buffers (OpenedNar), and the store keeps reading ahead meanwhile.
      for await (const bytes of nar.stream) await whenTaken(abort.signal, (done) => res.write(bytes, done))
      await whenTaken(abort.signal, (done) => res.end(done))
    } catch (err) {
      // Headers are out: the only honest signal left is a cut connection (Nix then reports an incomplete NAR).
      if (!abort.signal.aborted) log('NAR %s cut: %s', entry.fields.storePath, (err as Error).message)
      res.destroy()
    } finally {
      await nar.close()
    }
  }

  #fail(res: ServerResponse, err: unknown): void {
    const status = statusOf(err)
    if (status >= 500) log('%d: %s', status, (err as Error)?.stack ?? String(err))
    if (res.headersSent || res.destroyed) {
      res.destroy()
      return
    }
    if (status === 405) res.setHeader('Allow', METHODS.join(', '))
    if (err instanceof RangeNotSatisfiableError && err.size !== undefined) {
      res.setHeader('Content-Range', `bytes */${err.size}`)
    }
    if (status === 400) res.setHeader('Connection', 'close')
    send(
      res,
      status,
      'text/plain; charset=utf-8',
      Buffer.from(`${STATUS_CODES[status] ?? 'Error'}\n`),
      res.req.method === 'HEAD'
    )
  }
}

/**
 * Run `op`, a write or an end on `res`, and resolve once its callback has run (the socket has taken the bytes, or
 * the response is finished); reject when the response closes first, since then the callback may never run.
 */
function whenTaken(signal: AbortSignal, op: (done: (err?: Error | null) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const closed = () => reject(new Error('the response closed'))
    if (signal.aborted) return closed()
    signal.addEventListener('abort', closed, { once: true })
    op((err) => {
      signal.removeEventListener('abort', closed)
      if (err) reject(err)
      else resolve()
    })
  })
}

function send(res: ServerResponse, status: number, type: string, body: Buffer, head: boolean): void {
  res.statusCode = status
  res.setHeader('Content-Type', type)
  res.setHeader('Content-Length', body.length)
  res.setHeader('X-Content-Type-Options', 'nosniff')
  res.end(head ? undefined : body)
}

/** Requests Node's parser rejects: answer 431 / 408 / 400 (never 5xx) and close. */
function onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  const status =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? 431
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 408
        : err.code === 'ECONNRESET' || err.code === 'EPIPE'
          ? 0
          : 400
  const message = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage
  if (
    status !== 0 &&
    socket.writable &&
    (message === undefined || message === null || !message.headersSent)
  ) {
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`)
  } else {
    socket.destroy()
  }
}
