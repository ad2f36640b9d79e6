/**
 * A small, bounded HTTP/1.1 load generator over raw keep-alive sockets: C connections, each sending one request at
 * a time (no pipelining) and reading the response by its Content-Length. It stops after `count` requests or
 * `durationMs`, whichever comes first, and records each request's latency. Loopback only.
 */
import { connect, type Socket } from 'node:net'

export interface LoadOptions {
  readonly host: string
  readonly port: number
  readonly connections: number
  /** Stop after this many requests in total. */
  readonly count: number
  /** Stop after this long (ms). */
  readonly durationMs: number
  /** The raw bytes of request number `i`. */
  readonly request: (i: number) => Buffer
}

export interface LoadResult {
  readonly requests: number
  readonly seconds: number
  readonly perSecond: number
  readonly statuses: Record<number, number>
  /** Latencies in microseconds, sorted. */
  readonly latenciesUs: Float64Array
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

const HEADER_END = Buffer.from('\r\n\r\n')

function runConnection(
  opts: LoadOptions,
  next: () => number | null,
  record: (us: number, status: number) => void
): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host: opts.host, port: opts.port, noDelay: true })
    let buf: Buffer = Buffer.alloc(0)
    let started = 0n
    let expect = -1
    let status = 0
    let headerLen = 0
    const send = (): void => {
      const i = next()
      if (i === null) {
        socket.end()
        return
      }
      started = process.hrtime.bigint()
      socket.write(opts.request(i))
    }
    socket.on('connect', send)
    socket.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk])
      for (;;) {
        if (expect < 0) {
          const end = buf.indexOf(HEADER_END)
          if (end < 0) return
          const head = buf.subarray(0, end).toString('latin1')
          status = Number(head.slice(9, 12))
          const m = /\r\ncontent-length: *(\d+)/i.exec(head)
          if (m === null) {
            reject(new Error(`response without content-length: ${head.slice(0, 200)}`))
            socket.destroy()
            return
          }
          headerLen = end + 4
          expect = Number(m[1])
        }
        if (buf.length < headerLen + expect) return
        buf = buf.subarray(headerLen + expect)
        expect = -1
        record(Number(process.hrtime.bigint() - started) / 1000, status)
        send()
        if (buf.length === 0) return
      }
    })
    socket.on('error', reject)
    socket.on('close', () => resolve())
  })
}

export async function load(opts: LoadOptions): Promise<LoadResult> {
  const latencies = new Float64Array(opts.count)
  const statuses: Record<number, number> = {}
  let issued = 0
  let done = 0
  const t0 = process.hrtime.bigint()
  const deadline = t0 + BigInt(opts.durationMs) * 1_000_000n
  const next = (): number | null => {
    if (issued >= opts.count || process.hrtime.bigint() > deadline) return null
    return issued++
  }
  const record = (us: number, status: number): void => {
    latencies[done++] = us
    statuses[status] = (statuses[status] ?? 0) + 1
  }
  await Promise.all(Array.from({ length: opts.connections }, () => runConnection(opts, next, record)))
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  const sorted = latencies.subarray(0, done).sort()
  return { requests: done, seconds, perSecond: done / seconds, statuses, latenciesUs: sorted }
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}
