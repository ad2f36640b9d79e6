/**
 * The NAR commands (`nar dump`, `nar hash`, `nar ls`, `nar restore`), which run once over one input and exit,
 * with nothing but the dispatcher around them. `pnpm build` bundles this module and everything it imports into
 * one CommonJS file, `dist/quick.bundle.cjs` (scripts/bundle.mjs), which the `narthex` binary loads first: Node
 * starts a command from it ~20 ms sooner than through the ES modules behind it (18 for `nar dump`), a twentieth
 * of a `nar dump` of a 256 MiB tree (docs/benchmarks.md, "NAR"). Any other command line goes to `main.ts`.
 */
import type { Command, Io } from './command.js'
import { type GlobalFlags, lookup, parseGlobalFlags, runCommand } from './dispatch.js'

export { mayExitAtOnce } from './one-shot.js'

// Loaded on demand even inside the bundle, so `nar dump` does not load node:crypto for `nar hash`.
const QUICK: Readonly<Record<string, () => Promise<{ command: Command }>>> = {
  'nar dump': () => import('./commands/nar-dump.js'),
  'nar hash': () => import('./commands/nar-hash.js'),
  'nar ls': () => import('./commands/nar-ls.js'),
  'nar restore': () => import('./commands/nar-restore.js')
}

/**
 * Run the command of `argv` if it is one of the NAR commands, exactly as `main` would; undefined when it is not
 * (or the global flags are wrong, which `main` reports), for `main` to take.
 */
export function quickMain(argv: string[], io: Io = process): Promise<number> | undefined {
  let flags: GlobalFlags
  try {
    flags = parseGlobalFlags(argv)
  } catch {
    return undefined
  }
  const found = lookup(QUICK, flags.rest)
  if (found === undefined) return undefined
  const [name, load, rest] = found
  return load().then(({ command }) => runCommand(name, command, rest, flags, io))
}
