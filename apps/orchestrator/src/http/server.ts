/**
 * The HTTP server: node:http with timeouts set on purpose (constants.ts), the narinfo hot path first, then the
 * route table. Every error becomes a JSON body `{ "error": { "name", "message" } }` with the status from the one
 * table in errors.ts; an unexpected error is logged and answered as a bare 500.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import createDebug from 'debug'
import {
  HEADERS_TIMEOUT_MS,
  KEEP_ALIVE_TIMEOUT_MS,
  MAX_HEADER_BYTES,
  REQUEST_TIMEOUT_MS
} from '../constants.js'
import { errorResponse, InvalidRequestError, MethodNotAllowedError, NotFoundError } from '../errors.js'
import { sendJson } from './respond.js'
import { ROUTES, type Route, type RouteContext } from './routes.js'

const log = createDebug('narthex:orchestrator:http')

export type ContextBase = Omit<RouteContext, 'req' | 'res' | 'params' | 'query'>

const NOT_FOUND_BODY = Buffer.from(
  JSON.stringify({ error: { name: 'NotFoundError', message: 'no agreed output has this hash part' } })
)
const NARINFO_PATH = /^\/[0-9a-df-np-sv-z]{32}\.narinfo$/

function sendError(res: ServerResponse, err: unknown, req: IncomingMessage): void {
  const { status, body } = errorResponse(err)
  if (status === 500) {
    console.error(`narthex orchestrator: internal error on ${req.method} ${req.url?.slice(0, 200)}:`, err)
  }
  if (res.headersSent) {
    res.destroy()
    return
  }
  const headers: Record<string, string> = {}
  if (err instanceof MethodNotAllowedError) headers.allow = err.allow
  // A body we refused to read must not be parsed as the next request on this connection.
  if (status === 413 || status === 415) headers.connection = 'close'
  sendJson(res, status, body, headers)
}

function match(method: string, path: string): { route: Route; params: string[] } {
  const allowed: string[] = []
  for (const route of ROUTES) {
    const m = route.pattern.exec(path)
    if (m === null) continue
    if (route.method === method || (method === 'HEAD' && route.method === 'GET')) {
      return { route, params: m.slice(1) }
    }
    allowed.push(route.method === 'GET' ? 'GET, HEAD' : route.method)
  }
  if (allowed.length > 0) {
    throw new MethodNotAllowedError(`${method} is not allowed here`, allowed.join(', '))
  }
  throw new NotFoundError('no such route')
}

export function createHttpServer(base: ContextBase): Server {
  const { service } = base
  const metrics = service.metrics

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = req.url ?? '/'
    // Hot path: narinfo lookups answered from memory without routing or URL parsing.
    if (url.length === 41 && (req.method === 'GET' || req.method === 'HEAD') && NARINFO_PATH.test(url)) {
      const narinfo = service.narinfo(url.slice(1, 33))
      if (narinfo !== undefined) {
        metrics.narinfoHits++
        res.writeHead(200, narinfo.headers)
        res.end(narinfo.body)
      } else {
        metrics.narinfoMisses++
        res.writeHead(404, { 'content-type': 'application/json', 'content-length': NOT_FOUND_BODY.length })
        res.end(NOT_FOUND_BODY)
      }
      return
    }
    let routeName = 'unmatched'
    try {
      const q = url.indexOf('?')
      const path = q === -1 ? url : url.slice(0, q)
      const query = new URLSearchParams(q === -1 ? '' : url.slice(q + 1))
      const { route, params } = match(req.method ?? 'GET', path)
      routeName = route.name
      for (const key of query.keys()) {
        if (!route.query?.includes(key))
          throw new InvalidRequestError(`unknown query parameter ${JSON.stringify(key)}`)
      }
      await route.handle({ ...base, req, res, params, query })
    } catch (err) {
      sendError(res, err, req)
    } finally {
      metrics.httpRequests.inc({ route: routeName, status: String(res.statusCode) })
    }
  }

  const server = createServer(
    {
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      maxHeaderSize: MAX_HEADER_BYTES
    },
    (req, res) => {
      handle(req, res).catch((err) => {
        log('unhandled error: %O', err)
        res.destroy()
      })
    }
  )
  // Idle keep-alive sockets are closed by keepAliveTimeout; an open socket with no request at all after the
  // headers timeout is closed by Node. Event streams clear their own socket timeout.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (socket.writable && !socket.destroyed) {
      const status =
        err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400
      socket.end(
        `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request'}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`
      )
    } else socket.destroy()
  })
  return server
}
