/**
 * docs/api.md against the code. (a) The route headings of each server's section and the route tables the servers
 * are built from match both ways: every route in the code has a heading, every heading names a route in the code.
 * (b) Every request of the "examples" tables is sent to a real server (a shim over real TCP with a real
 * orchestrator-like narinfo source and upstream cache; a seeder's real metrics listener) and must get the status
 * the table documents.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ROUTES as ORCHESTRATOR_ROUTES } from '../apps/orchestrator/src/http/routes.js'
import { attest, type Harness, hashPartOf, startHarness } from '../apps/orchestrator/test/helpers.js'
import { CONTROL_ROUTES } from '../apps/seeder/src/control.js'
import { METRICS_PATH, MetricsServer } from '../apps/seeder/src/metrics.js'
import { createShim, type Shim } from '../apps/shim/src/index.js'
import { METHODS as SHIM_METHODS, ROUTES as SHIM_ROUTES } from '../apps/shim/src/routes.js'
import { fakePath, get } from '../apps/shim/test/fixtures.js'
import { type CacheServer, startCacheServer } from './util/cache-server.js'
import { REPO_ROOT, tempDir } from './util/index.js'

/** The sections of docs/api.md, by their `## ` title. */
async function sections(): Promise<Map<string, string>> {
  const doc = await readFile(join(REPO_ROOT, 'docs/api.md'), 'utf8')
  const out = new Map<string, string>()
  for (const part of doc.split(/^## /m).slice(1)) {
    const nl = part.indexOf('\n')
    out.set(part.slice(0, nl).trim(), part.slice(nl + 1))
  }
  return out
}

/** `METHOD /path` of every backticked route in the section's headings. */
function documentedRoutes(section: string): string[] {
  const routes: string[] = []
  for (const line of section.split('\n')) {
    if (!/^#{3,6} /.test(line)) continue
    for (const m of line.matchAll(/`((?:GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) \/[^`]*)`/g))
      routes.push(m[1]!)
  }
  return routes.sort()
}

interface Example {
  readonly method: string
  readonly target: string
  readonly headers: Record<string, string>
  readonly status: number
}

/** The rows of the section's `| request | headers | status |` tables. */
function examples(section: string): Example[] {
  const out: Example[] = []
  let inTable = false
  for (const line of section.split('\n')) {
    if (/^\| *request *\| *headers *\| *status *\|$/.test(line)) {
      inTable = true
      continue
    }
    if (!line.startsWith('|')) {
      inTable = false
      continue
    }
    if (!inTable || /^\| *-/.test(line)) continue
    const [request, headers, status] = line
      .slice(1, -1)
      .split('|')
      .map((c) => c.trim())
    const m = /^`([A-Z]+) (\/.*)`$/.exec(request!)
    assert.ok(m, `example request ${request} is not \`METHOD /target\``)
    const h: Record<string, string> = {}
    for (const hm of headers!.matchAll(/`([\w-]+): ([^`]*)`/g)) h[hm[1]!.toLowerCase()] = hm[2]!
    out.push({ method: m[1]!, target: m[2]!, headers: h, status: Number(status) })
  }
  return out
}

const expand = (target: string, values: Record<string, string>) =>
  target
    .replace(/<(\d+) characters>/g, (_, n: string) => 'a'.repeat(Number(n) - 1))
    .replace(/<(\w+)>/g, (whole, name: string) => values[name] ?? whole)

describe('docs/api.md matches the HTTP servers', () => {
  it('has one section per server', async () => {
    assert.deepEqual(
      [...(await sections()).keys()],
      ['Orchestrator', 'Shim', 'Seeder metrics', 'Seeder control socket']
    )
  })

  it('orchestrator: the route headings are exactly ROUTES', async () => {
    const section = (await sections()).get('Orchestrator')!
    const code = ORCHESTRATOR_ROUTES.map((r) => `${r.method} ${r.doc}`).sort()
    assert.deepEqual(documentedRoutes(section), code)
  })

  it('shim: the route headings are exactly ROUTES × METHODS, and each route pattern matches its example', async () => {
    const section = (await sections()).get('Shim')!
    const code = SHIM_ROUTES.flatMap((r) => SHIM_METHODS.map((m) => `${m} ${r.doc}`)).sort()
    assert.deepEqual(documentedRoutes(section), code)
    const values = { hashpart: '0'.repeat(32), narhash: '0'.repeat(52) }
    for (const r of SHIM_ROUTES) assert.match(expand(r.doc, values), r.pattern, r.doc)
  })

  it('seeder metrics and control socket: the route headings are exactly the code’s routes', async () => {
    const s = await sections()
    assert.deepEqual(documentedRoutes(s.get('Seeder metrics')!), [`GET ${METRICS_PATH}`])
    assert.deepEqual(
      documentedRoutes(s.get('Seeder control socket')!),
      Object.values(CONTROL_ROUTES)
        .map((r) => `${r.method} ${r.path}`)
        .sort()
    )
  })

  describe('examples against real servers', function () {
    this.timeout(30_000)
    let orch: CacheServer
    let up: CacheServer
    let data: { path: string; cleanup: () => Promise<void> }
    let shim: Shim
    let metrics: MetricsServer
    let orchestrator: Harness | undefined

    before(async () => {
      orch = await startCacheServer()
      up = await startCacheServer()
      data = await tempDir('narthex-api-docs-')
      shim = createShim({
        data: data.path,
        listen: { host: '127.0.0.1', port: 0 },
        orchestrator: orch.url,
        upstream: [up.url],
        prefetch: false,
        fsync: false
      })
      await shim.start()
      metrics = new MetricsServer({ host: '127.0.0.1', port: 0 }, async () => [
        { name: 'narthex_seeder_nars_stored', help: 'NARs in the store', type: 'gauge', value: 1 }
      ])
      await metrics.start()
    })

    after(async () => {
      await shim?.stop()
      await metrics?.stop()
      await orchestrator?.stop()
      await orch?.close()
      await up?.close()
      await data?.cleanup()
    })

    async function check(base: string, rows: readonly Example[], values: Record<string, string>) {
      assert.ok(rows.length > 0, 'no examples documented')
      for (const ex of rows) {
        const target = expand(ex.target, values)
        assert.doesNotMatch(target, /<\w+>/, `unknown placeholder in ${ex.target}`)
        const r = await get(base, target, { method: ex.method, headers: ex.headers })
        assert.equal(r.status, ex.status, `${ex.method} ${ex.target} ${JSON.stringify(ex.headers)}`)
      }
    }

    it('shim: every documented example gets its documented status', async () => {
      const p = fakePath('api-docs', 1000)
      orch.files.set(`/${p.hashPart}.narinfo`, p.narinfo)
      up.files.set(`/${p.hashPart}.narinfo`, p.narinfo)
      up.files.set(`/nar/${p.narKey}.nar`, p.bytes)
      const rows = examples((await sections()).get('Shim')!)
      // Every route and every documented 4xx appears among the examples.
      for (const r of SHIM_ROUTES) assert.ok(rows.some((ex) => ex.target === r.doc, r.doc))
      for (const status of [400, 403, 404, 405, 414, 416]) assert.ok(rows.some((ex) => ex.status === status))
      await check(shim.url, rows, { hashpart: p.hashPart, narhash: p.narKey })
    })

    it('orchestrator: every documented example gets its documented status', async () => {
      orchestrator = await startHarness({ quorum: 2 })
      const [b1, b2] = orchestrator.builders
      const a = attest(b1!, 'hello')
      for (const b of [b1!, b2!]) {
        const r: Response = await fetch(`${orchestrator.url}/api/v1/attestations`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(attest(b, 'hello'))
        })
        assert.equal(r.status, 201)
      }
      const rows = examples((await sections()).get('Orchestrator')!)
      assert.ok(rows.length >= ORCHESTRATOR_ROUTES.length)
      await check(orchestrator.url, rows, {
        hashpart: hashPartOf(a.outPath),
        narhash: a.narHash.slice('sha256:'.length),
        drv: a.drvPath.slice('/nix/store/'.length)
      })
    })

    it('seeder metrics: every documented example gets its documented status', async () => {
      const rows = examples((await sections()).get('Seeder metrics')!)
      const { host, port } = metrics.address!
      await check(`http://${host}:${port}`, rows, {})
    })
  })
})
