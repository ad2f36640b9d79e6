#!/usr/bin/env node
// `pnpm bench [NAME] [ARGS...]`: lists the benchmarks, or builds the workspace and runs one of them with its
// arguments. Each benchmark compares narthex with a baseline in the same run; see bench/<area>/README.md.
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const BENCHMARKS = {
  nar: ['bench/nar/run.ts', 'narthex nar dump / nar hash vs nix-store --dump (| sha256sum)'],
  narinfo: ['bench/narinfo/narinfo.bench.ts', 'narinfo parse/format/sign/verify vs JSON and raw ed25519'],
  'store-import': [
    'bench/store/import-throughput.ts',
    'store import of a 256 MiB NAR vs SHA-256 and disk baselines'
  ],
  'store-serve': [
    'bench/store/serve-reads.ts',
    'chunk reads for serving: getChunks groups vs getChunk one by one vs one readFile + SHA-256'
  ],
  'store-dedup': ['bench/store/dedup.ts', 'stored bytes of two releases of a real tree, three chunkers'],
  'orchestrator-ingest': ['bench/orchestrator/ingest.bench.ts', 'attestations per second with verification'],
  'orchestrator-narinfo': ['bench/orchestrator/narinfo.bench.ts', 'narinfo requests/s and latency vs nginx'],
  'p2p-throughput': ['bench/p2p/throughput.ts', 'swarm download from 1/2/4 seeders vs TCP, node:http, Helia'],
  'p2p-connect': [
    'bench/p2p/connect.ts',
    'CPU per libp2p connection: socket-level TLS vs @libp2p/tls vs noise'
  ],
  'p2p-small': [
    'bench/p2p/small-nars.ts',
    'many small NARs from one seeder: a fetch stream per download vs sessions kept in a SessionPool'
  ],
  'p2p-dht': ['bench/p2p/dht.ts', 'provide/findProviders latency in a 20-node DHT; announcing 10,000 NARs'],
  'p2p-soak': [
    'bench/p2p/soak.ts',
    'churn soak: honest, malicious and restarting seeders, a client downloading for N minutes'
  ],
  shim: ['bench/shim/run.ts', 'nix-store -r through the shim vs a static binary cache'],
  substitute: [
    'bench/substitute/run.ts',
    'nix-store -r from two seeders through the shim vs nginx: 256 MiB NAR and 501 paths, cold and warm'
  ]
}

const [name, ...args] = process.argv.slice(2)
if (name === undefined || BENCHMARKS[name] === undefined) {
  console.log('Usage: pnpm bench NAME [ARGS...]\n')
  for (const [n, [file, what]] of Object.entries(BENCHMARKS))
    console.log(`  ${n.padEnd(22)} ${what}  (${file})`)
  process.exit(name === undefined ? 0 : 2)
}
const build = spawnSync('pnpm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' })
if (build.status !== 0) process.exit(build.status ?? 1)
const r = spawnSync(
  process.execPath,
  ['--conditions=source', '--import', 'tsx', join(root, BENCHMARKS[name][0]), ...args],
  { cwd: root, stdio: 'inherit' }
)
process.exit(r.status ?? 1)
