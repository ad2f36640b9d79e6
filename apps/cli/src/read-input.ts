/** Reading a whole small input (a narinfo, a key) from a stream, with a size limit and strict UTF-8. */
import { CommandFailedError } from './errors.js'

/**
 * Most bytes a command reads from stdin as text: 16 MiB. The largest narinfos (tens of thousands of references)
 * are a few MiB; anything bigger is not a narinfo, and reading it whole would only waste memory.
 */
export const MAX_TEXT_INPUT = 16 * 1024 * 1024

/** Read all of `stream` as UTF-8 text; fails with a clear message past `limit` bytes or on invalid UTF-8. */
export async function readText(
  stream: NodeJS.ReadableStream,
  what: string,
  limit: number = MAX_TEXT_INPUT
): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk)
    size += buf.length
    if (size > limit) throw new CommandFailedError(`${what} is larger than ${limit} bytes`)
    chunks.push(buf)
  }
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(Buffer.concat(chunks))
  } catch {
    throw new CommandFailedError(`${what} is not valid UTF-8`)
  }
}
