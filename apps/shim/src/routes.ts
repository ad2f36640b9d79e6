/**
 * The shim's URL space and request hygiene, as pure functions of the request line and headers (no I/O), so each
 * rule is testable on its own and every malformed request maps to a typed 4xx error.
 *
 * Routes (exact, case-sensitive, matched on the raw target: nothing is percent-decoded, so an encoded `..`,
 * `/` or NUL can never reach a handler):
 * - `/nix-cache-info`
 * - `/<hashpart>.narinfo`   hashpart = 32 nix-base32 characters
 * - `/nar/<narhash>.nar`    narhash  = the 52 nix-base32 characters of the NarHash (uncompressed NAR)
 */
import { isHashPart, parseHash } from '@narthex/nix'
import { MAX_URL_LENGTH } from './constants.js'
import {
  BadRequestError,
  CrossOriginError,
  ForbiddenHostError,
  MethodNotAllowedError,
  RangeNotSatisfiableError,
  RouteNotFoundError,
  UriTooLongError
} from './errors.js'

export type Route =
  | { readonly kind: 'cache-info' }
  | { readonly kind: 'narinfo'; readonly hashPart: string }
  | { readonly kind: 'nar'; readonly narHash: string }

const NARINFO = /^\/([0-9a-z]{32})\.narinfo$/
const NAR = /^\/nar\/([0-9a-z]{52})\.nar$/

/**
 * The route table: each route's kind, the pattern `parseRoute` matches it with, and its path as docs/api.md writes
 * it in the route's heading (test/api-docs.spec.ts checks the two against each other, both ways). Every route
 * answers each of METHODS.
 */
export const ROUTES: readonly {
  readonly kind: Route['kind']
  readonly pattern: RegExp
  readonly doc: string
}[] = [
  { kind: 'cache-info', pattern: /^\/nix-cache-info$/, doc: '/nix-cache-info' },
  { kind: 'narinfo', pattern: NARINFO, doc: '/<hashpart>.narinfo' },
  { kind: 'nar', pattern: NAR, doc: '/nar/<narhash>.nar' }
]

/** Methods the shim answers; everything else is 405 with `Allow: GET, HEAD`. */
export const METHODS: readonly string[] = ['GET', 'HEAD']

export function checkMethod(method: string | undefined): void {
  if (method === undefined || !METHODS.includes(method)) {
    throw new MethodNotAllowedError(`method ${method ?? '(none)'} is not allowed`)
  }
}

/** Map a raw request target to a route; throws RouteNotFoundError, UriTooLongError or BadRequestError. */
export function parseRoute(target: string | undefined): Route {
  if (target === undefined || target === '') throw new BadRequestError('empty request target')
  if (target.length > MAX_URL_LENGTH) throw new UriTooLongError('request target too long')
  if (target.includes('?') || target.includes('#'))
    throw new BadRequestError('query strings are not accepted')
  if (target === '/nix-cache-info') return { kind: 'cache-info' }
  let m = NARINFO.exec(target)
  if (m !== null) {
    if (!isHashPart(m[1]!)) throw new RouteNotFoundError('not a store path hash part')
    return { kind: 'narinfo', hashPart: m[1]! }
  }
  m = NAR.exec(target)
  if (m !== null) {
    try {
      parseHash(`sha256:${m[1]}`, 'sha256')
    } catch {
      throw new RouteNotFoundError('not a NarHash')
    }
    return { kind: 'nar', narHash: `sha256:${m[1]}` }
  }
  throw new RouteNotFoundError()
}

const IPV4_LOOPBACK =
  /^127\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/

/** Split `host[:port]` / `[v6][:port]`; undefined when it is not of that shape. */
function hostName(hostHeader: string): string | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]/@\s]+)(?::(\d{1,5}))?$/.exec(hostHeader)
  return m === null ? undefined : m[1]!.toLowerCase()
}

/** True for `localhost`, `127.x.y.z` and `[::1]` (with or without a port). */
export function isLoopbackHost(hostHeader: string): boolean {
  const name = hostName(hostHeader)
  return name !== undefined && (name === 'localhost' || name === '[::1]' || IPV4_LOOPBACK.test(name))
}

/**
 * DNS-rebinding and cross-site defence. `Host` must be a loopback name or one of `allowHosts`; an `Origin`, if
 * present, must be this very origin (`http://<Host>`); `Sec-Fetch-Site`, if present, must be `same-origin` or
 * `none`. Nix sends neither Origin nor Sec-Fetch-Site; browsers do.
 */
export function checkHost(
  headers: {
    host?: string | undefined
    origin?: string | undefined
    'sec-fetch-site'?: string | string[] | undefined
  },
  allowHosts: readonly string[] = []
): void {
  const host = headers.host
  if (host === undefined || host === '') throw new BadRequestError('no Host header')
  const name = hostName(host)
  if (name === undefined) throw new ForbiddenHostError('malformed Host header')
  if (!isLoopbackHost(host) && !allowHosts.includes(name)) {
    throw new ForbiddenHostError('Host is not a loopback name')
  }
  const origin = headers.origin
  if (origin !== undefined && origin.toLowerCase() !== `http://${host.toLowerCase()}`) {
    throw new CrossOriginError('cross-site Origin')
  }
  const site = headers['sec-fetch-site']
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    throw new CrossOriginError('cross-site request')
  }
}

export interface ByteRange {
  /** First byte, inclusive. */
  readonly start: number
  /** Last byte + 1 (exclusive). */
  readonly end: number
}

/**
 * Parse a `Range` header against a resource of `size` bytes (RFC 9110 §14.1.2): one range of the `bytes` unit,
 * `a-b`, `a-` or `-n`. Multiple ranges, other units, malformed or unsatisfiable ranges → RangeNotSatisfiableError
 * (the server answers 416 with `Content-Range: bytes *\/size`). No header → undefined (the whole resource).
 */
export function parseRange(header: string | undefined, size: number): ByteRange | undefined {
  if (header === undefined) return undefined
  try {
    return rangeOf(header, size)
  } catch (err) {
    if (err instanceof RangeNotSatisfiableError) err.size = size
    throw err
  }
}

function rangeOf(header: string, size: number): ByteRange {
  const m = /^bytes=(\d{0,16})-(\d{0,16})$/.exec(header.trim())
  if (m === null) throw new RangeNotSatisfiableError('unsupported or malformed Range')
  const [a, b] = [m[1]!, m[2]!]
  let start: number
  let end: number
  if (a === '') {
    if (b === '') throw new RangeNotSatisfiableError('empty Range')
    const n = Number(b)
    if (n === 0) throw new RangeNotSatisfiableError('zero-length suffix range')
    start = Math.max(0, size - n)
    end = size
  } else {
    start = Number(a)
    end = b === '' ? size : Math.min(Number(b) + 1, size)
    if (b !== '' && Number(b) < start) throw new RangeNotSatisfiableError('Range ends before it starts')
  }
  if (start >= size) throw new RangeNotSatisfiableError('Range starts past the end')
  return { start, end }
}
