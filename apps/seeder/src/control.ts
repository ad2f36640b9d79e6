/**
 * The control socket: how `narthex seed add` and `narthex seeder status` reach the running seeder of a data
 * directory. The store's level index is held by one process, so imports go through the seeder rather than opening
 * the store a second time.
 *
 * Transport: HTTP/1.1 over a unix socket at `<data dir>/seeder.sock`, created with mode 0600 (only the data
 * directory's owner may talk to it; no network exposure, no authentication needed beyond file permissions).
 *
 * | method | path         | body                                   | answer                                           |
 * | ------ | ------------ | -------------------------------------- | ------------------------------------------------ |
 * | GET    | `/v1/status` |                                        | 200 JSON `SeederStatus`                          |
 * | POST   | `/v1/import` | `{ "sources": [...], "closure"?: bool }` | 200 NDJSON: one `ImportEvent` per line, then `{ "type": "result", "ok": true }` or `{ "type": "result", "ok": false, "error": { name, message } }` |
 *
 * A malformed request is 400 with `{ "error": { name, message } }`; an unknown path 404; a body over
 * CONTROL_MAX_BODY_BYTES 413.
 */
import { existsSync } from 'node:fs'
import { chmod, unlink } from 'node:fs/promises'
import { createServer, request, type Server, type ServerResponse } from 'node:http'
import { join } from 'node:path'
import type { ImportEvent } from '@narthex/store'
import debug from 'debug'
import { CONTROL_MAX_BODY_BYTES, CONTROL_SOCKET } from './constants.js'
import {
  ControlRequestError,
  ControlSocketPathError,
  InvalidImportSourceError,
  SeederNotRunningError,
  SeederRunningError
} from './errors.js'
import { checkImportRequest, type ImportRequest } from './imports.js'

const log = debug('narthex:seeder:control')

/** Longest unix socket path Linux accepts (sun_path is 108 bytes with the terminating NUL). */
const MAX_SOCKET_PATH = 107

export interface ControlHandlers {
  status(): Promise<unknown>
  import(request: ImportRequest, onEvent: (e: ImportEvent) => void, signal: AbortSignal): Promise<void>
}

/** The control socket path of a data directory. */
export function controlSocketPath(dataDir: string): string {
  const path = join(dataDir, CONTROL_SOCKET)
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw new ControlSocketPathError(
      `the control socket ${path} is longer than ${MAX_SOCKET_PATH} bytes: use a shorter data directory path`
    )
  }
  return path
}

/** The control socket's routes (docs/api.md documents each; test/api-docs.spec.ts checks both ways). */
export const CONTROL_ROUTES = {
  status: { method: 'GET', path: '/v1/status' },
  import: { method: 'POST', path: '/v1/import' }
} as const

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

function errorBody(err: unknown): { error: { name: string; message: string } } {
  const e = err instanceof Error ? err : new Error(String(err))
  return { error: { name: e.name, message: e.message } }
}

export class ControlServer {
  private server: Server | undefined
  private readonly controller = new AbortController()
  private readonly inFlight = new Set<Promise<void>>()

  constructor(
    private readonly dataDir: string,
    private readonly handlers: ControlHandlers
  ) {}

  get path(): string {
    return controlSocketPath(this.dataDir)
  }

  async start(): Promise<void> {
    const path = this.path
    if (existsSync(path)) {
      // A socket left by a seeder that was killed, or one that is running: ask it.
      const alive = await ping(path)
      if (alive) throw new SeederRunningError(`a seeder is already running on ${this.dataDir}`)
      await unlink(path).catch(() => {})
    }
    const server = createServer((req, res) => {
      const done = this.route(req, res).catch((err) => {
        log('control request failed: %s', (err as Error).message)
        if (!res.headersSent)
          sendJson(res, 500, { error: { name: 'InternalError', message: 'internal error' } })
        else res.destroy()
      })
      this.inFlight.add(done)
      done.finally(() => this.inFlight.delete(done))
    })
    server.headersTimeout = 10_000
    server.requestTimeout = 0 // an import may take long; the client holds the connection open for its events
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(path, () => {
        server.off('error', reject)
        // once listening, an error (a failed accept: ENOMEM, ENOBUFS) must not crash the program
        server.on('error', (err) => log('server error: %s', err.message))
        resolve()
      })
    })
    await chmod(path, 0o600)
    this.server = server
  }

  /** Stop accepting, abort running imports, wait (bounded) for answers to finish, remove the socket. */
  async stop(graceMs = 5000): Promise<void> {
    const server = this.server
    if (server === undefined) return
    this.server = undefined
    this.controller.abort()
    server.close()
    await Promise.race([
      Promise.allSettled([...this.inFlight]),
      new Promise((r) => setTimeout(r, graceMs).unref())
    ])
    server.closeAllConnections()
    await unlink(this.path).catch(() => {})
  }

  private async route(req: import('node:http').IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/'
    if (url === CONTROL_ROUTES.status.path) {
      if (req.method !== CONTROL_ROUTES.status.method)
        return sendJson(res, 405, errorBody(new ControlRequestError('use GET')))
      return sendJson(res, 200, await this.handlers.status())
    }
    if (url === CONTROL_ROUTES.import.path) {
      if (req.method !== CONTROL_ROUTES.import.method)
        return sendJson(res, 405, errorBody(new ControlRequestError('use POST')))
      const chunks: Buffer[] = []
      let size = 0
      for await (const c of req as AsyncIterable<Buffer>) {
        size += c.length
        if (size > CONTROL_MAX_BODY_BYTES) {
          // Answer, discard the rest unread (nothing more is buffered), and close the connection shortly after.
          res.setHeader('connection', 'close')
          sendJson(res, 413, errorBody(new ControlRequestError('request body too large')))
          req.resume()
          const socket = req.socket
          setTimeout(() => socket.destroy(), 1000).unref()
          return
        }
        chunks.push(c)
      }
      let request: ImportRequest
      try {
        request = checkImportRequest(JSON.parse(Buffer.concat(chunks).toString('utf8')))
      } catch (err) {
        const e =
          err instanceof InvalidImportSourceError ? err : new InvalidImportSourceError('body is not JSON')
        return sendJson(res, 400, errorBody(e))
      }
      res.writeHead(200, { 'content-type': 'application/x-ndjson' })
      // A client that goes away does not cancel the import (it was asked for); only its events stop.
      const signal = this.controller.signal
      const write = (value: unknown) => {
        if (!res.destroyed) res.write(`${JSON.stringify(value)}\n`)
      }
      try {
        await this.handlers.import(request, write, signal)
        write({ type: 'result', ok: true })
      } catch (err) {
        write({ type: 'result', ok: false, ...errorBody(err) })
      }
      res.end()
      return
    }
    sendJson(res, 404, errorBody(new ControlRequestError(`no such control endpoint ${url}`)))
  }
}

