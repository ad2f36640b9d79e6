/**
 * Kinds of configuration values: what a key's JSON value must look like, how it is parsed, and how a parsed value
 * (a default) is written back for the reference and the example files. `In` is the type as written in JSON (or
 * given by a flag), `Out` the parsed type the program uses.
 */
import { isIP } from 'node:net'
import { formatSize, parseSize } from './size.js'

export interface Kind<In, Out> {
  /** Short name shown in the reference table: `size`, `host:port`, `multiaddrs`... */
  readonly name: string
  /** What a value must be, completing "KEY must be ...": `a size: bytes, or text like "500M" or "20G"`. */
  readonly expected: string
  /** Parse a JSON value; throws (any error, its message a detail) when the value is not of this kind. */
  parse(value: unknown): Out
  /** A parsed value as it would be written in JSON. */
  format(value: Out): In
}

/** Throw from a custom kind's `parse`: the value is not of the kind (`detail` says why, if that helps). */
export function invalid(detail = ''): never {
  throw new Error(detail)
}

const same = <T>(v: T): T => v

/** The type a kind is written as. */
export type InOf<K> = K extends Kind<infer I, unknown> ? I : never
/** The type a kind parses to. */
export type OutOf<K> = K extends Kind<unknown, infer O> ? O : never

function nonEmpty(v: unknown): v is string {
  return typeof v === 'string' && v !== ''
}

/** A non-empty string. */
export function string(): Kind<string, string> {
  return {
    name: 'string',
    expected: 'a non-empty string',
    parse: (v) => (nonEmpty(v) ? v : invalid()),
    format: same
  }
}

/** A file or directory path (non-empty string). */
export function path(): Kind<string, string> {
  return { ...string(), name: 'path', expected: 'a path (a non-empty string)' }
}

/** Options of list kinds. */
export interface ListOptions {
  /** Also accept one string for a list of one. */
  readonly orOne?: boolean
}

function list<T>(
  name: string,
  expected: string,
  item: (v: unknown) => T,
  { orOne = false }: ListOptions
): Kind<string | readonly string[], readonly T[]> {
  return {
    name,
    expected: orOne ? `${expected}, or one` : expected,
    parse(v) {
      const items = orOne && typeof v === 'string' ? [v] : v
      if (!Array.isArray(items)) invalid()
      return items.map((s, i) => {
        try {
          return item(s)
        } catch (err) {
          const why = (err as Error).message
          return invalid(`item ${i} is ${JSON.stringify(s)}${why === '' ? '' : `: ${why}`}`)
        }
      })
    },
    format: (v) => v.map(String)
  }
}

/** An array of non-empty strings. */
export function strings(options: ListOptions = {}): Kind<string | readonly string[], readonly string[]> {
  return list('strings', 'an array of non-empty strings', (v) => (nonEmpty(v) ? v : invalid()), options)
}

/** An array of libp2p multiaddrs (each a string starting with `/`; the network layer parses them fully). */
export function multiaddrs(options: ListOptions = {}): Kind<string | readonly string[], readonly string[]> {
  return list(
    'multiaddrs',
    'an array of multiaddrs like "/ip4/0.0.0.0/tcp/4001"',
    (v) => (nonEmpty(v) && v.startsWith('/') ? v : invalid()),
    options
  )
}

/** `true` or `false`. */
export function boolean(): Kind<boolean, boolean> {
  return {
    name: 'boolean',
    expected: 'true or false',
    parse: (v) => (typeof v === 'boolean' ? v : invalid()),
    format: same
  }
}

/** A whole number from `min` (default 0) to `max` (default 2^53 - 1). */
export function count({ min = 0, max = Number.MAX_SAFE_INTEGER } = {}): Kind<number, number> {
  return {
    name: max === Number.MAX_SAFE_INTEGER && min === 0 ? 'count' : `integer ${min}..${max}`,
    expected:
      max === Number.MAX_SAFE_INTEGER
        ? min === 0
          ? 'a non-negative integer'
          : `an integer of at least ${min}`
        : `an integer from ${min} to ${max}`,
    parse: (v) =>
      Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max ? (v as number) : invalid(),
    format: same
  }
}

