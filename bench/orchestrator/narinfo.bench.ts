/**
 * narinfo serving: requests per second and latency of `GET /<hashpart>.narinfo` from a real orchestrator process,
 * on 1 and on 16 keep-alive connections, against nginx serving the same narinfo files (same bytes) in the same
 * run. Interleaved rounds, medians. See README.md.
 *
 *   apt-get install -y nginx   # once; only this benchmark uses it
 *   pnpm build && pnpm exec tsx --conditions=source bench/orchestrator/narinfo.bench.ts
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type LoadResult, load, median, percentile } from './client.js'
import { getRequest, makeAttestations, makeKeys, startOrchestrator } from './common.js'

const ROUNDS = Number(process.env.ROUNDS ?? 3)
const OUTPUTS = Number(process.env.OUTPUTS ?? 1000)
const DURATION_MS = Number(process.env.DURATION_MS ?? 3000)
const MAX_REQUESTS = 500_000

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

async function startNginx(www: string): Promise<{ port: number; child: ChildProcess; dir: string } | null> {
  if (spawnSync('nginx', ['-v']).error !== undefined) return null
  const dir = await mkdtemp(join(tmpdir(), 'narthex-nginx-'))
  await mkdir(join(dir, 'tmp'))
  const port = await freePort()
  const conf = `user root;
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nodelay on;
  keepalive_timeout 65;
  keepalive_requests 10000000;
  open_file_cache max=10000 inactive=60s;
  types { text/x-nix-narinfo narinfo; }
  default_type application/octet-stream;
  client_body_temp_path ${dir}/tmp; proxy_temp_path ${dir}/tmp; fastcgi_temp_path ${dir}/tmp;
  uwsgi_temp_path ${dir}/tmp; scgi_temp_path ${dir}/tmp;
  server { listen 127.0.0.1:${port}; root ${www}; location / { } }
}
`
  await writeFile(join(dir, 'nginx.conf'), conf)
  const child = spawn('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: 'inherit' })
  // Ready when it answers.
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/nix-cache-info`).then(
      (r) => r.status > 0,
      () => false
    )
    if (ok) return { port, child, dir }
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error('nginx did not start')
}

const keys = makeKeys(2)
console.error(`preparing ${OUTPUTS} agreed outputs...`)
const atts = makeAttestations(keys, OUTPUTS)
const orch = await startOrchestrator(keys, 2)
for (let i = 0; i < atts.length; i += 500) {
  const res = await fetch(`http://127.0.0.1:${orch.port}/api/v1/attestations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(atts.slice(i, i + 500))
  })
  if (res.status !== 200) throw new Error(`submission failed: ${res.status}`)
  await res.arrayBuffer()
}
const hashParts = [...new Set(atts.map((a) => a.outPath.slice(11, 43)))]
const www = await mkdtemp(join(tmpdir(), 'narthex-narinfo-www-'))
for (const hp of hashParts) {
  const res = await fetch(`http://127.0.0.1:${orch.port}/${hp}.narinfo`)
  if (res.status !== 200) throw new Error(`narinfo ${hp}: ${res.status}`)
  await writeFile(join(www, `${hp}.narinfo`), Buffer.from(await res.arrayBuffer()))
}
const nginx = await startNginx(www)
if (nginx === null)
  console.error('nginx is not installed: apt-get install -y nginx (the comparison is skipped)')

async function run(port: number, connections: number): Promise<LoadResult> {
  const requests = hashParts.map((hp) => getRequest(port, `/${hp}.narinfo`))
  const r = await load({
    host: '127.0.0.1',
    port,
    connections,
    count: MAX_REQUESTS,
    durationMs: DURATION_MS,
    request: (i) => requests[i % requests.length]!
  })
  if ((r.statuses[200] ?? 0) !== r.requests) throw new Error(`non-200 answers: ${JSON.stringify(r.statuses)}`)
  return r
}

type Series = { rps: number[]; p50: number[]; p99: number[] }
const series = new Map<string, Series>()
const add = (name: string, r: LoadResult): void => {
  const s = series.get(name) ?? { rps: [], p50: [], p99: [] }
  s.rps.push(r.perSecond)
  s.p50.push(percentile(r.latenciesUs, 50))
  s.p99.push(percentile(r.latenciesUs, 99))
  series.set(name, s)
}
try {
  // Warm up both.
  await run(orch.port, 4)
  if (nginx) await run(nginx.port, 4)
  for (let round = 0; round < ROUNDS; round++) {
    for (const c of [1, 16]) {
      add(`orchestrator/${c}`, await run(orch.port, c))
      if (nginx) add(`nginx/${c}`, await run(nginx.port, c))
    }
    console.error(`round ${round + 1} done`)
  }
  // A miss is a fast 404 too (orchestrator only; nginx's 404 is not what Nix sees from a cache).
  const missReq = getRequest(orch.port, `/${'0'.repeat(32)}.narinfo`)
  const miss = await load({
    host: '127.0.0.1',
    port: orch.port,
    connections: 1,
    count: 20_000,
    durationMs: DURATION_MS,
    request: () => missReq
  })
  console.log('| server | connections | requests/s | p50 µs | p99 µs | rate vs nginx |')
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |')
  for (const c of [1, 16]) {
    for (const server of ['orchestrator', 'nginx']) {
      const s = series.get(`${server}/${c}`)
      if (s === undefined) continue
      const ng = series.get(`nginx/${c}`)
      const ratio = ng ? (median(s.rps) / median(ng.rps)).toFixed(2) : 'n/a'
      console.log(
        `| ${server} | ${c} | ${Math.round(median(s.rps))} | ${median(s.p50).toFixed(0)} | ${median(s.p99).toFixed(0)} | ${ratio} |`
      )
    }
  }
  console.log(
    `\n404 for an unknown hash part (orchestrator, 1 connection): ${Math.round(miss.perSecond)} requests/s, p50 ${percentile(miss.latenciesUs, 50).toFixed(0)} µs`
  )
} finally {
  await orch.stop()
  if (nginx) {
    await new Promise<void>((resolve) => {
      nginx.child.once('exit', () => resolve())
      nginx.child.kill('SIGQUIT')
    })
    await rm(nginx.dir, { recursive: true, force: true })
  }
  await rm(www, { recursive: true, force: true })
}
