/**
 * The orchestrator's event log: what the dashboard and other watchers receive over Server-Sent Events. Events get
 * increasing ids; the last SSE_REPLAY_EVENTS are kept so a client reconnecting with `Last-Event-ID` misses nothing.
 * Events are published only after the change they describe is durable.
 */
import type { OutputStatus } from '@narthex/consensus'

export interface AttestationEvent {
  readonly seq: number
  readonly builder: string
  readonly outPath: string
  readonly hashPart: string
  readonly drvPath: string
  readonly outputName: string
  readonly narHash: string
  readonly receivedAt: number
  /** The output's status after this attestation. */
  readonly status: OutputStatus
}

export interface OutputEvent {
  readonly outPath: string
  readonly hashPart: string
  readonly previous: OutputStatus | null
  readonly status: OutputStatus
  readonly served: boolean
  /** True when this change reached the output's agreement. */
  readonly agreed: boolean
}

export interface EquivocationEvent {
  readonly builder: string
  readonly outPath: string
  readonly hashPart: string
}

export type OrchestratorEvent =
  | { readonly id: number; readonly type: 'attestation'; readonly data: AttestationEvent }
  | { readonly id: number; readonly type: 'output'; readonly data: OutputEvent }
  | { readonly id: number; readonly type: 'equivocation'; readonly data: EquivocationEvent }

type EventInput = OrchestratorEvent extends infer E
  ? E extends { id: number }
    ? Omit<E, 'id'>
    : never
  : never

export class EventLog {
  /** A circular buffer: event `id` sits at `(id - 1) % capacity`. */
  private readonly ring: (OrchestratorEvent | undefined)[]
  private readonly listeners = new Set<(e: OrchestratorEvent) => void>()
  private nextId = 1

  constructor(private readonly capacity: number) {
    this.ring = new Array(capacity)
  }

  publish(input: EventInput): void {
    const event = { ...input, id: this.nextId++ } as OrchestratorEvent
    this.ring[(event.id - 1) % this.capacity] = event
    for (const l of this.listeners) l(event)
  }

  /** Events after `id` still in the ring (all of them when `id` is older than the ring), oldest first. */
  since(id: number): OrchestratorEvent[] {
    const out: OrchestratorEvent[] = []
    const first = Math.max(id + 1, this.nextId - this.capacity, 1)
    for (let i = first; i < this.nextId; i++) out.push(this.ring[(i - 1) % this.capacity]!)
    return out
  }

  subscribe(listener: (e: OrchestratorEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  get lastId(): number {
    return this.nextId - 1
  }

  get subscribers(): number {
    return this.listeners.size
  }
}
