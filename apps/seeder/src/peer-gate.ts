/**
 * The cap on concurrent peers: wraps the fetch protocol handler so that at most `maxPeers` distinct peers have
 * fetch streams open at once. A stream from a further peer is answered ERROR BUSY and closed (the downloader
 * moves on to another seeder). Streams of a peer already admitted are not counted again;
 * the per-connection stream limits of FetchServer still apply to them.
 */
import type { Connection, Libp2p, Stream, StreamHandler, StreamHandlerOptions } from '@libp2p/interface'

/**
 * An ERROR BUSY frame of `/narthex/nar/1.0.0` (packages/p2p/src/wire.ts): length 2 (u32 BE), type 0x8f, code 2.
 * Written out here because the seeder only ever needs this one frame.
 */
const BUSY_FRAME = Uint8Array.of(0, 0, 0, 2, 0x8f, 2)

export interface PeerGateStats {
  /** Peers with a fetch stream open now. */
  servingPeers: number
  /** Streams refused because the cap was reached. */
  rejectedPeers: number
}

export class PeerGate {
  readonly stats: PeerGateStats = { servingPeers: 0, rejectedPeers: 0 }
  private readonly active = new Map<string, number>()

  constructor(readonly maxPeers: number) {}

  /** The node as FetchServer sees it: handle() registers the handler behind the gate. */
  wrap(node: Libp2p): Libp2p {
    const gate = this
    return {
      handle(protocol: string, handler: StreamHandler, options?: StreamHandlerOptions) {
        return node.handle(protocol, (stream, conn) => gate.admit(stream, conn, handler), options)
      },
      unhandle(protocol: string) {
        return node.unhandle(protocol)
      }
    } as unknown as Libp2p
  }

  private async admit(stream: Stream, conn: Connection, handler: StreamHandler): Promise<void> {
    const peer = conn.remotePeer.toString()
    const held = this.active.get(peer) ?? 0
    if (held === 0 && this.maxPeers > 0 && this.active.size >= this.maxPeers) {
      this.stats.rejectedPeers++
      try {
        stream.send(BUSY_FRAME)
        await stream.close({ signal: AbortSignal.timeout(1000) })
      } catch {
        stream.abort(new Error('busy'))
      }
      return
    }
    this.active.set(peer, held + 1)
    this.stats.servingPeers = this.active.size
    try {
      await handler(stream, conn)
    } finally {
      const n = (this.active.get(peer) ?? 1) - 1
      if (n <= 0) this.active.delete(peer)
      else this.active.set(peer, n)
      this.stats.servingPeers = this.active.size
    }
  }
}
