/**
 * Throughput of one NAR download through the swarm downloader, from 1, 2 and 4 seeder processes, against a plain
 * TCP socket and node:http carrying the same bytes, in the same run. Rounds are interleaved; medians reported.
 *
 *   node --import tsx --conditions source bench/p2p/throughput.ts [--size-mib 256] [--rounds 3] [--only a,b]
 *
 * Higher MB/s is better. The downloader's sink discards chunks after verification (the network path is
 * measured, not the disk); every chunk is still hashed against its CID.
 *
 * `tls floor x1`/`x2` is the least any encrypted, verified download can do here: each server process sends its
 * share of the bytes over one node:tls connection (TLS 1.3, OpenSSL on the socket, no libp2p, no multiplexer, no
 * requests), and the client hashes every 64 KiB of each stream with SHA-256 as it arrives, as the downloader
 * verifies chunks.
 */
import '../../apps/cli/src/polyfill.js'
import { type ChildProcess, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { get } from 'node:http'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect as connectTls } from 'node:tls'
import { parseArgs } from 'node:util'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { generateCertificate } from '@libp2p/tls/utils'
import { type ChunkSink, createNode, NarDownload } from '@narthex/p2p'
import { incompressibleBytes } from '../bytes.js'

const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '256' },
    rounds: { type: 'string', default: '3' },
    only: { type: 'string' },
    'warm-up': { type: 'boolean', default: false }
  }
})
const SIZE = Number(values['size-mib']) * 1024 * 1024
const ROUNDS = Number(values.rounds)

interface Scenario {
  readonly name: string
  readonly mode: 'libp2p' | 'tcp' | 'http' | 'helia' | 'tls-floor'
  readonly seeders: number
  readonly options?: Record<string, unknown>
  readonly client?: Record<string, unknown>
  /** Downloader options (NarDownload). */
  readonly download?: Record<string, unknown>
}

const MiB = 1024 * 1024
const noise = { encryption: ['noise'] }
const tls = { encryption: ['tls'] }
/** @libp2p/tls as published (TLS over a JavaScript stream): the same protocol as `tls`, for comparison */
const libp2pTls = { encryption: ['libp2p-tls'] }
/** The downloader's per-peer window before 2026-11-23 evening: 32 MiB in flight, in 4 MiB requests */
const w32M = { peerWindowBytes: 32 * MiB, requestBatchBytes: 4 * MiB }
const win = (w: number) => ({ initialStreamWindowSize: w, maxStreamWindowSize: w })
const scenarios: Scenario[] = [
  { name: 'tcp', mode: 'tcp', seeders: 1 },
  { name: 'http', mode: 'http', seeders: 1 },
  { name: 'helia', mode: 'helia', seeders: 1 },
  { name: 'tls floor x1', mode: 'tls-floor', seeders: 1 },
  { name: 'tls floor x2', mode: 'tls-floor', seeders: 2 },
  { name: 'noise x1', mode: 'libp2p', seeders: 1, options: noise, client: noise },
  { name: 'noise x2', mode: 'libp2p', seeders: 2, options: noise, client: noise },
  { name: 'noise x4', mode: 'libp2p', seeders: 4, options: noise, client: noise },
  { name: 'tls x1', mode: 'libp2p', seeders: 1, options: tls, client: tls },
  { name: 'tls x2', mode: 'libp2p', seeders: 2, options: tls, client: tls },
  { name: 'tls x2 w32M', mode: 'libp2p', seeders: 2, options: tls, client: tls, download: w32M },
  {
    name: 'tls x2 store w32M',
    mode: 'libp2p',
    seeders: 2,
    options: { ...tls, store: true },
    client: tls,
    download: w32M
  },
  { name: 'tls x4', mode: 'libp2p', seeders: 4, options: tls, client: tls },
  { name: 'libp2p-tls x1', mode: 'libp2p', seeders: 1, options: libp2pTls, client: libp2pTls },
  { name: 'libp2p-tls x2', mode: 'libp2p', seeders: 2, options: libp2pTls, client: libp2pTls },
  { name: 'tls x1 store', mode: 'libp2p', seeders: 1, options: { ...tls, store: true }, client: tls },
  { name: 'tls x2 store', mode: 'libp2p', seeders: 2, options: { ...tls, store: true }, client: tls },
  {
    name: 'tls x1 deep',
    mode: 'libp2p',
    seeders: 1,
    options: { ...tls, ...win(16 * MiB) },
    client: { ...tls, yamux: win(16 * MiB) },
    download: w32M
  },
  {
    name: 'tls x2 deep',
    mode: 'libp2p',
    seeders: 2,
    options: { ...tls, ...win(16 * MiB) },
    client: { ...tls, yamux: win(16 * MiB) },
    download: w32M
  },
  {
    // the yamux setting before 2026-11-23 (a 16 MiB initial window, overrunning standard peers); with @libp2p/tls
    // this row is the whole configuration of that time
    name: 'tls x2 win16M',
    mode: 'libp2p',
    seeders: 2,
    options: { ...tls, ...win(16 * MiB) },
    client: { ...tls, yamux: win(16 * MiB) }
  },
  {
    name: 'libp2p-tls x2 win16M',
    mode: 'libp2p',
    seeders: 2,
    options: { ...libp2pTls, ...win(16 * MiB) },
    client: { ...libp2pTls, yamux: win(16 * MiB) }
  },
  {
    name: 'noise x2 win256K',
    mode: 'libp2p',
    seeders: 2,
    options: { ...noise, ...win(256 * 1024) },
    client: { ...noise, yamux: win(256 * 1024) }
  },
  {
    name: 'noise x2 win4M',
    mode: 'libp2p',
    seeders: 2,
    options: { ...noise, ...win(4 * MiB) },
    client: { ...noise, yamux: win(4 * MiB) }
  }
].filter((s) => values.only === undefined || values.only.split(',').includes(s.name)) as Scenario[]

