/**
 * Deadlines as AbortSignals.
 *
 * The obvious way to give an operation both a caller's signal and a deadline is
 * `AbortSignal.any([signal, AbortSignal.timeout(ms)])`. On Node 20 that signal can never abort: the combined signal
 * holds its sources weakly, nothing else holds the timeout signal, and once a garbage collection has taken it the
 * timer has nothing left to abort (nodejs/node#57736). A DHT lookup given such a deadline waited forever in CI.
 *
 * `deadline()` keeps the timeout reachable from its own timer until it fires. The timer is unref'd, so a pending
 * deadline never keeps a process alive, and it aborts with the same `TimeoutError` as `AbortSignal.timeout`.
 */

/**
 * A signal that aborts after `ms` milliseconds with a `TimeoutError`, or earlier when any of `signals` aborts (with
 * that signal's reason). Undefined entries are skipped, so an optional caller signal can be passed as is.
 */
export function deadline(ms: number, ...signals: ReadonlyArray<AbortSignal | undefined>): AbortSignal {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`deadline: ${ms} is not a number of milliseconds`)
  const controller = new AbortController()
  const timer = setTimeout(
    () => controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
    ms
  )
  timer.unref()
  const sources = signals.filter((s): s is AbortSignal => s !== undefined)
  if (sources.length === 0) return controller.signal
  const combined = AbortSignal.any([...sources, controller.signal])
  if (combined.aborted) clearTimeout(timer)
  else combined.addEventListener('abort', () => clearTimeout(timer), { once: true })
  return combined
}
