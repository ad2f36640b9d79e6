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
}
