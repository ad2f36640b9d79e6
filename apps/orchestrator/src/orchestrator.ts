/**
 * The orchestrator: composes the store, the service, the HTTP server and the libp2p bootstrap node, and gives
 * them a start()/stop() lifecycle.
 */
import { mkdir, readFile } from 'node:fs/promises'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { formatCacheInfo, parseSecretKey, type SecretKey } from '@narthex/nix'
import createDebug from 'debug'
import type { OrchestratorConfig } from './config.js'
import { SHUTDOWN_GRACE_MS, STORE_DIR } from './constants.js'
import { InvalidConfigError } from './errors.js'
import type { P2PInfo } from './http/routes.js'
import { createHttpServer } from './http/server.js'
import { EventStreams } from './http/sse.js'
import { StaticAssets } from './http/static.js'
import { Metrics } from './metrics.js'
import { Service } from './service.js'
import { Store } from './store.js'

const log = createDebug('narthex:orchestrator')

/** A running libp2p node, as the orchestrator needs it. */
export interface BootstrapNode {
  info(): P2PInfo
  stop(): Promise<void>
}

/** Starts the DHT bootstrap node; given by the caller so this package does not load libp2p when it is not used. */
export type BootstrapNodeFactory = (opts: {
  readonly listen: readonly string[]
  readonly dataDir: string
}) => Promise<BootstrapNode>

export interface OrchestratorInit {
  readonly config: OrchestratorConfig
  /** Starts the libp2p node when `config.p2pListen` is not empty; default: bootstrap.ts (@narthex/p2p). */
  readonly bootstrapNode?: BootstrapNodeFactory
  /** Clock, for tests. */
  readonly now?: () => number
}

export interface Orchestrator {
  start(): Promise<void>
  stop(): Promise<void>
  /** `http://host:port` once started. */
  readonly url: string
  readonly port: number
  readonly service: Service
  p2p(): P2PInfo | null
}

async function readKey(file: string): Promise<SecretKey> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw new InvalidConfigError(
      `cannot read the signing key ${file}: ${(err as NodeJS.ErrnoException).code}`
    )
  }
  try {
    return parseSecretKey(text)
  } catch (err) {
    throw new InvalidConfigError(`${file}: ${(err as Error).message}`)
  }
}

class OrchestratorImpl implements Orchestrator {
  private server: Server | null = null
  private streams: EventStreams | null = null
  private store: Store | null = null
  private node: BootstrapNode | null = null
  private service_: Service | null = null
  private port_ = 0

  constructor(private readonly init: OrchestratorInit) {}

  get service(): Service {
    if (this.service_ === null) throw new Error('orchestrator not started')
    return this.service_
  }

  get port(): number {
    return this.port_
  }

  get url(): string {
    const host = this.init.config.host.includes(':') ? `[${this.init.config.host}]` : this.init.config.host
    return `http://${host}:${this.port_}`
  }

  p2p(): P2PInfo | null {
    return this.node?.info() ?? null
  }

  async start(): Promise<void> {
    const { config } = this.init
    const key = await readKey(config.keyFile)
    await mkdir(config.dataDir, { recursive: true })
    const store = new Store(join(config.dataDir, 'db'))
    try {
      await store.open()
    } catch (err) {
      if ((err as { code?: string }).code === 'LEVEL_DATABASE_NOT_OPEN') {
        const cause = (err as { cause?: Error }).cause
        throw new InvalidConfigError(
          `cannot open the database in ${config.dataDir}${cause?.message.includes('lock') ? ' (another orchestrator is using it)' : ''}`
        )
      }
      throw err
    }
    this.store = store
    try {
      await this.startServices(key)
    } catch (err) {
      // Leave nothing running (workers, database lock, libp2p) when start fails half-way.
      await this.stop().catch(() => {})
      throw err
    }
    log('listening on %s', this.url)
  }

  private async startServices(key: SecretKey): Promise<void> {
    const { config } = this.init
    const store = this.store!
    const metrics = new Metrics()
    const service = new Service({ config, key, store, metrics, now: this.init.now })
    this.service_ = service
    await service.load()
    const streams = new EventStreams(service.events)
    this.streams = streams
    const counts = () => service.ledger.statusCounts()
    metrics.gauge('narthex_outputs', 'Outputs by status.', () =>
      Object.entries(counts()).map(([status, n]) => [{ status }, n] as const)
    )
    metrics.gauge(
      'narthex_narinfos_served',
      'Agreed outputs whose narinfo is served.',
      () => service.servedCount
    )
    metrics.gauge(
      'narthex_builders',
      'Trusted, unrevoked builders.',
      () => service.ledger.builders().filter((b) => b.trusted !== null && !b.revoked).length
    )
    metrics.gauge('narthex_event_streams', 'Open event streams.', () => streams.count)
    metrics.gauge('narthex_store_commits', 'Durable batches written since start.', () => store.commits)
    metrics.gauge('narthex_process_resident_memory_bytes', 'Resident memory.', () =>
      process.memoryUsage.rss()
    )

    if (config.p2pListen.length > 0) {
      const factory = this.init.bootstrapNode ?? (await import('./bootstrap.js')).createBootstrapNode
      this.node = await factory({ listen: config.p2pListen, dataDir: config.dataDir })
    }
    const assets = await StaticAssets.load()
    const cacheInfo = Buffer.from(
      formatCacheInfo({ storeDir: STORE_DIR, wantMassQuery: true, priority: config.cachePriority })
    )
    const server = createHttpServer({ service, streams, assets, cacheInfo, p2p: () => this.p2p() })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(config.port, config.host, () => {
        server.off('error', reject)
        // once listening, an error (a failed accept: ENOMEM, ENOBUFS) must not crash the program
        server.on('error', (err) => log('server error: %s', err.message))
        resolve()
      })
    })
    this.server = server
    this.port_ = (server.address() as AddressInfo).port
  }

  async stop(): Promise<void> {
    const server = this.server
    this.server = null
    if (this.service_ !== null) this.service_.stopping = true
    if (server !== null) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      this.streams?.closeAll()
      server.closeIdleConnections()
      const timer = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS)
      await closed
      clearTimeout(timer)
    }
    await this.node?.stop()
    this.node = null
    await this.service_?.close()
    await this.store?.close()
    this.store = null
  }
}

export function createOrchestrator(init: OrchestratorInit): Orchestrator {
  return new OrchestratorImpl(init)
}