interface Server {
  readonly child: ChildProcess
  readonly info: { port?: number; multiaddr?: string; narHash?: string; root?: string; cid?: string }
}

function startServer(mode: string, file: string, options: object): Promise<Server> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
        ...(process.env.BENCH_IMPORT ? ['--import', process.env.BENCH_IMPORT] : []),
        ...(process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
        ...['--import', 'tsx', '--conditions', 'source', 'bench/p2p/seeder-process.ts', mode, file],
        JSON.stringify(options)
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] }
    )
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) {
        const line = out.slice(0, nl)
        out = out.slice(nl + 1)
        if (line.startsWith('{')) resolve({ child, info: JSON.parse(line) })
        else process.stderr.write(`${line}\n`)
      }
    })
    child.on('exit', (code) => reject(new Error(`server exited ${code}`)))
  })
}

async function stopServers(servers: Server[]): Promise<void> {
  await Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((resolve) => {
          s.child.removeAllListeners('exit')
          s.child.on('exit', () => resolve())
          s.child.stdin!.end()
          setTimeout(() => s.child.kill('SIGKILL'), 5000).unref()
        })
    )
  )
}

function tcpReceive(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let n = 0
    const s = connect(port, '127.0.0.1')
    s.on('data', (d: Buffer) => {
      n += d.byteLength
    })
    s.on('end', () => resolve(n))
    s.on('error', reject)
  })
}

/** The verification unit of the floor: the chunker's average chunk. */
const FLOOR_CHUNK = 64 * 1024

/** One TLS stream, every FLOOR_CHUNK bytes of it (and the rest at the end) hashed as they arrive, without copies. */
function tlsFloorReceive(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let n = 0
    let hash = createHash('sha256')
    let hashed = 0
    const s = connectTls({ port, host: '127.0.0.1', rejectUnauthorized: false })
    s.on('data', (d: Buffer) => {
      n += d.byteLength
      for (let at = 0; at < d.byteLength; ) {
        const take = Math.min(d.byteLength - at, FLOOR_CHUNK - hashed)
        hash.update(d.subarray(at, at + take))
        at += take
        hashed += take
        if (hashed === FLOOR_CHUNK) {
          hash.digest()
          hash = createHash('sha256')
          hashed = 0
        }
      }
    })
    s.on('end', () => {
      if (hashed > 0) hash.digest()
      resolve(n)
    })
    s.on('error', reject)
  })
}

function httpReceive(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/' }, (res) => {
      let n = 0
      res.on('data', (d: Buffer) => {
        n += d.byteLength
      })
      res.on('end', () => resolve(n))
      res.on('error', reject)
    }).on('error', reject)
  })
}

const nullSink: ChunkSink = {
  hasChunk: async () => false,
  getChunk: async () => undefined,
  putChunk: async () => {},
  commitNar: async () => {}
}

async function p2pReceive(
  servers: Server[],
  client: Record<string, unknown>,
  download: Record<string, unknown>
): Promise<number> {
  const node = await createNode({ allowPrivateAddresses: true, allow: ['/ip4/127.0.0.1'], ...client })
  try {
    const { multiaddr } = await import('@multiformats/multiaddr')
    for (const s of servers) await node.dial(multiaddr(s.info.multiaddr!))
    const dl = new NarDownload({ node, sink: nullSink }, servers[0]!.info.narHash!, {
      manifestRoot: servers[0]!.info.root!,
      ...download,
      providers: { connectedOnly: true }
    })
    let n = 0
    for await (const b of dl.bytes()) n += b.byteLength
    return n
  } finally {
    await node.stop()
  }
}