/** A size in bytes: a number, or text with a binary unit (`500M`, `20G`, `1.5TiB`); parsed to bytes. */
export function size(): Kind<number | string, number> {
  return {
    name: 'size',
    expected: 'a size: bytes, or text like "500M" or "20G"',
    parse: (v) => parseSize(v) ?? invalid(),
    format: formatSize
  }
}

function schemeList(protocols: readonly string[]): string {
  const schemes = protocols.map((p) => `${p}//`)
  return schemes.length > 1 ? `${schemes.slice(0, -1).join(', ')} or ${schemes.at(-1)}` : schemes[0]!
}

export interface UrlOptions {
  /** Accepted schemes, with the colon (default `http:` and `https:`). */
  readonly protocols?: readonly string[]
}

/** A URL (`http:` or `https:` unless told otherwise) without query or fragment; parsed without trailing slashes. */
export function url({ protocols = ['http:', 'https:'] }: UrlOptions = {}): Kind<string, string> {
  return {
    name: 'url',
    expected: `an ${schemeList(protocols)} URL without query or fragment`,
    parse(v) {
      if (typeof v !== 'string') return invalid()
      let u: URL
      try {
        u = new URL(v)
      } catch {
        return invalid(`${JSON.stringify(v)} is not a URL`)
      }
      if (!protocols.includes(u.protocol)) return invalid(`${JSON.stringify(v)} is ${u.protocol}`)
      if (u.search !== '' || u.hash !== '') return invalid(`${JSON.stringify(v)} has a query or fragment`)
      return u.href.replace(/\/+$/, '')
    },
    format: same
  }
}

/** An array of URLs (see `url`), in order. */
export function urls(
  options: ListOptions & UrlOptions = {}
): Kind<string | readonly string[], readonly string[]> {
  const one = url(options)
  const protocols = options.protocols ?? ['http:', 'https:']
  return list('urls', `an array of ${schemeList(protocols)} URLs`, (v) => one.parse(v), options)
}

/** One of a fixed set of strings. */
export function oneOf<const T extends string>(values: readonly T[]): Kind<T, T> {
  return {
    name: values.join(' | '),
    expected: `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`,
    parse: (v) => (values.includes(v as T) ? (v as T) : invalid()),
    format: same
  }
}

export interface HostPort {
  readonly host: string
  /** 0 lets the OS pick a free port. */
  readonly port: number
}

export interface HostPortOptions {
  /** The host of `:PORT` (and of `PORT` alone with `barePort`); without it a host must be given. */
  readonly defaultHost?: string
  /** Accept a port alone (`9464`). */
  readonly barePort?: boolean
}

/** Parse `HOST:PORT`, `[IPv6]:PORT` (and `:PORT` or `PORT` as the options allow); undefined if it is none. */
export function parseHostPort(text: string, options: HostPortOptions = {}): HostPort | undefined {
  const bare = options.barePort === true ? /^()()(\d{1,5})$/.exec(text) : null
  const m = bare ?? /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(text)
  if (m === null) return undefined
  const port = Number(m[3])
  if (port > 65535) return undefined
  if (m[1] !== undefined && m[1] !== '') return isIP(m[1]) === 6 ? { host: m[1], port } : undefined
  const host = m[2] === '' || m[2] === undefined ? options.defaultHost : m[2]
  return host === undefined ? undefined : { host, port }
}

/** A listen address, `HOST:PORT` (`[::1]:PORT` for IPv6); parsed to `{ host, port }`. */
export function hostPort(options: HostPortOptions = {}): Kind<string, HostPort> {
  const forms = ['"HOST:PORT"', '"[IPv6]:PORT"']
  if (options.defaultHost !== undefined) forms.push(`":PORT" (host ${options.defaultHost})`)
  if (options.barePort === true) forms.push('a port alone')
  return {
    name: 'host:port',
    expected: forms.join(', ').replace(/, ([^,]*)$/, ' or $1'),
    parse: (v) => (typeof v === 'string' ? parseHostPort(v, options) : undefined) ?? invalid(),
    format: ({ host, port }) => (isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`)
  }
}
