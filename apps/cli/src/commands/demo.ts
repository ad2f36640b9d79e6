import type { Command } from '../command.js'

export const command: Command = {
  name: 'demo',
  summary: 'start a whole network on loopback and show Nix using it',
  usage: `Usage: narthex demo [--data DIR]

Starts an orchestrator, builders, seeders and a shim on loopback and prints what to point Nix at.`,
  async run(_args, io) {
    // The network's parts land issue by issue; until they all exist the demo says what is there.
    io.stdout.write(
      'narthex demo: the orchestrator, seeders and shim are not built yet.\n' +
        'What works today: narthex --help\n'
    )
    return 0
  }
}
