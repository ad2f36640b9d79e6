import { dumpPath } from '@narthex/nix'
import { type Command, parseFlags } from '../command.js'
import { UsageError } from '../errors.js'
import { writeChunks } from '../stream.js'

export const command: Command = {
  name: 'nar dump',
  summary: 'serialise a path as a NAR to stdout (as nix-store --dump)',
  usage: `Usage: narthex nar dump PATH

Writes the NAR serialisation of the file, directory or symlink at PATH to stdout: the same bytes as
nix-store --dump PATH. Symlinks are stored, never followed.`,
  async run(args, io) {
    const { positionals } = parseFlags(args, {})
    if (positionals.length !== 1) throw new UsageError('expected exactly one PATH')
    await writeChunks(io.stdout, dumpPath(positionals[0]!))
    return 0
  }
}
