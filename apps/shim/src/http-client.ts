/** Small helpers for the shim's outgoing HTTP requests (orchestrator, upstream caches). */

import http, { type IncomingHttpHeaders } from 'node:http'
import https from 'node:https'

/** Read a response body as text, refusing more than `max` bytes (the excess is never buffered). */
export async function readText(res: Response, max: number, onTooLarge: () => Error): Promise<string> {
  const declared = Number(res.headers.get('content-length') ?? '0')
  if (declared > max) {
    await res.body?.cancel().catch(() => {})
    throw onTooLarge()
  }
  if (res.body === null) return ''
  const parts: Uint8Array[] = []
  let total = 0
  for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) {
    total += part.length
    if (total > max) throw onTooLarge()
    parts.push(part)
  }
  return Buffer.concat(parts).toString('utf8')
}

/** Keep-alive agents for getText: the shim asks its orchestrator twice for every path Nix looks up. */
const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 32 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 32 })
} as const

export interface TextResponse {
  readonly status: number
  /** The body, read for status 200 only. */
  readonly text?: string
  /** The response headers (names in lower case). */
  readonly headers: IncomingHttpHeaders
}

/**
 * GET `url` over node:http with a kept-alive connection and read a 200's body as text, refusing more than `max`
 * bytes (the excess is never buffered). Other statuses (redirects too: they are not followed) resolve without a
 * body. Rejects on a network error or when `signal` aborts.
 *
 * Global fetch costs more CPU per request (undici's Web streams and headers): 152 µs against 56 for this, client
 * and server in one process, 2,000 GETs of a 400-byte body; undici was 0.9 s of an 11.5 s profile of the shim on a
 * cold closure of 500 paths, two requests each (docs/benchmarks.md, "substitute").
 */
export function getText(
  url: URL,
  opts: { max: number; onTooLarge: () => Error; signal?: AbortSignal }
): Promise<TextResponse> {
  return new Promise((resolve, reject) => {
    const agent = url.protocol === 'https:' ? agents['https:'] : agents['http:']
    const client = url.protocol === 'https:' ? https : http
    const req = client.get(url, { agent, signal: opts.signal }, (res) => {
      const status = res.statusCode ?? 0
      if (status !== 200) {
        res.resume() // drain, so the connection can be reused
        resolve({ status, headers: res.headers })
        return
      }
      if (Number(res.headers['content-length'] ?? '0') > opts.max) {
        reject(opts.onTooLarge()) // first: destroying emits 'aborted' at once
        res.destroy()
        return
      }
      const parts: Buffer[] = []
      let total = 0
      res.on('data', (part: Buffer) => {
        total += part.length
        if (total > opts.max) {
          reject(opts.onTooLarge())
          res.destroy()
          return
        }
        parts.push(part)
      })
      res.on('end', () =>
        resolve({ status, text: Buffer.concat(parts).toString('utf8'), headers: res.headers })
      )
      res.on('error', reject)
      res.on('aborted', () => reject(new Error('response aborted')))
    })
    req.on('error', reject)
  })
}
