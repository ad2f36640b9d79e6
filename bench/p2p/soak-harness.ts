/**
 * The bounded churn soak (docs/reliability.md item 22), shared by test/soak.spec.ts (~60 s) and bench/p2p/soak.ts
 * (configurable length).
 *
 * Three processes on TCP loopback:
 * - the swarm (soak-node.ts `swarm`): the bootstrap node, honest seeders, malicious seeders and one honest seeder
 *   restarted every few seconds (identity and datastore on disk, same port), all libp2p nodes in one process;
 * - one long-lived honest seeder in a process of its own (soak-node.ts `seeder`), so that its memory and file
 *   descriptors are its own;
 * - this process: the client, a DHT client node that downloads the NARs round-robin with the swarm downloader
 *   (`concurrency` at once, a fresh PeerScores per download so the malicious peers are met again and again),
 *   checking every NAR's bytes against its NarHash.
 *
 * Every process samples its heap (after a forced GC), RSS and open file descriptors (/proc/self/fd) once a second;
 * the report gives a least-squares slope of each after the warm-up.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { sameNarHash } from '@narthex/content'
import { formatSha256 } from '@narthex/nix'
import { type ChunkSink, createNode, NarDownload, type NarthexNode, PeerScores } from '@narthex/p2p'
import type { Behaviour } from '../../packages/p2p/test/malicious.js'
import { MemoryStore } from '../../packages/p2p/test/util.js'
import { makeSoakNars, type SoakNar, type SoakNarSpec, type SoakNodeOptions } from './soak-nars.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

export interface SoakOptions {
  readonly durationMs: number
  /** Samples before this are the warm-up, left out of the slopes and fd bounds. */
  readonly warmupMs: number
  readonly nars: SoakNarSpec
  readonly honest: number
  readonly malicious: readonly Behaviour[]
  readonly restartEveryMs: number
  /** Downloads in flight at once. */
  readonly concurrency: number
  /** The downloader's stall timeout (a stalling peer costs this much before its work moves). */
  readonly stallTimeoutMs: number
  /** One download that takes longer than this counts as failed. */
  readonly downloadTimeoutMs: number
  readonly log?: (line: string) => void
}

export interface Sample {
  readonly t: number
  readonly rss: number
  readonly heapUsed: number
  readonly fds: number
}

export interface Series {
  readonly samples: Sample[]
  /** Least-squares slopes after the warm-up, in MiB per minute. */
  readonly heapSlopeMiBPerMin: number
  readonly rssSlopeMiBPerMin: number
  /** Least-squares slope of the open file descriptors after the warm-up, per minute. */
  readonly fdSlopePerMin: number
  /** File descriptors: first sample after warm-up, min, max, last. */
  readonly fds: { readonly first: number; readonly min: number; readonly max: number; readonly last: number }
  readonly heapMiB: { readonly first: number; readonly last: number }
  readonly rssMiB: { readonly first: number; readonly last: number }
}

export interface SoakReport {
  readonly nodes: number
  readonly downloads: number
  readonly ok: number
  readonly failed: number
  readonly failures: Record<string, number>
  /** The first few failures' messages (name: message), so a failed run says what happened. */
  readonly failureMessages: readonly string[]
  readonly successRate: number
  readonly bytes: number
  readonly restarts: number
  /** Child processes that exited before the soak ended ("seeder exited 1"): a crash. */
  readonly exited: readonly string[]
  readonly restartMs: { readonly median: number; readonly max: number }
  readonly badChunksDetected: number
  readonly badChunksAccepted: number
  readonly honestBanned: number
  readonly maliciousBanned: number
  readonly stalls: number
  readonly resets: number
  readonly downloadMs: { readonly median: number; readonly p95: number; readonly max: number }
  readonly client: Series
  readonly seeder: Series
  readonly swarm: Series
}

