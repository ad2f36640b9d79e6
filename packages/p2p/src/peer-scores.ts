/**
 * Peer reputation, shared by the downloads of one process.
 *
 * - Proof of misbehaviour (a chunk whose bytes do not hash to the CID that was asked for, a manifest that claims
 *   a NAR it does not describe) bans the peer at once: honest peers can never produce one, because noise
 *   authenticates every byte between the two ends.
 * - Stalls, resets and missing chunks are not proof (networks fail, disks fill): they lower the score, which
 *   orders peers, and never ban.
 */
import type { PeerId } from '@libp2p/interface'
import debug from 'debug'
import { BAN_DURATION_MS } from './constants.js'

const log = debug('narthex:p2p:scores')

export interface BanRecord {
  readonly peer: string
  readonly reason: string
  readonly until: number
}

export class PeerScores {
  private readonly scores = new Map<string, number>()
  private readonly bans = new Map<string, BanRecord>()

  constructor(private readonly banDurationMs = BAN_DURATION_MS) {}

  score(peer: PeerId | string): number {
    return this.scores.get(peer.toString()) ?? 0
  }

  /** Lower a peer's score (a stall, a reset, a missing chunk). Never bans. */
  penalise(peer: PeerId | string, amount: number, reason: string): void {
    const id = peer.toString()
    this.scores.set(id, this.score(id) - amount)
    log('penalised %s by %d: %s', id, amount, reason)
  }

  /** Ban a peer that proved itself malicious. */
  ban(peer: PeerId | string, reason: string): void {
    const id = peer.toString()
    this.bans.set(id, { peer: id, reason, until: Date.now() + this.banDurationMs })
    log('banned %s: %s', id, reason)
  }

  isBanned(peer: PeerId | string): boolean {
    const id = peer.toString()
    const ban = this.bans.get(id)
    if (ban === undefined) return false
    if (ban.until <= Date.now()) {
      this.bans.delete(id)
      return false
    }
    return true
  }

  /** Current bans (for reports and tests). */
  banned(): BanRecord[] {
    return [...this.bans.values()].filter((b) => this.isBanned(b.peer))
  }
}
