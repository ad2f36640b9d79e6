/**
 * Connection setup: how much CPU one libp2p connection costs (dial, encryption handshake, muxer, identify, close)
 * with each encryption narthex offers, both ends in this process, on TCP loopback.
 *
 *   pnpm bench p2p-connect [--connections 200] [--rounds 3]
 *
 * Each round dials and closes `connections` connections per encryption, the encryptions interleaved round by
 * round; reported are the medians over rounds of CPU ms (this process, both ends) and wall ms per connection, and
 * the ratio to noise. 'libp2p-tls' is @libp2p/tls as published (a certificate made for every connection, records
 * through JavaScript); 'tls' is narthex's socket-level TLS (one certificate per node, OpenSSL on the socket).
 */
import '../../apps/cli/src/polyfill.js'
import { parseArgs } from 'node:util'
import type { Encryption } from '@narthex/p2p'
import { loopbackNode } from '../../packages/p2p/test/util.js'

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '3' }
  }
})
const connections = Number(values.connections)
const rounds = Number(values.rounds)
const ENCRYPTIONS: Encryption[] = ['noise', 'tls', 'libp2p-tls']

async function round(encryption: Encryption, n: number): Promise<{ cpuMs: number; wallMs: number }> {
  const [a, b] = [
    await loopbackNode({ encryption: [encryption] }),
    await loopbackNode({ encryption: [encryption] })
  ]
  try {
    const addr = b.getMultiaddrs()[0]!
    // warm-up: the first connections load code and make the TLS certificate
    for (let i = 0; i < 10; i++) await (await a.dial(addr)).close()
    const cpu0 = process.cpuUsage()
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < n; i++) await (await a.dial(addr)).close()
    const wall = Number(process.hrtime.bigint() - t0) / 1e6
    const cpu = process.cpuUsage(cpu0)
    return { cpuMs: (cpu.user + cpu.system) / 1000 / n, wallMs: wall / n }
  } finally {
    await Promise.all([a.stop(), b.stop()])
  }
}

const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!
const results = new Map<Encryption, Array<{ cpuMs: number; wallMs: number }>>(ENCRYPTIONS.map((e) => [e, []]))
console.log(`connection setup: ${connections} connections per encryption and round, ${rounds} rounds`)
for (let r = 0; r < rounds; r++) {
  for (const e of ENCRYPTIONS) results.get(e)!.push(await round(e, connections))
}
const noiseCpu = median(results.get('noise')!.map((x) => x.cpuMs))
console.log(
  '| encryption | CPU ms per connection (both ends) | wall ms per connection | CPU ratio to noise |'
)
console.log(
  '| ---------- | --------------------------------: | ---------------------: | -----------------: |'
)
for (const [e, xs] of results) {
  const cpu = median(xs.map((x) => x.cpuMs))
  const wall = median(xs.map((x) => x.wallMs))
  console.log(`| ${e} | ${cpu.toFixed(2)} | ${wall.toFixed(2)} | ${(cpu / noiseCpu).toFixed(2)} |`)
}
process.exit(0)
