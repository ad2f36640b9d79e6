/** Small helpers for the shim's outgoing HTTP requests (orchestrator, upstream caches), built on global fetch. */

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
