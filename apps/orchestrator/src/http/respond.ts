/** Small response helpers shared by the handlers: JSON, text, errors. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import {
  BodyTooLargeError,
  InvalidJsonError,
  InvalidRequestError,
  UnsupportedMediaTypeError
} from '../errors.js'

export function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {}
): void {
  const body = Buffer.from(JSON.stringify(value), 'utf8')
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': body.length,
    'cache-control': 'no-store',
    ...headers
  })
  res.end(body)
}

export function sendText(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string | Buffer,
  headers: Record<string, string> = {}
): void {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body
  res.writeHead(status, { 'content-type': contentType, 'content-length': bytes.length, ...headers })
  res.end(bytes)
}

/**
 * Read a JSON request body of at most `limit` bytes. The declared Content-Length is checked before reading; a body
 * that grows past the limit while streaming is cut off. Throws `UnsupportedMediaTypeError`, `BodyTooLargeError`,
 * `InvalidJsonError`.
 */
export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase()
  if (type !== 'application/json') {
    throw new UnsupportedMediaTypeError('the request body must be application/json')
  }
  const declared = req.headers['content-length']
  if (declared !== undefined && Number(declared) > limit) {
    throw new BodyTooLargeError(`the request body is larger than ${limit} bytes`)
  }
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length
      if (size > limit) throw new BodyTooLargeError(`the request body is larger than ${limit} bytes`)
      chunks.push(chunk)
    }
  } catch (err) {
    if (err instanceof BodyTooLargeError) throw err
    // The client went away or the request timed out mid-body: a client-side failure, not ours.
    throw new InvalidRequestError('the request body was not received completely')
  }
  const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new InvalidJsonError(`the request body is not valid JSON: ${(err as Error).message}`)
  }
}
