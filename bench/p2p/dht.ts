/**
 * DHT on loopback: provide and findProviders latency in a 20-node network, and the time the Announcer takes to
 * announce N NARs (default 10,000), compared in the same run with plain sequential provide() calls.
 *
 *   node --import tsx --conditions source bench/p2p/dht.ts [--nodes 20] [--nars 10000] [--samples 50]
 *        [--concurrency 4]
 *
 * Lower latency and shorter announce time are better. All nodes run in this process (like a busy seeder host).
 */
import '../../apps/cli/src/polyfill.js'
import { createHash } from 'node:crypto'
import { parseArgs } from 'node:util'
import { Announcer, createNode, type NarthexNode } from '@narthex/p2p'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '20' },
    nars: { type: 'string', default: '10000' },
    samples: { type: 'string', default: '50' },
    concurrency: { type: 'string' },
    seq: { type: 'string', default: '30' },
    check: { type: 'string', default: '50' },
    alpha: { type: 'string' },
    paths: { type: 'string' }
  }
})
const NODES = Number(values.nodes)
const NARS = Number(values.nars)
const SAMPLES = Number(values.samples)

function cidOf(i: number, salt: string): CID {
  return CID.createV1(raw.code, createDigest(0x12, createHash('sha256').update(`${salt}-${i}`).digest()))
}

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b)
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!
  return `median ${q(0.5).toFixed(0)} ms, p95 ${q(0.95).toFixed(0)} ms`
}

const rt = (n: NarthexNode) =>
  (n.services.dht as unknown as { routingTable: { size: number } }).routingTable.size
const dht = {
  ...(values.alpha !== undefined ? { alpha: Number(values.alpha) } : {}),
  ...(values.paths !== undefined ? { disjointPaths: Number(values.paths) } : {})
}
const local = {
  listen: ['/ip4/127.0.0.1/tcp/0'],
  allowPrivateAddresses: true,
  allow: ['/ip4/127.0.0.1'],
  dht
}
const t0 = Date.now()
const boot = await createNode({ ...local, dhtServer: true })
const bootAddr = boot.getMultiaddrs()[0]!.toString()
const nodes = [boot]
for (let i = 1; i < NODES; i++)
  nodes.push(await createNode({ ...local, dhtServer: true, bootstrap: [bootAddr] }))
const deadline = Date.now() + 180_000
while (Date.now() < deadline && nodes.some((n) => rt(n) < Math.min(10, NODES - 1))) {
  await new Promise((r) => setTimeout(r, 200))
}
console.error(`${NODES} nodes up in ${Date.now() - t0} ms; routing table sizes ${nodes.map(rt).join(',')}`)

// 1. provide() latency from random nodes, and acknowledgements per provide.
const provideMs: number[] = []
const acks: number[] = []
for (let i = 0; i < SAMPLES; i++) {
  const node = nodes[(i * 7) % NODES]!
  const s = performance.now()
  let a = 0
  try {
    for await (const ev of node.services.dht.provide(cidOf(i, 'sample'), {
      signal: AbortSignal.timeout(30_000)
    })) {
      if (ev.name === 'PEER_RESPONSE' && ev.messageName === 'ADD_PROVIDER') a++
    }
  } catch (err) {
    console.error(`  provide sample ${i}: ${(err as Error).name}`)
  }
  provideMs.push(performance.now() - s)
  acks.push(a)
}

// 2. findProviders latency from other nodes: first provider, and the whole query.
const firstMs: number[] = []
const fullMs: number[] = []
let found = 0
for (let i = 0; i < SAMPLES; i++) {
  const node = nodes[(i * 7 + 3) % NODES]!
  const s = performance.now()
  let first: number | undefined
  try {
    for await (const ev of node.services.dht.findProviders(cidOf(i, 'sample'), {
      signal: AbortSignal.timeout(30_000)
    })) {
      if (ev.name === 'PROVIDER' && ev.providers.length > 0 && first === undefined)
        first = performance.now() - s
    }
  } catch (err) {
    console.error(`  findProviders sample ${i}: ${(err as Error).name}`)
  }
  fullMs.push(performance.now() - s)
  if (first !== undefined) {
    firstMs.push(first)
    found++
  }
}