interface Child {
  readonly child: ChildProcess
  readonly samples: Sample[]
  readonly ready: Promise<Record<string, unknown>>
  readonly restarts: number
  /** How it exited, when it did before being stopped. */
  readonly exited: string | undefined
  /** How long each restart of the churn seeder took (stop, start, listening again). */
  readonly restartMs: number[]
}

function startChild(options: SoakNodeOptions, log: (l: string) => void): Child {
  const child = spawn(
    process.execPath,
    [
      '--expose-gc',
      ...['--import', 'tsx', '--conditions', 'source', join(ROOT, 'bench/p2p/soak-node.ts')],
      JSON.stringify(options)
    ],
    { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] }
  )
  const samples: Sample[] = []
  const restartMs: number[] = []
  let restarts = 0
  let exited: string | undefined
  child.on('exit', (code, signal) => {
    exited = `${options.role} exited ${code ?? signal}`
  })
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    let buf = ''
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString()
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = JSON.parse(buf.slice(0, nl)) as Record<string, unknown>
        buf = buf.slice(nl + 1)
        if (line.type === 'ready') resolve(line)
        else if (line.type === 'sample') samples.push(line as unknown as Sample)
        else if (line.type === 'restart') {
          restarts = line.restarts as number
          restartMs.push(line.ms as number)
        } else if (line.type === 'error') log(`${options.role}: ${line.message as string}`)
      }
    })
    child.on('exit', (code, signal) => reject(new Error(`${options.role} exited ${code ?? signal}`)))
  })
  ready.catch(() => {})
  return {
    child,
    samples,
    ready,
    restartMs,
    get restarts() {
      return restarts
    },
    get exited() {
      return exited
    }
  }
}

function stopChild(c: Child): Promise<void> {
  return new Promise((resolve) => {
    if (c.child.exitCode !== null || c.child.signalCode !== null) return resolve()
    c.child.removeAllListeners('exit')
    c.child.on('exit', () => resolve())
    c.child.stdin!.end()
    setTimeout(() => c.child.kill('SIGKILL'), 10_000).unref()
  })
}

/** A sink that keeps nothing: every download fetches every chunk again. */
const nullSink: ChunkSink = {
  hasChunk: async () => false,
  getChunk: async () => undefined,
  putChunk: async () => {},
  commitNar: async () => {}
}

const MiB = 1024 * 1024
/** How many failure messages a report keeps. */
const MAX_FAILURE_MESSAGES = 5

function slope(points: Array<[number, number]>): number {
  const n = points.length
  if (n < 2) return 0
  let sx = 0
  let sy = 0
  for (const [x, y] of points) {
    sx += x
    sy += y
  }
  const mx = sx / n
  const my = sy / n
  let num = 0
  let den = 0
  for (const [x, y] of points) {
    num += (x - mx) * (y - my)
    den += (x - mx) ** 2
  }
  return den === 0 ? 0 : num / den
}

export function summarise(samples: Sample[], warmupMs: number): Series {
  const after = samples.filter((s) => s.t >= warmupMs)
  const use = after.length >= 2 ? after : samples
  const perMin = (f: (s: Sample) => number) => slope(use.map((s) => [s.t / 60_000, f(s) / MiB]))
  const fds = use.map((s) => s.fds)
  return {
    samples,
    heapSlopeMiBPerMin: perMin((s) => s.heapUsed),
    rssSlopeMiBPerMin: perMin((s) => s.rss),
    fdSlopePerMin: slope(use.map((s) => [s.t / 60_000, s.fds])),
    fds: {
      first: fds[0] ?? 0,
      min: Math.min(...fds),
      max: Math.max(...fds),
      last: fds[fds.length - 1] ?? 0
    },
    heapMiB: { first: (use[0]?.heapUsed ?? 0) / MiB, last: (use[use.length - 1]?.heapUsed ?? 0) / MiB },
    rssMiB: { first: (use[0]?.rss ?? 0) / MiB, last: (use[use.length - 1]?.rss ?? 0) / MiB }
  }
}

