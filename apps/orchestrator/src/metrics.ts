/**
 * Prometheus metrics in the text exposition format (version 0.0.4), without a client library: counters with
 * labels, and gauges read when scraped.
 */

type Labels = Readonly<Record<string, string>>

function formatLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(
    ([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`
  )
  return parts.length === 0 ? '' : `{${parts.join(',')}}`
}

export class Counter {
  private readonly values = new Map<string, number>()

  constructor(
    readonly name: string,
    readonly help: string
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const key = formatLabels(labels)
    this.values.set(key, (this.values.get(key) ?? 0) + by)
  }

  /** An increment function for one fixed label set, formatted once (for hot paths). */
  bind(labels: Labels): (by?: number) => void {
    const key = formatLabels(labels)
    return (by = 1) => {
      this.values.set(key, (this.values.get(key) ?? 0) + by)
    }
  }

  get(labels: Labels = {}): number {
    return this.values.get(formatLabels(labels)) ?? 0
  }

  format(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} counter\n`
    if (this.values.size === 0) out += `${this.name} 0\n`
    for (const [labels, v] of this.values) out += `${this.name}${labels} ${v}\n`
    return out
  }
}

export class Gauge {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => number | ReadonlyArray<readonly [Labels, number]>
  ) {}

  format(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} gauge\n`
    const v = this.read()
    if (typeof v === 'number') out += `${this.name} ${v}\n`
    else for (const [labels, n] of v) out += `${this.name}${formatLabels(labels)} ${n}\n`
    return out
  }
}

export class Metrics {
  readonly attestations = new Counter(
    'narthex_attestations_total',
    'Attestation submissions by result (accepted, duplicate, rejected) and rejection reason.'
  )
  readonly agreements = new Counter('narthex_agreements_total', 'Agreements reached since start.')
  readonly httpRequests = new Counter('narthex_http_requests_total', 'HTTP requests by route and status.')
  /** narinfo answers, kept as plain numbers: this is the hot path. */
  narinfoHits = 0
  narinfoMisses = 0
  private readonly gauges: Gauge[] = []

  gauge(name: string, help: string, read: () => number | ReadonlyArray<readonly [Labels, number]>): void {
    this.gauges.push(new Gauge(name, help, read))
  }

  format(): string {
    const narinfo =
      '# HELP narthex_narinfo_requests_total narinfo requests by result (hit: served, miss: 404).\n' +
      '# TYPE narthex_narinfo_requests_total counter\n' +
      `narthex_narinfo_requests_total{result="hit"} ${this.narinfoHits}\n` +
      `narthex_narinfo_requests_total{result="miss"} ${this.narinfoMisses}\n`
    return (
      [this.attestations, this.agreements, this.httpRequests].map((m) => m.format()).join('') +
      narinfo +
      this.gauges.map((g) => g.format()).join('')
    )
  }
}