// 3. Sequential provide() of a sample (the baseline), then the Announcer over NARS CIDs.
const seeder = nodes[NODES - 1]!
const seqN = Math.min(Number(values.seq), NARS)
const seqStart = performance.now()
for (let i = 0; i < seqN; i++) {
  try {
    for await (const _ of seeder.services.dht.provide(cidOf(i, 'seq'), {
      signal: AbortSignal.timeout(30_000)
    })) {
      // drain
    }
  } catch (err) {
    console.error(`  sequential provide ${i}: ${(err as Error).name}`)
  }
}
const seqPerCid = (performance.now() - seqStart) / seqN

const announcer = new Announcer(
  { node: seeder },
  values.concurrency !== undefined ? { concurrency: Number(values.concurrency) } : {}
)
announcer.start()
const aStart = performance.now()
let lastReport = aStart
announcer.onOutcome(() => {
  const now = performance.now()
  if (now - lastReport > 10_000) {
    lastReport = now
    const done = announcer.stats.announced + announcer.stats.failed
    console.error(`  announced ${done}/${NARS} in ${((now - aStart) / 1000).toFixed(0)} s`)
  }
})
for (let i = 0; i < NARS; i++) announcer.announce(cidOf(i, 'nar'))
await announcer.onIdle()
const aMs = performance.now() - aStart
announcer.stop()

// 4. Correctness: a fresh node, connected only to the bootstrap node, finds the seeder for random NARs.
const fresh = await createNode({ ...local, dhtServer: false, bootstrap: [bootAddr] })
while (fresh.getConnections().length === 0) await new Promise((r) => setTimeout(r, 100))
const CHECK = Math.min(Number(values.check), NARS)
let foundSeeder = 0
const checkMs: number[] = []
for (let i = 0; i < CHECK; i++) {
  const cid = cidOf(Math.floor(Math.random() * NARS), 'nar')
  const s = performance.now()
  try {
    for await (const ev of fresh.services.dht.findProviders(cid, { signal: AbortSignal.timeout(30_000) })) {
      if (ev.name === 'PROVIDER' && ev.providers.some((p) => p.id.equals(seeder.peerId))) {
        foundSeeder++
        break
      }
    }
  } catch (err) {
    console.error(`  check lookup ${i}: ${(err as Error).name}`)
  }
  checkMs.push(performance.now() - s)
}
await fresh.stop()

console.log(`\nDHT, ${NODES} nodes on loopback in one process, ${SAMPLES} samples, ${JSON.stringify(dht)}`)
console.log('| measure | result |')
console.log('|---|---|')
console.log(
  `| provide() | ${stats(provideMs)}; acks per provide median ${acks.sort((a, b) => a - b)[acks.length >> 1]} |`
)
console.log(`| findProviders, first provider | ${stats(firstMs)} (found ${found}/${SAMPLES}) |`)
console.log(`| findProviders, whole query | ${stats(fullMs)} |`)
console.log(
  `| sequential provide() (baseline) | ${seqPerCid.toFixed(0)} ms per CID → ${((seqPerCid * NARS) / 1000).toFixed(0)} s for ${NARS} |`
)
console.log(
  `| Announcer (sweep), ${NARS} NARs | ${(aMs / 1000).toFixed(0)} s (${(aMs / NARS).toFixed(1)} ms per NAR, ${(seqPerCid / (aMs / NARS)).toFixed(1)}x sequential); announced ${announcer.stats.announced}, failed ${announcer.stats.failed}, retries ${announcer.stats.retries}, acks ${announcer.stats.acks}; ${announcer.sweep.stats.walks} walks, ${announcer.sweep.stats.messages} messages, ${announcer.sweep.stats.errors} errors |`
)
console.log(
  `| fresh node finds the seeder (random announced NARs) | ${foundSeeder}/${CHECK}; ${stats(checkMs)} |`
)
await Promise.all(nodes.map((n) => n.stop()))
process.exit(0)