async function heliaReceive(server: Server): Promise<number> {
  const { startHelia } = await import('./helia.js')
  const { unixfs } = await import('@helia/unixfs')
  const { multiaddr } = await import('@multiformats/multiaddr')
  const { CID } = await import('multiformats/cid')
  const helia = await startHelia([])
  try {
    await helia.libp2p.dial(multiaddr(server.info.multiaddr!))
    let n = 0
    for await (const b of unixfs(helia).cat(CID.parse(server.info.cid!))) n += b.byteLength
    return n
  } finally {
    await helia.stop()
  }
}

function receive(sc: Scenario, servers: Server[]): Promise<number> {
  if (sc.mode === 'tls-floor') {
    return Promise.all(servers.map((s) => tlsFloorReceive(s.info.port!))).then((ns) =>
      ns.reduce((a, b) => a + b)
    )
  }
  return sc.mode === 'tcp'
    ? tcpReceive(servers[0]!.info.port!)
    : sc.mode === 'http'
      ? httpReceive(servers[0]!.info.port!)
      : sc.mode === 'helia'
        ? heliaReceive(servers[0]!)
        : p2pReceive(servers, sc.client ?? {}, sc.download ?? {})
}

const TICK = 100 // USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s on Linux

/** CPU seconds (user + system, all threads) the server processes have used. */
async function serversCpu(servers: Server[]): Promise<number> {
  let total = 0
  for (const s of servers) {
    const stat = await readFile(`/proc/${s.child.pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    total += (Number(f[11]) + Number(f[12])) / TICK
  }
  return total
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

const dir = await mkdtemp(join(tmpdir(), 'narthex-bench-p2p-'))
const file = join(dir, 'nar.bin')
await writeFile(file, incompressibleBytes(SIZE))
/** The floor servers' certificate and key: made as libp2p's TLS makes a node's (P-256, signed by an Ed25519 identity). */
const floorTls = await (async () => {
  const { cert, key } = await generateCertificate(await generateKeyPair('Ed25519'))
  const tlsCert = join(dir, 'floor-cert.pem')
  const tlsKey = join(dir, 'floor-key.pem')
  await writeFile(tlsCert, cert)
  await writeFile(tlsKey, key)
  return { tlsCert, tlsKey }
})()
const results = new Map<string, number[]>()
const cpu = new Map<string, number[]>()
const serverCpu = new Map<string, number[]>()
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const sc of scenarios) {
      const servers = await Promise.all(
        Array.from({ length: sc.seeders }, (_, part) =>
          startServer(sc.mode, file, { ...sc.options, ...floorTls, part, parts: sc.seeders })
        )
      )
      try {
        // Long-running seeders have compiled their hot code long before a download; a server process started
        // for the round has not. --warm-up runs one untimed download from the same servers first.
        if (values['warm-up']) await receive(sc, servers)
        const cpu0 = process.cpuUsage()
        const servers0 = await serversCpu(servers)
        const t0 = process.hrtime.bigint()
        const n = await receive(sc, servers)
        const s = Number(process.hrtime.bigint() - t0) / 1e9
        const c = process.cpuUsage(cpu0)
        const sc1 = (await serversCpu(servers)) - servers0
        if (n !== SIZE) throw new Error(`${sc.name}: got ${n} of ${SIZE} bytes`)
        const mbps = SIZE / 1e6 / s
        ;(results.get(sc.name) ?? results.set(sc.name, []).get(sc.name)!).push(mbps)
        ;(cpu.get(sc.name) ?? cpu.set(sc.name, []).get(sc.name)!).push(
          (c.user + c.system) / 1e6 / (SIZE / 2 ** 30)
        )
        ;(serverCpu.get(sc.name) ?? serverCpu.set(sc.name, []).get(sc.name)!).push(sc1 / (SIZE / 2 ** 30))
        console.error(`round ${round + 1} ${sc.name.padEnd(18)} ${mbps.toFixed(0).padStart(5)} MB/s`)
      } finally {
        await stopServers(servers)
      }
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true })
}

const http = median(results.get('http') ?? [Number.NaN])
console.log(
  `\n${SIZE / MiB} MiB, ${ROUNDS} interleaved rounds, medians (CPU-s per GiB: the client process; all server processes together)`
)
console.log('| path | MB/s | vs node:http | client CPU-s/GiB | servers CPU-s/GiB |')
console.log('|---|---|---|---|---|')
for (const sc of scenarios) {
  const m = median(results.get(sc.name)!)
  console.log(
    `| ${sc.name} | ${m.toFixed(0)} | ${(m / http).toFixed(2)} | ${median(cpu.get(sc.name)!).toFixed(1)} | ${median(serverCpu.get(sc.name)!).toFixed(1)} |`
  )
}
process.exit(0)
