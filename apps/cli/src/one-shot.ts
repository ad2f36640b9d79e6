/** Tuning for commands that run once over one input and exit. */
import { setFlagsFromString } from 'node:v8'

/**
 * Stop V8 from optimising further than its baseline compiler (Sparkplug) for the rest of this process. In a run
 * of a fraction of a second, TurboFan spends more CPU compiling the NAR loops (measured: over a third of
 * `narthex nar dump`'s CPU time) than its faster code then saves; the bytes themselves are copied by the kernel
 * and hashed by OpenSSL either way. On 4000 small files this halves the CPU time of `nar dump`; on 40 000 it is
 * even. Only for one-shot commands: a server would lose its optimised code.
 */
export function preferQuickStart(): void {
  setFlagsFromString('--max-opt=1')
  oneShot = true
}

let oneShot = false

/**
 * Whether the process may exit at once when the command returns: it was a one-shot command (preferQuickStart)
 * and stdout and stderr hold nothing unwritten. Node's orderly teardown after the last callback (freeing the
 * environment and the heap) costs ~10 ms, a few percent of a `nar dump`; a one-shot command has awaited all its
 * work when it returns, so there is nothing left for the event loop to finish.
 */
export function mayExitAtOnce(): boolean {
  return oneShot && process.stdout.writableLength === 0 && process.stderr.writableLength === 0
}
