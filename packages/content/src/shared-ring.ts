/**
 * A ring of shared memory that an ingest copies its pieces into, so that the hash workers and the store's writer
 * threads read them in place, and that is reused from one ingest to the next.
 *
 * Why not a fresh SharedArrayBuffer per piece: measured on Node 20, allocating shared memory costs up to ~3 ms per
 * MiB once a few hundred MiB have gone through (each allocation is external memory that V8 answers with garbage
 * collections), against ~0.1 ms for the copy itself; in a 256 MiB import that was ~0.4 s of the main thread.
 *
 * Pieces are placed one after the other and freed in the same order, by stream offset: {@link SharedRing.free}
 * releases every piece that ends at or before an offset. A piece never wraps (it goes to the start of the ring
 * when it does not fit before the end), so each piece, and each run of pieces placed back to back, is one
 * contiguous view.
 */
export class SharedRing {
  readonly bytes: Uint8Array
  /** Live pieces, oldest first: where each lies in the ring, and where it ends in the stream. */
  private readonly live: Array<{ start: number; end: number; streamEnd: number }> = []

  constructor(readonly size: number) {
    this.bytes = new Uint8Array(new SharedArrayBuffer(size))
  }

  /** Whether nothing is placed in the ring. */
  get empty(): boolean {
    return this.live.length === 0
  }

  /**
   * Copy `piece`, which ends at `streamEnd` in the stream, into the ring; returns its view there, or undefined
   * when there is no room until earlier pieces are freed. A piece must be at most a quarter of the ring.
   */
  place(piece: Uint8Array, streamEnd: number): Uint8Array | undefined {
    const n = piece.length
    let at: number
    if (this.live.length === 0) at = 0
    else {
      const tail = this.live[0]!.start
      const head = this.live[this.live.length - 1]!.end
      if (head >= tail) {
        if (head + n <= this.size) at = head
        else if (n < tail) at = 0
        else return undefined
      } else if (head + n < tail) at = head
      else return undefined
    }
    this.bytes.set(piece, at)
    this.live.push({ start: at, end: at + n, streamEnd })
    return this.bytes.subarray(at, at + n)
  }

  /** Free every piece that ends at or before `streamOffset`. */
  free(streamOffset: number): void {
    while (this.live.length > 0 && this.live[0]!.streamEnd <= streamOffset) this.live.shift()
  }

  /** Free everything (the ring is about to be reused by another stream). */
  clear(): void {
    this.live.length = 0
  }
}
