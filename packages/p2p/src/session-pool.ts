/**
 * Fetch sessions kept between downloads, as HTTP clients keep connections alive.
 *
 * Every download used to open a fetch stream to each peer it asked and close it at the end. For a NAR of a few
 * hundred bytes that stream cost more than the transfer: on both ends a yamux stream, a multistream-select round,
 * the peer store's record read, merged and written under its lock, loggers made for the stream, and the close. A
 * shim substituting a 500-path closure did that 500 times per peer. With a pool, a download that finished with its
 * session in step (every reply read, nothing failed, nothing unasked waiting) hands it back, and the next download
 * to the same peer starts on it with its HAVE.
 *
 * Bounds: at most `maxIdlePerPeer` idle sessions per peer, each closed after `idleTimeoutMs` unused (well under
 * the server's SERVER_STREAM_IDLE_TIMEOUT_MS, so an idle stream is ours to close, not the server's). A session is
 * used by one download at a time. The server may still close a kept stream first (another implementation, a
 * shorter timeout, a restart): the downloader then asks again on a new stream, without blaming the peer.
 */
import type { PeerId } from '@libp2p/interface'
import { SESSION_POOL_IDLE_MS, SESSION_POOL_MAX_IDLE_PER_PEER } from './constants.js'
import type { PeerSession } from './peer-session.js'

export interface SessionPoolInit {
  /** Idle sessions kept per peer (default SESSION_POOL_MAX_IDLE_PER_PEER). */
  readonly maxIdlePerPeer?: number
  /** An idle session is closed after this long unused (default SESSION_POOL_IDLE_MS). */
  readonly idleTimeoutMs?: number
}

interface Idle {
  readonly session: PeerSession
  readonly timer: NodeJS.Timeout
}

export class SessionPool {
  readonly #idle = new Map<string, Idle[]>()
  readonly #maxIdlePerPeer: number
  readonly #idleTimeoutMs: number
  #stopped = false
  /** Sessions handed out again instead of a new stream (for tests and metrics). */
  reused = 0

  constructor(init: SessionPoolInit = {}) {
    this.#maxIdlePerPeer = init.maxIdlePerPeer ?? SESSION_POOL_MAX_IDLE_PER_PEER
    this.#idleTimeoutMs = init.idleTimeoutMs ?? SESSION_POOL_IDLE_MS
  }

  /** An idle session to `peer` that is still usable, now the caller's; undefined when there is none. */
  take(peer: PeerId): PeerSession | undefined {
    const key = peer.toString()
    const list = this.#idle.get(key)
    while (list !== undefined && list.length > 0) {
      const { session, timer } = list.pop()!
      clearTimeout(timer)
      if (list.length === 0) this.#idle.delete(key)
      if (session.reusable) {
        this.reused++
        return session
      }
      void session.close()
    }
    return undefined
  }

  /** The caller is done with `session`: kept for the next download when it is in step and there is room, else closed. */
  release(session: PeerSession): void {
    const key = session.peer.toString()
    const list = this.#idle.get(key) ?? []
    if (this.#stopped || !session.reusable || list.length >= this.#maxIdlePerPeer) {
      void session.close()
      return
    }
    const entry: Idle = {
      session,
      timer: setTimeout(() => {
        const now = this.#idle.get(key)
        const i = now?.indexOf(entry) ?? -1
        if (i >= 0) now!.splice(i, 1)
        if (now?.length === 0) this.#idle.delete(key)
        void session.close()
      }, this.#idleTimeoutMs)
    }
    entry.timer.unref()
    list.push(entry)
    this.#idle.set(key, list)
  }

  /** Idle sessions held now. */
  get idle(): number {
    let n = 0
    for (const list of this.#idle.values()) n += list.length
    return n
  }

  /** Close every idle session; sessions released after this are closed at once. */
  async stop(): Promise<void> {
    this.#stopped = true
    const all = [...this.#idle.values()].flat()
    this.#idle.clear()
    for (const { timer } of all) clearTimeout(timer)
    await Promise.allSettled(all.map(({ session }) => session.close()))
  }
}
