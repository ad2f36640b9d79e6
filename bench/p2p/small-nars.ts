/**
 * Many small NARs in a row from one seeder, as a shim substituting a closure fetches them: each download with its
 * own fetch stream (what every download did before SessionPool) against downloads that keep their session in a
 * SessionPool, in the same run, interleaved. Both nodes are in this process (TLS on loopback TCP), so the CPU
 * figure is both ends together.
 *
 *   node --import tsx --conditions source bench/p2p/small-nars.ts [--nars 500] [--rounds 4]
 *
 * Lower is better. The first round of each is a warm-up (the JIT), not counted.
 */
import '../../apps/cli/src/polyfill.js'
import { parseArgs } from 'node:util'
import { FetchServer, NarDownload, SessionPool } from '@narthex/p2p'
import {
  collect,
  loopbackNode,
  MemoryStore,
  pseudoRandomBytes,
  seedBlob
} from '../../packages/p2p/test/util.js'

const { values } = parseArgs({
  options: {
    nars: { type: 'string', default: '500' },
    rounds: { type: 'string', default: '4' }
  }
})
const N = Number(values.nars)
const ROUNDS = Number(values.rounds)

const seeder = await loopbackNode()
const store = new MemoryStore()
const nars: { narHash: string; root: string; size: number }[] = []
for (let i = 0; i < N; i++) {
  // 150-199 bytes: the size of most NARs in the substitute benchmark's closure (a tiny text file each)
  const r = await seedBlob(pseudoRandomBytes(150 + (i % 50), i + 1), [store])
  nars.push({ narHash: r.narHash, root: r.root.toString(), size: r.narSize })
}
const server = new FetchServer({ node: seeder, source: store })
await server.start()
const client = await loopbackNode()
await client.dial(seeder.getMultiaddrs()[0]!)

async function series(sessions: SessionPool | undefined): Promise<{ wallMs: number; cpuMs: number }> {
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  for (const n of nars) {
    const d = new NarDownload(
      { node: client, sink: new MemoryStore(), ...(sessions === undefined ? {} : { sessions }) },
      n.narHash,
      { manifestRoot: n.root, narSize: n.size, providers: { connectedOnly: true } }
    )
    const bytes = await collect(d.bytes())
    if (bytes.length !== n.size) throw new Error(`got ${bytes.length} bytes of ${n.size}`)
  }
  const c = process.cpuUsage(c0)
  return { wallMs: (performance.now() - t0) / N, cpuMs: (c.user + c.system) / 1000 / N }
}

const results: Record<string, Array<{ wallMs: number; cpuMs: number }>> = {
  'a stream each': [],
  'kept sessions': []
}
for (let round = 0; round < ROUNDS; round++) {
  for (const name of round % 2 === 0
    ? ['a stream each', 'kept sessions']
    : ['kept sessions', 'a stream each']) {
    const pool = name === 'kept sessions' ? new SessionPool() : undefined
    const r = await series(pool)
    await pool?.stop()
    console.error(
      `round ${round + 1} ${name.padEnd(14)} ${r.cpuMs.toFixed(2)} ms CPU, ${r.wallMs.toFixed(2)} ms wall per NAR`
    )
    if (round > 0) results[name]!.push(r)
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
const base = median(results['a stream each']!.map((r) => r.cpuMs))
console.log(
  `\n${N} NARs of 150-199 bytes from one seeder, ${ROUNDS - 1} counted rounds (after one warm-up), medians per NAR\n`
)
console.log('| downloads | CPU ms per NAR (both ends) | wall ms per NAR | CPU vs a stream each |')
console.log('|---|---|---|---|')
for (const [name, rs] of Object.entries(results)) {
  const cpu = median(rs.map((r) => r.cpuMs))
  console.log(
    `| ${name} | ${cpu.toFixed(2)} | ${median(rs.map((r) => r.wallMs)).toFixed(2)} | ${(cpu / base).toFixed(2)} |`
  )
}
await client.stop()
await seeder.stop()
