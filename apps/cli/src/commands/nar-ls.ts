import { decodeNar, formatNarListing } from '@narthex/nix'
import { type Command, parseFlags } from '../command.js'
import { UsageError } from '../errors.js'
import { preferQuickStart } from '../one-shot.js'
import { readChunks, writeChunks } from '../stream.js'

export const command: Command = {
  name: 'nar ls',
  summary: 'list the entries of a NAR read from stdin',
  usage: `Usage: narthex nar ls [--json] < file.nar

Lists every entry of the NAR on stdin, recursively, exactly as nix nar ls -lR file.nar / prints it:
type and mode, size, ./path, and " -> target" for symlinks. With --json, prints what
nix nar ls --json -R file.nar / prints: one nested object with type, size, executable and narOffset (the
byte offset of a file's contents in the NAR) per entry. The whole NAR is checked as it is read.`,
  async run(args, io) {
    preferQuickStart()
    const { values, positionals } = parseFlags(args, { json: { type: 'boolean' } })
    if (positionals.length !== 0) throw new UsageError('nar ls reads the NAR from stdin and takes no PATH')
    const entries = decodeNar(readChunks(io.stdin, { reuse: true })) // contents are skipped, never kept
    await writeChunks(io.stdout, formatNarListing(entries, values.json ? 'json' : 'long'))
    return 0
  }
}