function exposeGc(): () => void {
  setFlagsFromString('--expose-gc')
  return runInNewContext('gc') as () => void
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

/** Run the soak; resolves with the figures (nothing is asserted here). */
export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const log = o.log ?? (() => {})
  const base = { nars: o.nars, honest: o.honest, malicious: o.malicious, restartEveryMs: o.restartEveryMs }
  const nars: SoakNar[] = await makeSoakNars(o.nars, [new MemoryStore()])
  const swarm = startChild({ role: 'swarm', ...base }, log)
  let seeder: Child | undefined
  let client: NarthexNode | undefined
  try {
    const ready = (await swarm.ready) as {
      bootstrap: string
      honest: string[]
      malicious: Record<string, Behaviour>
      addrs: string[]
    }
    log(`swarm ready: ${ready.honest.length} honest, ${Object.keys(ready.malicious).length} malicious`)
    seeder = startChild({ role: 'seeder', ...base, bootstrap: ready.bootstrap }, log)
    const seederInfo = (await seeder.ready) as { peerId: string }
    const honest = new Set([...ready.honest, seederInfo.peerId])
    const malicious = new Set(Object.keys(ready.malicious))
    client = await createNode({
      allowPrivateAddresses: true,
      allow: ['/ip4/127.0.0.1'],
      bootstrap: [ready.bootstrap]
    })
    const node = client
    // Like a shim that used them before: connected to every seeder at the start, so the malicious ones are met
    // from the first download on (discovery tries connected peers first, then the DHT).
    const { multiaddr } = await import('@multiformats/multiaddr')
    await Promise.all(ready.addrs.map((a) => node.dial(multiaddr(a)).catch(() => {})))

    const gc = exposeGc()
    const t0 = Date.now()
    const clientSamples: Sample[] = []
    const sample = (): void => {
      gc()
      const m = process.memoryUsage()
      clientSamples.push({
        t: Date.now() - t0,
        rss: m.rss,
        heapUsed: m.heapUsed,
        fds: readdirSync('/proc/self/fd').length
      })
    }
    sample()
    const sampler = setInterval(sample, 1000)

    let downloads = 0
    let ok = 0
    let bytes = 0
    let badDetected = 0
    let badAccepted = 0
    let stalls = 0
    let resets = 0
    const failures: Record<string, number> = {}
    const failureMessages: string[] = []
    const bannedHonest = new Set<string>()
    const bannedMalicious = new Set<string>()
    const times: number[] = []
    let next = 0

    const one = async (): Promise<void> => {
      const nar = nars[next++ % nars.length]!
      const scores = new PeerScores()
      const started = Date.now()
      const dl = new NarDownload({ node, sink: nullSink, scores }, nar.narHash, {
        manifestRoot: nar.root,
        stallTimeoutMs: o.stallTimeoutMs,
        signal: AbortSignal.timeout(o.downloadTimeoutMs)
      })
      downloads++
      try {
        const hash = createHash('sha256')
        let size = 0
        for await (const b of dl.bytes()) {
          hash.update(b)
          size += b.byteLength
        }
        if (size !== nar.size || !sameNarHash(formatSha256(hash.digest()), nar.narHash)) {
          throw Object.assign(new Error('bytes differ'), { name: 'WrongBytes' })
        }
        ok++
        bytes += size
        times.push(Date.now() - started)
      } catch (err) {
        const name = (err as Error).name
        failures[name] = (failures[name] ?? 0) + 1
        if (failureMessages.length < MAX_FAILURE_MESSAGES) {
          failureMessages.push(`${name}: ${(err as Error).message} (after ${Date.now() - started} ms)`)
        }
        log(`download ${nar.narHash.slice(0, 20)} failed: ${name}: ${(err as Error).message}`)
      } finally {
        badDetected += dl.stats.badChunks
        badAccepted += dl.stats.badChunksAccepted
        stalls += dl.stats.stalls
        resets += dl.stats.resets
        for (const b of scores.banned()) {
          if (honest.has(b.peer)) bannedHonest.add(b.peer)
          if (malicious.has(b.peer)) bannedMalicious.add(b.peer)
        }
      }
    }

    const deadline = t0 + o.durationMs
    let lastLog = 0
    await Promise.all(
      Array.from({ length: o.concurrency }, async () => {
        while (Date.now() < deadline) {
          await one()
          if (Date.now() - lastLog > 10_000) {
            lastLog = Date.now()
            const last = clientSamples[clientSamples.length - 1]!
            log(
              `${Math.round((Date.now() - t0) / 1000)} s: ${ok}/${downloads} ok, ${swarm.restarts} restarts, ` +
                `client heap ${(last.heapUsed / MiB).toFixed(1)} MiB, fds ${last.fds}`
            )
          }
        }
      })
    )
    clearInterval(sampler)
    sample()
    times.sort((a, b) => a - b)
    return {
      nodes: 1 + ready.honest.length + Object.keys(ready.malicious).length + 2,
      downloads,
      ok,
      failed: downloads - ok,
      failures,
      failureMessages,
      successRate: downloads === 0 ? 0 : ok / downloads,
      bytes,
      restarts: swarm.restarts,
      exited: [swarm.exited, seeder.exited].filter((e) => e !== undefined),
      restartMs: {
        median: quantile(
          [...swarm.restartMs].sort((a, b) => a - b),
          0.5
        ),
        max: Math.max(0, ...swarm.restartMs)
      },
      badChunksDetected: badDetected,
      badChunksAccepted: badAccepted,
      honestBanned: bannedHonest.size,
      maliciousBanned: bannedMalicious.size,
      stalls,
      resets,
      downloadMs: {
        median: quantile(times, 0.5),
        p95: quantile(times, 0.95),
        max: times[times.length - 1] ?? 0
      },
      client: summarise(clientSamples, o.warmupMs),
      seeder: summarise(seeder.samples, o.warmupMs),
      swarm: summarise(swarm.samples, o.warmupMs)
    }
  } finally {
    await Promise.resolve(client?.stop()).catch(() => {})
    await Promise.all([swarm, seeder].filter((c) => c !== undefined).map((c) => stopChild(c)))
  }
}

