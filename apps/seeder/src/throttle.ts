/**
 * The upload rate cap: a token bucket over bytes, shared by every peer. A taker may overdraw it (a chunk is never
 * split), and then waits until the debt is repaid at the configured rate, so the average rate holds whatever the
 * chunk sizes; concurrent takers queue behind each other's debt.
 */
export class TokenBucket {
  private tokens: number
  private last = Date.now()

  /** `rate` bytes per second (0: unlimited); `burst` the most that may accumulate while idle. */
  constructor(
    readonly rate: number,
    readonly burst: number
  ) {
    this.tokens = burst
  }

  /** Take `n` bytes' worth; resolves when they may be sent. */
  async take(n: number, options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.rate <= 0) return
    const now = Date.now()
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1000)
    this.last = now
    this.tokens -= n
    if (this.tokens >= 0) return
    const waitMs = (-this.tokens / this.rate) * 1000
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(done, waitMs)
      const signal = options.signal
      function done(): void {
        clearTimeout(t)
        signal?.removeEventListener('abort', abort)
        resolve()
      }
      function abort(): void {
        clearTimeout(t)
        reject(signal?.reason)
      }
      signal?.addEventListener('abort', abort, { once: true })
    })
  }
}
