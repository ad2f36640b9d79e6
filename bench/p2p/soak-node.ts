/**
 * A process of the churn soak (soak-harness.ts). Holds the soak's NAR set in memory and runs one of two roles,
 * printing JSON lines on stdout; exits when stdin closes.
 *
 *   node --expose-gc --import tsx --conditions source bench/p2p/soak-node.ts OPTIONS_JSON
 *
 * - `swarm`: the bootstrap node, `honest` honest seeders, one malicious seeder per entry of `malicious` (the
 *   test-only behaviours of packages/p2p/test/malicious.ts), and one honest "churn" seeder that is stopped and
 *   started again (same identity, same port) every `restartEveryMs`. Every seeder announces every NAR.
 * - `seeder`: one long-lived honest seeder bootstrapped from `bootstrap`, watched for leaks.
 *
 * Lines: {"type":"ready",...} once every announcement is done, {"type":"sample",...} every `sampleMs` (memory after
 * a forced GC, open file descriptors), {"type":"restart",...} after each restart of the churn seeder.
 */
import '../../apps/cli/src/polyfill.js'
import { readdirSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { narCidFromNarHash } from '@narthex/content'
import { Announcer, FetchServer, type NarthexNode, type NodeInit } from '@narthex/p2p'
import { type Behaviour, startMaliciousServer } from '../../packages/p2p/test/malicious.js'
import { loopbackNode, MemoryStore } from '../../packages/p2p/test/util.js'
import { makeSoakNars, type SoakNodeOptions } from './soak-nars.js'

const options = JSON.parse(process.argv[2] ?? '{}') as SoakNodeOptions
const gc = (globalThis as { gc?: () => void }).gc

function emit(line: object): void {
  process.stdout.write(`${JSON.stringify(line)}\n`)
}

const store = new MemoryStore()
const nars = await makeSoakNars(options.nars, [store])

interface Seeder {
  node: NarthexNode
  announcer: Announcer
}

async function startSeeder(init: NodeInit, behaviour?: Behaviour): Promise<Seeder> {
  const node = await loopbackNode({
    dhtServer: true,
    ...(options.bootstrap !== undefined ? { bootstrap: [options.bootstrap] } : {}),
    ...init
  })
  if (behaviour === undefined) await new FetchServer({ node, source: store }).start()
  else await startMaliciousServer(node, store, behaviour)
  const announcer = new Announcer({ node })
  announcer.start()
  for (const n of nars) announcer.announce(narCidFromNarHash(n.narHash))
  return { node, announcer }
}

async function stopSeeder(s: Seeder): Promise<void> {
  s.announcer.stop()
  await s.node.stop()
}

process.stdin.resume()
const done = new Promise((resolve) => process.stdin.on('close', resolve).on('end', resolve))
const seeders: Seeder[] = []
let restarts = 0
let restartTimer: NodeJS.Timeout | undefined
let restarting = (): boolean => false
let cleanup = async (): Promise<void> => {}

if (options.role === 'seeder') {
  seeders.push(await startSeeder({}))
  await seeders[0]!.announcer.onIdle()
  emit({
    type: 'ready',
    peerId: seeders[0]!.node.peerId.toString(),
    failed: seeders[0]!.announcer.stats.failed
  })
} else {
  const boot = await loopbackNode({ dhtServer: true, connections: { max: 1000, inboundPerSecond: 1000 } })
  options.bootstrap = boot.getMultiaddrs()[0]!.toString()
  const honest: string[] = []
  const malicious: Record<string, Behaviour> = {}
  for (let i = 0; i < options.honest; i++) {
    const s = await startSeeder({})
    seeders.push(s)
    honest.push(s.node.peerId.toString())
  }
  for (const b of options.malicious) {
    const s = await startSeeder({}, b)
    seeders.push(s)
    malicious[s.node.peerId.toString()] = b
  }
  // The churn seeder restarts like a real one: identity and DHT datastore (level) on disk, the same port.
  const churnDir = await mkdtemp(join(tmpdir(), 'narthex-soak-churn-'))
  let churn = await startSeeder({ dataDir: churnDir })
  const churnAddr = churn.node.getMultiaddrs()[0]!.toString()
  honest.push(churn.node.peerId.toString())
  await Promise.all([...seeders, churn].map((s) => s.announcer.onIdle()))
  const failed = [...seeders, churn].reduce((n, s) => n + s.announcer.stats.failed, 0)
  const addrs = [...seeders, churn].map((s) => s.node.getMultiaddrs()[0]!.toString())
  emit({ type: 'ready', bootstrap: options.bootstrap, honest, malicious, failed, addrs })
  restarting = () => busy
  let busy = false
  restartTimer = setInterval(() => {
    if (busy || options.restartEveryMs <= 0) return
    busy = true
    const t0 = Date.now()
    stopSeeder(churn)
      .then(() => startSeeder({ dataDir: churnDir, listen: [churnAddr] }))
      .then((s) => {
        churn = s
        restarts++
        emit({ type: 'restart', restarts, ms: Date.now() - t0, peerId: s.node.peerId.toString() })
      })
      .catch((err) => emit({ type: 'error', message: (err as Error).message }))
      .finally(() => {
        busy = false
      })
  }, options.restartEveryMs)
  seeders.push({ node: boot, announcer: new Announcer({ node: boot }) })
  cleanup = async () => {
    await stopSeeder(churn).catch(() => {})
    await rm(churnDir, { recursive: true, force: true })
  }
}

const t0 = Date.now()
const sampler = setInterval(() => {
  gc?.()
  const m = process.memoryUsage()
  emit({
    type: 'sample',
    t: Date.now() - t0,
    rss: m.rss,
    heapUsed: m.heapUsed,
    external: m.external,
    fds: readdirSync('/proc/self/fd').length,
    connections: seeders[0]!.node.getConnections().length
  })
}, options.sampleMs ?? 1000)

await done
clearInterval(sampler)
clearInterval(restartTimer)
while (restarting()) await new Promise((r) => setTimeout(r, 50))
await Promise.all(seeders.map((s) => stopSeeder(s).catch(() => {})))
await cleanup()
process.exit(0)