/** The report as text lines (printed by the test and the bench). */
export function formatReport(r: SoakReport): string[] {
  const series = (name: string, s: Series) =>
    `${name.padEnd(7)} heap ${s.heapMiB.first.toFixed(1)} → ${s.heapMiB.last.toFixed(1)} MiB ` +
    `(slope ${s.heapSlopeMiBPerMin.toFixed(2)} MiB/min), RSS ${s.rssMiB.first.toFixed(0)} → ` +
    `${s.rssMiB.last.toFixed(0)} MiB (slope ${s.rssSlopeMiBPerMin.toFixed(2)} MiB/min), fds ` +
    `${s.fds.first} → ${s.fds.last} (min ${s.fds.min}, max ${s.fds.max}, slope ${s.fdSlopePerMin.toFixed(1)}/min)`
  return [
    `${r.nodes} nodes; ${r.downloads} downloads, ${r.ok} ok (${(r.successRate * 100).toFixed(1)} %), ` +
      `${(r.bytes / MiB).toFixed(0)} MiB; failures ${JSON.stringify(r.failures)}; churn restarts ${r.restarts} ` +
      `(median ${r.restartMs.median} ms, max ${r.restartMs.max} ms)`,
    `bad chunks detected ${r.badChunksDetected}, accepted ${r.badChunksAccepted}; banned malicious ` +
      `${r.maliciousBanned}, honest ${r.honestBanned}; stalls ${r.stalls}, resets ${r.resets}; download ms ` +
      `median ${r.downloadMs.median}, p95 ${r.downloadMs.p95}, max ${r.downloadMs.max}`,
    ...r.failureMessages.map((m) => `failed: ${m}`),
    ...r.exited.map((e) => `crashed: ${e}`),
    series('client', r.client),
    series('seeder', r.seeder),
    series('swarm', r.swarm)
  ]
}