/** Whether something answers on the socket. */
async function ping(path: string): Promise<boolean> {
  try {
    await controlRequest(
      path,
      CONTROL_ROUTES.status.method,
      CONTROL_ROUTES.status.path,
      undefined,
      () => {},
      2000
    )
    return true
  } catch {
    return false
  }
}

/**
 * One request to the control socket; `onLine` gets each NDJSON line of the answer (or the whole JSON body).
 * SeederNotRunningError when nothing listens; ControlRequestError for a non-200 answer.
 */
function controlRequest(
  path: string,
  method: 'GET' | 'POST',
  route: string,
  body: unknown,
  onLine: (value: unknown) => void,
  timeoutMs?: number
): Promise<void> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body)
    const req = request(
      {
        socketPath: path,
        method,
        path: route,
        headers:
          text === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }
      },
      (res) => {
        res.setEncoding('utf8')
        let buffer = ''
        res.on('data', (d: string) => {
          buffer += d
          if (res.statusCode !== 200) return
          let nl = buffer.indexOf('\n')
          while (nl >= 0) {
            const line = buffer.slice(0, nl)
            buffer = buffer.slice(nl + 1)
            if (line.trim() !== '') onLine(JSON.parse(line))
            nl = buffer.indexOf('\n')
          }
        })
        res.on('end', () => {
          if (res.statusCode !== 200) {
            let name: string | undefined
            let message = `HTTP ${res.statusCode}`
            try {
              const parsed = JSON.parse(buffer) as { error?: { name?: string; message?: string } }
              name = parsed.error?.name
              message = parsed.error?.message ?? message
            } catch {}
            reject(new ControlRequestError(message, name))
            return
          }
          if (buffer.trim() !== '') onLine(JSON.parse(buffer))
          resolve()
        })
        res.on('error', reject)
      }
    )
    if (timeoutMs !== undefined) req.setTimeout(timeoutMs, () => req.destroy(new Error('timed out')))
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED')
        reject(new SeederNotRunningError(`no seeder is running on this data directory (${path})`))
      else reject(err)
    })
    req.end(text)
  })
}

/** The status of the seeder running on `dataDir`. */
export async function requestStatus(dataDir: string): Promise<unknown> {
  let status: unknown
  await controlRequest(
    controlSocketPath(dataDir),
    'GET',
    CONTROL_ROUTES.status.path,
    undefined,
    (v) => {
      status = v
    },
    10_000
  )
  return status
}

/**
 * Hand an import to the seeder running on `dataDir`. Resolves when it is done; rejects with ControlRequestError
 * (its `remoteName` the seeder's error name) when the import failed.
 */
export async function requestImport(
  dataDir: string,
  request: ImportRequest,
  onEvent: (e: ImportEvent) => void = () => {}
): Promise<void> {
  let result: { ok: boolean; error?: { name: string; message: string } } | undefined
  await controlRequest(
    controlSocketPath(dataDir),
    CONTROL_ROUTES.import.method,
    CONTROL_ROUTES.import.path,
    request,
    (v) => {
      const value = v as { type: string }
      if (value.type === 'result') result = v as typeof result
      else onEvent(v as ImportEvent)
    }
  )
  if (result === undefined)
    throw new ControlRequestError('the seeder closed the connection before the import ended')
  if (!result.ok) throw new ControlRequestError(result.error?.message ?? 'import failed', result.error?.name)
}
