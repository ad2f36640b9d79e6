/**
 * The `narthex` dispatcher: finds the command named by the leading words of argv, loads its module lazily (so
 * `narthex nar hash` does not load libp2p), runs it, and turns errors into one-line messages and exit statuses:
 * 0 success, 1 failure, 2 usage error.
 */
import type { Command, Io } from './command.js'
import { UsageError } from './errors.js'

interface Entry {
  readonly summary: string
  readonly load: () => Promise<{ command: Command }>
}

/** Every command, keyed by the words that name it. Keep sorted; `narthex --help` prints them in this order. */
export const COMMANDS: Readonly<Record<string, Entry>> = {
  attest: {
    summary: 'attest store paths already built: measure, sign, submit to the orchestrator',
    load: () => import('./commands/attest.js')
  },
  build: {
    summary: 'build with nix (or rebuild with --check) and attest every output',
    load: () => import('./commands/build.js')
  },
  demo: {
    summary: 'start a whole network on loopback and show Nix using it',
    load: () => import('./commands/demo.js')
  },
  fetch: { summary: 'download one NAR from the swarm to stdout', load: () => import('./commands/fetch.js') },
  keygen: { summary: 'generate a Nix signing key pair', load: () => import('./commands/keygen.js') },
  'nar dump': {
    summary: 'serialise a path as a NAR to stdout',
    load: () => import('./commands/nar-dump.js')
  },
  'nar hash': { summary: 'print the NAR hash of a path', load: () => import('./commands/nar-hash.js') },
  'nar ls': { summary: 'list the entries of a NAR from stdin', load: () => import('./commands/nar-ls.js') },
  'nar restore': {
    summary: 'restore a NAR from stdin to a path',
    load: () => import('./commands/nar-restore.js')
  },
  'narinfo sign': {
    summary: 'add a signature to a narinfo (stdin to stdout)',
    load: () => import('./commands/narinfo-sign.js')
  },
  'narinfo verify': {
    summary: 'check that a narinfo (stdin) is signed by a trusted key',
    load: () => import('./commands/narinfo-verify.js')
  },
  'seed add': {
    summary: 'hand store paths or a binary cache to the running seeder',
    load: () => import('./commands/seed-add.js')
  },
  seeder: {
    summary: 'run a seeder: serve and announce the NARs of a store',
    load: () => import('./commands/seeder.js')
  },
  'seeder status': {
    summary: 'show what the running seeder of a data directory is doing',
    load: () => import('./commands/seeder-status.js')
  },
  shim: { summary: 'run the local Nix substituter', load: () => import('./commands/shim.js') },
  'store cat': { summary: 'write a stored NAR to stdout', load: () => import('./commands/store-cat.js') },
  'store gc': {
    summary: 'evict least recently used NARs to fit a size; remove leftovers',
    load: () => import('./commands/store-gc.js')
  },
  'store import': {
    summary: 'import store paths from the local Nix store or a binary cache',
    load: () => import('./commands/store-import.js')
  },
  'store ls': { summary: 'list the NARs in the store', load: () => import('./commands/store-ls.js') },
  'store verify': {
    summary: 're-hash every stored chunk; quarantine and report what is corrupt',
    load: () => import('./commands/store-verify.js')
  },
  orchestrator: {
    summary: 'run the orchestrator: k-of-n agreement, signed narinfos, dashboard',
    load: () => import('./commands/orchestrator.js')
  }
}

const USAGE = `narthex: a peer-to-peer, content-addressed network for Nix binaries

Usage: narthex <command> [flags]     (narthex <command> --help for its flags)

Commands:
${Object.entries(COMMANDS)
  .map(([name, e]) => `  ${name.padEnd(20)} ${e.summary}`)
  .join('\n')}
`

/** The longest key of COMMANDS that prefixes `args`, so `nar dump x` finds `nar dump` before `nar`. */
function lookup(args: string[]): [string, Entry, string[]] | undefined {
  for (let n = Math.min(args.length, 3); n > 0; n--) {
    const name = args.slice(0, n).join(' ')
    const entry = COMMANDS[name]
    if (entry !== undefined) return [name, entry, args.slice(n)]
  }
  return undefined
}

export async function main(argv: string[], io: Io = process): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.stdout.write(USAGE)
    return argv.length === 0 ? 2 : 0
  }
  if (argv[0] === '--version') {
    io.stdout.write('narthex 0.1.0\n')
    return 0
  }
  const found = lookup(argv)
  if (found === undefined) {
    const group = Object.keys(COMMANDS).filter((k) => k.startsWith(`${argv[0]} `))
    io.stderr.write(
      group.length > 0
        ? `narthex ${argv[0]}: expected one of: ${group.map((g) => g.split(' ').slice(1).join(' ')).join(', ')}\n`
        : `narthex: unknown command "${argv[0]}" (see narthex --help)\n`
    )
    return 2
  }
  const [name, entry, rest] = found
  const { command } = await entry.load()
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(command.usage.endsWith('\n') ? command.usage : `${command.usage}\n`)
    return 0
  }
  try {
    return await command.run(rest, io)
  } catch (err) {
    return report(name, command, err, io)
  }
}

function report(name: string, command: Command, err: unknown, io: Io): number {
  if (err instanceof UsageError) {
    io.stderr.write(`narthex ${name}: ${err.message}\n\n${command.usage}\n`)
    return 2
  }
  const e = err instanceof Error ? err : new Error(String(err))
  io.stderr.write(`narthex ${name}: ${e.message}\n`)
  if (process.env.NARTHEX_DEBUG) io.stderr.write(`${e.stack}\n`)
  return 1
}
