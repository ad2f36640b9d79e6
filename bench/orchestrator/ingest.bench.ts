/**
 * Attestation ingest: attestations per second accepted by a real orchestrator process (`narthex orchestrator`),
 * each verified (ed25519) and written durably (level batch with fsync, group commit) before it is acknowledged.
 * Baseline in the same run: the CPU cost of the least any ingest must do, JSON.parse + parseAttestation +
 * verifyAttestation in one loop with no HTTP and no storage. Interleaved rounds, medians. See README.md.
 *
 *   pnpm build && pnpm exec tsx --conditions=source bench/orchestrator/ingest.bench.ts
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseAttestation, verifyAttestation } from '@narthex/consensus'
import { formatPublicKey, formatSecretKey } from '@narthex/nix'
import { createOrchestrator, resolveConfig } from '@narthex/orchestrator'
import { load, median } from './client.js'
import { makeAttestations, makeKeys, postRequest, startNullServer, startOrchestrator } from './common.js'

const ROUNDS = Number(process.env.ROUNDS ?? 3)
const OUTPUTS = Number(process.env.OUTPUTS ?? 2500) // × 4 builders = 10,000 attestations per run
const keys = makeKeys(4)
console.error(`signing ${OUTPUTS * 4} attestations...`)
const atts = makeAttestations(keys, OUTPUTS)
const texts = atts.map((a) => JSON.stringify(a))

/** CPU time (user + system, every thread of this process) per attestation, in µs, of the last run. */
const cpu: Record<string, number[]> = { baseline: [], inprocess: [] }
const cpuUs = (since: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(since)
  return (d.user + d.system) / texts.length
}

function baseline(): number {
  const byName = new Map(keys.builders.map((b) => [b.name, b.publicKey]))
  const c0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  let ok = 0
  for (const t of texts) {
    const a = parseAttestation(JSON.parse(t))
    if (verifyAttestation(a, byName.get(a.builder)!)) ok++
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9
  cpu.baseline!.push(cpuUs(c0))
  if (ok !== texts.length) throw new Error('baseline verification failed')
  return texts.length / s
}

async function single(connections: number, floor = false): Promise<number> {
  const o = floor ? await startNullServer() : await startOrchestrator(keys, 2)
  try {
    const r = await load({
      host: '127.0.0.1',
      port: o.port,
      connections,
      count: texts.length,
      durationMs: 60_000,
      request: (i) => postRequest(o.port, '/api/v1/attestations', texts[i]!)
    })
    if ((r.statuses[201] ?? 0) !== texts.length)
      throw new Error(`unexpected statuses ${JSON.stringify(r.statuses)}`)
    return r.perSecond
  } finally {
    await o.stop()
  }
}

/** The ingest pipeline without HTTP: an in-process orchestrator's service, `concurrency` batches in flight. */
async function inProcess(size: number, concurrency: number): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'narthex-bench-inproc-'))
  await writeFile(join(dir, 'o.sec'), formatSecretKey(keys.orchestrator))
  const o = createOrchestrator({
    config: resolveConfig({
      dataDir: join(dir, 'data'),
      keyFile: join(dir, 'o.sec'),
      port: 0,
      quorum: 2,
      p2pListen: [],
      trust: keys.builders.map((b) => ({ key: formatPublicKey(b.publicKey), revoked: false }))
    })
  })
  await o.start()
  const items = texts.map((t) => JSON.parse(t) as unknown)
  try {
    const c0 = process.cpuUsage()
    const t0 = process.hrtime.bigint()
    let next = 0
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < items.length) {
          const batch = items.slice(next, next + size)
          next += size
          const results = await o.service.submitBatch(batch)
          if (results.some((r) => !('ok' in r))) throw new Error('an attestation was refused')
        }
      })
    )
    const rate = items.length / (Number(process.hrtime.bigint() - t0) / 1e9)
    cpu.inprocess!.push(cpuUs(c0))
    return rate
  } finally {
    await o.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

async function batched(size: number, connections: number): Promise<number> {
  const o = await startOrchestrator(keys, 2)
  const bodies: string[] = []
  for (let i = 0; i < texts.length; i += size) bodies.push(`[${texts.slice(i, i + size).join(',')}]`)
  try {
    const r = await load({
      host: '127.0.0.1',
      port: o.port,
      connections,
      count: bodies.length,
      durationMs: 60_000,
      request: (i) => postRequest(o.port, '/api/v1/attestations', bodies[i]!)
    })
    if ((r.statuses[200] ?? 0) !== bodies.length)
      throw new Error(`unexpected statuses ${JSON.stringify(r.statuses)}`)
    return (r.requests * size) / r.seconds
  } finally {
    await o.stop()
  }
}

const results: Record<string, number[]> = {
  baseline: [],
  inprocess: [],
  floor16: [],
  single16: [],
  single64: [],
  batch100: []
}
for (let round = 0; round < ROUNDS; round++) {
  results.baseline!.push(baseline())
  results.inprocess!.push(await inProcess(100, 16))
  results.floor16!.push(await single(16, true))
  results.single16!.push(await single(16))
  results.single64!.push(await single(64))
  results.batch100!.push(await batched(100, 16))
  console.error(
    `round ${round + 1}: ${Object.entries(results)
      .map(([k, v]) => `${k} ${Math.round(v.at(-1)!)}/s`)
      .join(', ')}`
  )
}
const base = median(results.baseline!)
const rows = [
  ['parse + verify only, 1 core (baseline)', base],
  ['ingest without HTTP: verify + durable write, 16 batches of 100 in flight', median(results.inprocess!)],
  ['HTTP floor: node:http that only parses the body, 16 connections', median(results.floor16!)],
  ['HTTP, 1 attestation per request, 16 connections', median(results.single16!)],
  ['HTTP, 1 attestation per request, 64 connections', median(results.single64!)],
  ['HTTP, 100 attestations per request, 16 connections', median(results.batch100!)]
] as const
console.log('| ingest | attestations/s | ratio to baseline |')
console.log('| --- | ---: | ---: |')
for (const [what, v] of rows) console.log(`| ${what} | ${Math.round(v)} | ${(v / base).toFixed(2)} |`)
const cb = median(cpu.baseline!)
const ci = median(cpu.inprocess!)
console.log(
  `\nCPU time per attestation (all threads): parse + verify ${cb.toFixed(0)} µs; ingest without HTTP ${ci.toFixed(0)} µs (${(ci / cb).toFixed(2)}×)`
)
