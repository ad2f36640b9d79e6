/**
 * Prometheus metrics of a seeder (text format 0.0.4) on an optional HTTP listener, loopback by default.
 * `GET /metrics` only; anything else is 404. Each metric is computed from the components' own counters when
 * scraped, so there is nothing to keep in step.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import debug from 'debug'
import { DEFAULT_METRICS_HOST } from './constants.js'
import { InvalidSeederConfigError } from './errors.js'

const log = debug('narthex:seeder:metrics')

/** The one route of the metrics listener (GET and HEAD; a trailing `/` is accepted too). docs/api.md documents it. */
export const METRICS_PATH = '/metrics'

export interface Metric {
  readonly name: string
  readonly help: string
  readonly type: 'counter' | 'gauge'
  readonly value: number
  readonly labels?: Readonly<Record<string, string>>
}

/** Format metrics as Prometheus text; one HELP/TYPE pair per name. */
export function formatMetrics(metrics: readonly Metric[]): string {
  const lines: string[] = []
  const described = new Set<string>()
  for (const m of metrics) {
    if (!described.has(m.name)) {
      described.add(m.name)
      lines.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`)
    }
    const labels =
      m.labels === undefined
        ? ''
        : `{${Object.entries(m.labels)
            .map(([k, v]) => `${k}="${v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`)
            .join(',')}}`
    lines.push(`${m.name}${labels} ${Number.isFinite(m.value) ? m.value : 0}`)
  }
  return `${lines.join('\n')}\n`
}

/** Parse `HOST:PORT`, `[V6]:PORT` or `PORT` (loopback). */
export function parseHostPort(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(text) ?? /^()()(\d+)$/.exec(text)
  const port = m ? Number(m[3]) : Number.NaN
  if (!m || !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
    throw new InvalidSeederConfigError(`${JSON.stringify(text)} is not HOST:PORT (e.g. 127.0.0.1:9464)`)
  }
  return { host: m[1] || m[2] || DEFAULT_METRICS_HOST, port }
}

export class MetricsServer {
  private server: Server | undefined

  constructor(
    private readonly listen: { host: string; port: number },
    private readonly collect: () => Promise<readonly Metric[]>
  ) {}

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      if (
        (req.method === 'GET' || req.method === 'HEAD') &&
        (req.url === METRICS_PATH || req.url === `${METRICS_PATH}/`)
      ) {
        this.collect().then(
          (metrics) => {
            const text = formatMetrics(metrics)
            res.writeHead(200, {
              'content-type': 'text/plain; version=0.0.4; charset=utf-8',
              'content-length': Buffer.byteLength(text)
            })
            res.end(req.method === 'HEAD' ? undefined : text)
          },
          () => {
            res.writeHead(500, { 'content-type': 'text/plain' })
            res.end('internal error\n')
          }
        )
        return
      }
      res.writeHead(404, { 'content-type': 'text/plain' })
      res.end('not found\n')
    })
    server.headersTimeout = 10_000
    server.requestTimeout = 30_000
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.listen.port, this.listen.host, () => {
        server.off('error', reject)
        // once listening, an error (a failed accept: ENOMEM, ENOBUFS) must not crash the program
        server.on('error', (err) => log('server error: %s', err.message))
        resolve()
      })
    })
    this.server = server
  }

  /** The bound address (the real port when 0 was asked for). */
  get address(): { host: string; port: number } | undefined {
    const a = this.server?.address() as AddressInfo | null | undefined
    return a ? { host: a.address, port: a.port } : undefined
  }

  async stop(): Promise<void> {
    const server = this.server
    this.server = undefined
    if (server === undefined) return
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}
