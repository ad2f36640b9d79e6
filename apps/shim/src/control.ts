/**
 * The shim's control socket: how `narthex status --data DIR` reaches the shim running on a data directory.
 *
 * Transport: HTTP/1.1 over a unix socket at `<data dir>/shim.sock` (CONTROL_SOCKET), mode 0600: only the data
 * directory's owner may talk to it, nothing is exposed on the network. One endpoint:
 *
 * | method | path         | answer                       |
 * | ------ | ------------ | ---------------------------- |
 * | GET    | `/v1/status` | 200 JSON `ShimStatus`        |
 *
 * Anything else is 404 (405 for another method on /v1/status) with `{ "error": { name, message } }`.
 */
import { existsSync } from 'node:fs'
import { chmod, unlink } from 'node:fs/promises'
import { createServer, request, type Server } from 'node:http'
import { join } from 'node:path'
import createDebug from 'debug'
import { CONTROL_SOCKET } from './constants.js'
import { InvalidConfigError, ShimNotRunningError, ShimRunningError } from './errors.js'

const log = createDebug('narthex:shim:control')

/** Longest unix socket path Linux accepts (sun_path is 108 bytes with the terminating NUL). */
const MAX_SOCKET_PATH = 107

/** The control socket path of a data directory. */
export function shimSocketPath(dataDir: string): string {
  const path = join(dataDir, CONTROL_SOCKET)
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH)
    throw new InvalidConfigError(
      `the control socket ${path} is longer than ${MAX_SOCKET_PATH} bytes: use a shorter data directory path`
    )
  return path
}

export class ShimControlServer {
  #server: Server | undefined

  constructor(
    private readonly dataDir: string,
    private readonly status: () => Promise<unknown> | unknown
  ) {}

  get path(): string {
    return shimSocketPath(this.dataDir)
  }

  async start(): Promise<void> {
    const path = this.path
    if (existsSync(path)) {
      // Left by a shim that was killed, or one that runs: ask it.
      const alive = await requestShimStatus(this.dataDir, { timeoutMs: 2000 }).then(
        () => true,
        () => false
      )
      if (alive) throw new ShimRunningError(`a shim is already running on ${this.dataDir}`)
      await unlink(path).catch(() => {})
    }
    const server = createServer((req, res) => {
      const send = (status: number, body: unknown) => {
        const text = JSON.stringify(body)
        res.writeHead(status, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(text)
        })
        res.end(text)
      }
      if (req.url !== '/v1/status')
        return send(404, { error: { name: 'RouteNotFoundError', message: `no such endpoint ${req.url}` } })
      if (req.method !== 'GET')
        return send(405, { error: { name: 'MethodNotAllowedError', message: 'use GET' } })
      Promise.resolve()
        .then(() => this.status())
        .then(
          (body) => send(200, body),
          (err: Error) => {
            log('status failed: %s', err.message)
            send(500, { error: { name: 'InternalError', message: 'internal error' } })
          }
        )
    })
    server.headersTimeout = 5_000
    server.requestTimeout = 10_000
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
    this.#server = server
  }

  async stop(): Promise<void> {
    const server = this.#server
    if (server === undefined) return
    this.#server = undefined
    server.close()
    server.closeAllConnections()
    await unlink(this.path).catch(() => {})
  }
}

/** The status of the shim running on `dataDir`; ShimNotRunningError when none answers there. */
export function requestShimStatus(dataDir: string, opts: { timeoutMs?: number } = {}): Promise<unknown> {
  const path = shimSocketPath(dataDir)
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: path, method: 'GET', path: '/v1/status' }, (res) => {
      res.setEncoding('utf8')
      let body = ''
      res.on('data', (d: string) => {
        body += d
      })
      res.on('end', () => {
        try {
          const value = JSON.parse(body) as { error?: { message?: string } }
          if (res.statusCode === 200) resolve(value)
          else reject(new Error(value.error?.message ?? `HTTP ${res.statusCode}`))
        } catch {
          reject(new Error(`the shim's control socket answered something that is not JSON (${path})`))
        }
      })
      res.on('error', reject)
    })
    req.setTimeout(opts.timeoutMs ?? 10_000, () => req.destroy(new Error(`no answer on ${path} in time`)))
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED')
        reject(new ShimNotRunningError(`no shim is running on this data directory (${path})`))
      else reject(err)
    })
    req.end()
  })
}
