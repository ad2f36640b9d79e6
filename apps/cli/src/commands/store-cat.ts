import { isHashPart, parseStorePath } from '@narthex/nix'
import { type Command, parseFlags } from '../command.js'
import { CommandFailedError, UsageError } from '../errors.js'
import { DATA_FLAG, DATA_HELP, withStore } from '../store-util.js'

export const command: Command = {
  name: 'store cat',
  summary: 'write a stored NAR to stdout',
  usage: `Usage: narthex store cat --data DIR NARHASH|STORE_PATH|HASH_PART|CID

Writes the NAR to stdout, reassembled from its chunks, each verified on the way out. The NAR is named by its
NarHash (any sha256 form), by a store path or its hash part (through the stored narinfo), or by its NAR CID or
manifest root.

${DATA_HELP}`,
  async run(args, io) {
    const { values, positionals } = parseFlags(args, DATA_FLAG)
    if (positionals.length !== 1) throw new UsageError('give exactly one NAR to write')
    const arg = positionals[0]!
    await withStore(values.data, async (store) => {
      let key = arg
      const hashPart = arg.startsWith('/') ? parseStorePath(arg).hashPart : isHashPart(arg) ? arg : undefined
      if (hashPart !== undefined) {
        const info = await store.getNarinfo(hashPart)
        if (info === undefined) throw new CommandFailedError(`no narinfo for ${arg} in the store`)
        key = info.narHash
      }
      for await (const bytes of store.readNar(key)) {
        if (!io.stdout.write(bytes)) await new Promise((r) => io.stdout.once('drain', r))
      }
    })
    return 0
  }
}
