/**
 * The `narthex` dispatcher: takes the global flags (--log-format, --log-level, --quiet) from anywhere in argv,
 * finds the command named by the leading words of the rest, loads its module lazily (so `narthex nar hash` does not
 * load libp2p) and runs it (`dispatch.ts`: a logger, errors as one-line messages and exit statuses 0 success,
 * 1 failure, 2 usage error). The binary runs the NAR commands through `quick.ts` first, which runs them the same way.
 */
import type { Command, Io } from './command.js'
import { type GlobalFlags, lookup, parseGlobalFlags, runCommand } from './dispatch.js'

export { type GlobalFlags, parseGlobalFlags } from './dispatch.js'

interface Entry {
  readonly summary: string
  readonly load: () => Promise<{ command: Command }>
}

/**
 * Every command, keyed by the words that name it. Keep sorted; `narthex --help` prints them in this order. A
 * one-shot command (`preferQuickStart`) goes in quick.ts's table too: the binary runs those from the bundle and
 * exits at once only there.
 */
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
  status: {
    summary: 'show peers, stored NARs, recent fetches and errors of a running seeder or shim',
    load: () => import('./commands/status.js')
  },
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

Usage: narthex [global flags] <command> [flags]     (narthex <command> --help for its flags)

Global flags (anywhere on the line):
  --log-format text|json   log lines for people (default) or one JSON object per line ($NARTHEX_LOG_FORMAT)
  --log-level LEVEL        error, warn, info (default) or debug ($NARTHEX_LOG_LEVEL); debug adds the
                           narthex:* debug output
  --quiet                  no progress bars or progress lines

Commands:
${Object.entries(COMMANDS)
  .map(([name, e]) => `  ${name.padEnd(20)} ${e.summary}`)
  .join('\n')}
`

export async function main(rawArgv: string[], io: Io = process): Promise<number> {
  let flags: GlobalFlags
  try {
    flags = parseGlobalFlags(rawArgv)
  } catch (err) {
    io.stderr.write(`narthex: ${(err as Error).message}\n`)
    return 2
  }
  const argv = flags.rest
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.stdout.write(USAGE)
    return argv.length === 0 ? 2 : 0
  }
  if (argv[0] === '--version') {
    io.stdout.write('narthex 0.1.0\n')
    return 0
  }
  const found = lookup(COMMANDS, argv)
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
  return runCommand(name, command, rest, flags, io)
}
