/**
 * Keeps connections to the configured bootstrap peers: dials them at start and re-dials any that dropped, every
 * BOOTSTRAP_REDIAL_MS. A libp2p service, started and stopped with the node. Identify then feeds the peers to the
 * DHT's routing table.
 */

import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { deadline } from '@narthex/abort'
import debug from 'debug'
import { BOOTSTRAP_REDIAL_MS } from './constants.js'

const log = debug('narthex:p2p:bootstrap')

/** The part of libp2p's connection manager this service uses. */
export interface BootstrapComponents {
  readonly connectionManager: {
    openConnection(ma: Multiaddr, options?: { signal?: AbortSignal }): Promise<unknown>
    getConnections(): Array<{ remotePeer: PeerId }>
  }
}

export class Bootstrap {
  private timer: NodeJS.Timeout | undefined
  private controller: AbortController | undefined
  /** Bootstrap dials that succeeded (for tests and the CLI's progress line). */
  connected = 0

  constructor(
    private readonly components: BootstrapComponents,
    private readonly addrs: readonly Multiaddr[]
  ) {}

  start(): void {
    if (this.addrs.length === 0) return
    this.controller = new AbortController()
    // After libp2p has started its transports: dial on the next tick.
    this.timer = setTimeout(() => this.dialAll(), 0)
    this.timer.unref()
  }

  stop(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.controller?.abort()
  }

  private dialAll(): void {
    const signal = this.controller?.signal
    if (signal === undefined || signal.aborted) return
    const cm = this.components.connectionManager
    Promise.allSettled(
      this.addrs.map(async (ma) => {
        const peer = ma.getComponents().find((c) => c.name === 'p2p')?.value
        if (peer !== undefined && cm.getConnections().some((c) => c.remotePeer.toString() === peer)) return
        try {
          await cm.openConnection(ma, { signal: deadline(10_000, signal) })
          this.connected++
        } catch (err) {
          log('bootstrap dial %s failed: %s', ma.toString(), (err as Error).message)
        }
      })
    ).finally(() => {
      if (signal.aborted) return
      this.timer = setTimeout(() => this.dialAll(), BOOTSTRAP_REDIAL_MS)
      this.timer.unref()
    })
  }
}
