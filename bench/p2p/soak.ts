/**
 * The churn soak, as long as you like (docs/reliability.md item 22; the ~60 s version is test/soak.spec.ts).
 *
 *   pnpm bench p2p-soak [--minutes 5] [--honest 4] [--malicious bitflip,truncate,stall-mid-chunk,reset]
 *                       [--restart-every-s 4] [--nars 16] [--max-nar-mib 3] [--concurrency 2]
 *
 * Prints progress every 10 s, then the success rate, the memory slopes and the file-descriptor range of the
 * client, the long-lived seeder and the swarm process (see soak-harness.ts). Exits 1 when a download failed, a bad
 * chunk was accepted, an honest peer was banned or a process crashed.
 */
import '../../apps/cli/src/polyfill.js'
import { loadavg as osLoadavg } from 'node:os'
import { parseArgs } from 'node:util'
import type { Behaviour } from '../../packages/p2p/test/malicious.js'
import { formatReport, runSoak } from './soak-harness.js'

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '5' },
    honest: { type: 'string', default: '4' },
    malicious: { type: 'string', default: 'bitflip,truncate,stall-mid-chunk,reset' },
    'restart-every-s': { type: 'string', default: '4' },
    nars: { type: 'string', default: '16' },
    'max-nar-mib': { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '2' },
    'warmup-s': { type: 'string', default: '20' }
  }
})

const durationMs = Number(values.minutes) * 60_000
const started = Date.now()
console.log(`churn soak: ${values.minutes} min, load average ${loadavg()}`)
const report = await runSoak({
  durationMs,
  warmupMs: Number(values['warmup-s']) * 1000,
  nars: { count: Number(values.nars), maxBytes: Number(values['max-nar-mib']) * 1024 * 1024 },
  honest: Number(values.honest),
  malicious: values.malicious === '' ? [] : (values.malicious.split(',') as Behaviour[]),
  restartEveryMs: Number(values['restart-every-s']) * 1000,
  concurrency: Number(values.concurrency),
  stallTimeoutMs: 2000,
  downloadTimeoutMs: 60_000,
  log: (l) => console.log(`  ${l}`)
})
for (const line of formatReport(report)) console.log(line)
console.log(`wall ${((Date.now() - started) / 1000).toFixed(0)} s, load average ${loadavg()}`)
process.exit(
  report.failed === 0 &&
    report.badChunksAccepted === 0 &&
    report.honestBanned === 0 &&
    report.exited.length === 0
    ? 0
    : 1
)

function loadavg(): string {
  return osLoadavg()
    .map((l) => l.toFixed(2))
    .join(' ')
}
