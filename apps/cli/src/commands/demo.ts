import { type Command, parseFlags } from '../command.js'
import { UsageError } from '../errors.js'

const parsePort = (flag: string, v: string | undefined, dflt: number): number => {
  if (v === undefined) return dflt
  const n = Number(v)
  if (!(Number.isSafeInteger(n) && n >= 0 && n <= 65535))
    throw new UsageError(`${flag} must be a port (0-65535)`)
  return n
}

export const command: Command = {
  name: 'demo',
  summary: 'start a whole network on loopback and show Nix using it',
  usage: `Usage: narthex demo [--data DIR] [--port N] [--shim-port N] [--once]

Starts, on loopback with everything in DIR: an orchestrator with its dashboard, two builders that build and
attest a few derivations (one of them non-reproducible: a dispute), three seeders that import and announce the
agreed outputs, and a shim. Prints the dashboard URL and the nix-store command that substitutes through the shim,
runs it once into a fresh chroot store, then runs until Ctrl-C (SIGINT) or SIGTERM and stops every program.
Keys, stores and the orchestrator's database are kept: the next start reuses them. See docs/demo.md.

  --data DIR       data directory (default ./.narthex-data/demo); logs in DIR/logs
  --port N         orchestrator port (default 7420; a free one if it is taken; 0: any)
  --shim-port N    shim port (default 37515; a free one if it is taken; 0: any)
  --once           stop after showing the substitution (for scripts and tests)`,
  async run(args, io) {
    const { values, positionals } = parseFlags(args, {
      data: { type: 'string', short: 'd' },
      port: { type: 'string' },
      'shim-port': { type: 'string' },
      once: { type: 'boolean' }
    })
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`)
    const { runDemo } = await import('../demo/index.js')
    return runDemo({
      data: values.data ?? './.narthex-data/demo',
      port: parsePort('--port', values.port, 7420),
      shimPort: parsePort('--shim-port', values['shim-port'], 37515),
      once: values.once === true,
      out: io.stdout
    })
  }
}
