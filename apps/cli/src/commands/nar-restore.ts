import { restoreNar } from '@narthex/nix'
import { type Command, parseFlags } from '../command.js'
import { UsageError } from '../errors.js'
import { preferQuickStart } from '../one-shot.js'
import { readChunks } from '../stream.js'

export const command: Command = {
  name: 'nar restore',
  summary: 'restore a NAR from stdin to a new path (as nix-store --restore)',
  usage: `Usage: narthex nar restore PATH < file.nar

Reads a NAR from stdin and recreates its tree at PATH, which must not exist (its parent must). The NAR is
checked as it is read; on an invalid NAR (unsorted or duplicate entries, bad names or symlink targets, nesting
deeper than --max-depth, truncation, trailing bytes...) nothing is left at PATH and the error names the byte
offset and the reason.

  --max-depth N   deepest directory nesting accepted (default 64)`,
  async run(args, io) {
    preferQuickStart()
    const { values, positionals } = parseFlags(args, { 'max-depth': { type: 'string' } })
    if (positionals.length !== 1) throw new UsageError('expected exactly one PATH to restore to')
    const maxDepth = values['max-depth'] === undefined ? undefined : Number(values['max-depth'])
    if (maxDepth !== undefined && !(Number.isSafeInteger(maxDepth) && maxDepth >= 0)) {
      throw new UsageError('--max-depth takes a whole number')
    }
    await restoreNar(readChunks(io.stdin), positionals[0]!, maxDepth === undefined ? {} : { maxDepth })
    return 0
  }
}
