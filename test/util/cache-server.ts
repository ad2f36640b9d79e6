/**
 * A tiny static HTTP binary cache for tests: serves files from a directory (e.g. one written by
 * `nix copy --to file://DIR?compression=none`) and/or from memory, counts requests per path, and can hold NAR
 * responses until released (to pile up concurrent requests). It stands in for an upstream cache and, serving
 * narinfos signed by a test key, for the orchestrator's narinfo route. Real HTTP on loopback, port 0.
 */
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join, normalize } from 'node:path'

export interface CacheServer {
  readonly url: string
  /** Requests seen per path (GET and HEAD). */
  readonly hits: Map<string, number>
  /** In-memory files by path (`/x.narinfo`); take precedence over the directory. */
  readonly files: Map<string, Uint8Array | string>
  /** Extra response headers of an in-memory file, by path (e.g. the orchestrator's `x-narthex-manifest-root`). */
  readonly headers: Map<string, Record<string, string>>
  /** Hold every `/nar/` response until `release()`. */
  hold(): void
  release(): void
  /** Count of requests whose path starts with `prefix`. */
  count(prefix: string): number
  close(): Promise<void>
}

export async function startCacheServer(opts: { dir?: string } = {}): Promise<CacheServer> {
  const hits = new Map<string, number>()
  const files = new Map<string, Uint8Array | string>()
  const headers = new Map<string, Record<string, string>>()
  let gate: Promise<void> | undefined
  let open: (() => void) | undefined
  const server: Server = createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!
    hits.set(path, (hits.get(path) ?? 0) + 1)
    if (path.startsWith('/nar/') && gate !== undefined) await gate
    const mem = files.get(path)
    if (mem !== undefined) {
      const body = typeof mem === 'string' ? Buffer.from(mem) : Buffer.from(mem)
      res.writeHead(200, { ...headers.get(path), 'Content-Length': body.length })
      res.end(req.method === 'HEAD' ? undefined : body)
      return
    }
    if (opts.dir !== undefined && !normalize(path).includes('..')) {
      const file = join(opts.dir, normalize(path))
      const s = await stat(file).catch(() => undefined)
      if (s?.isFile()) {
        res.writeHead(200, { 'Content-Length': s.size })
        if (req.method === 'HEAD') res.end()
        else createReadStream(file).pipe(res)
        return
      }
    }
    res.writeHead(404, { 'Content-Length': 0 }).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    files,
    headers,
    hold() {
      gate = new Promise((resolve) => {
        open = resolve
      })
    },
    release() {
      open?.()
      gate = undefined
    },
    count(prefix) {
      let n = 0
      for (const [p, c] of hits) if (p.startsWith(prefix)) n += c
      return n
    },
    async close() {
      open?.()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
