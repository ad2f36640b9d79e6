/**
 * JSON with comments (JSONC), as configuration files are written: `// line` and `/* block *\/` comments and a
 * trailing comma before `}` or `]` (so a commented-out last key leaves valid JSON). Anything else is strict JSON.
 *
 * The comment stripper is a small scanner that knows JSON strings, so `"https://cache.nixos.org"` and
 * `"a /* b"` stay as they are. It replaces each comment (and each dropped comma) with spaces, keeping newlines, so
 * every remaining character keeps its offset and a JSON syntax error points at the right line and column of the
 * original text.
 */
import { ConfigSyntaxError } from './errors.js'

/** 1-based line and column of `offset` in `text`. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1
  let start = 0
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 0x0a) {
      line++
      start = i + 1
    }
  }
  return { line, column: offset - start + 1 }
}

/** `text` with comments and trailing commas replaced by spaces (newlines kept); strings are never touched. */
export function stripComments(text: string): string {
  const out = text.split('')
  const blank = (from: number, to: number): void => {
    for (let j = from; j < to; j++) if (out[j] !== '\n' && out[j] !== '\r') out[j] = ' '
  }
  let comma = -1 // offset of a comma that a following `}` or `]` would make trailing
  let i = 0
  while (i < text.length) {
    const c = text[i]!
    if (c === '"') {
      comma = -1
      i++
      while (i < text.length && text[i] !== '"' && text[i] !== '\n') i += text[i] === '\\' ? 2 : 1
      i++ // the closing quote (an unterminated string is left for JSON.parse to report)
    } else if (c === '/' && text[i + 1] === '/') {
      const end = text.indexOf('\n', i)
      const stop = end < 0 ? text.length : end
      blank(i, stop)
      i = stop
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2)
      if (end < 0) {
        const { line, column } = lineColumn(text, i)
        throw new ConfigSyntaxError(`line ${line}, column ${column}: unterminated /* comment`, line, column)
      }
      blank(i, end + 2)
      i = end + 2
    } else {
      if (c === '}' || c === ']') {
        if (comma >= 0) out[comma] = ' '
        comma = -1
      } else if (c === ',') comma = i
      else if (c !== ' ' && c !== '\t' && c !== '\n' && c !== '\r') comma = -1
      i++
    }
  }
  return out.join('')
}

/** Parse JSONC text into a value; a syntax error is a `ConfigSyntaxError` with line and column when known. */
export function parseJsonc(text: string): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? ` ${text.slice(1)}` : text
  const json = stripComments(body)
  try {
    return JSON.parse(json)
  } catch (err) {
    const message = (err as Error).message
    const at = /at position (\d+)/.exec(message)
    if (at === null) throw new ConfigSyntaxError(`not valid JSON: ${message}`)
    const { line, column } = lineColumn(body, Number(at[1]))
    const why = message.replace(/ in JSON at position \d+.*$/, '')
    throw new ConfigSyntaxError(`line ${line}, column ${column}: ${why}`, line, column)
  }
}
