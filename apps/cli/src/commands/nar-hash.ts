import { dumpPath, formatHash, hashNar } from '@narthex/nix'
import { type Command, parseFlags, writeText } from '../command.js'
import { UsageError } from '../errors.js'
import { preferQuickStart } from '../one-shot.js'

export const command: Command = {
  name: 'nar hash',
  summary: 'print the NAR hash of a path (sha256:<nix32>)',
  usage: `Usage: narthex nar hash PATH [--size]

Prints the sha256 of the NAR serialisation of PATH as sha256:<nix32>: the NarHash a narinfo states, and what
nix-hash --type sha256 --base32 PATH prints (with the sha256: prefix). The NAR is hashed as it is made, in
this process; nothing goes through a pipe.
With --size, also prints the NAR's length in bytes (NarSize) on a second line.`,
  async run(args, io) {
    preferQuickStart()
    const { values, positionals } = parseFlags(args, { size: { type: 'boolean' } })
    if (positionals.length !== 1) throw new UsageError('expected exactly one PATH')
    // In-process hashing of a reused chunk buffer, filled with blocking reads: no pipe, no copy per chunk.
    const { hash, size } = await hashNar(dumpPath(positionals[0]!, { blocking: true, reuseChunks: 1 }))
    await writeText(io.stdout, `${formatHash(hash)}\n${values.size ? `${size}\n` : ''}`)
    return 0
  }
}
