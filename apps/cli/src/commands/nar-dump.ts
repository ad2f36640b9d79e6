// The NAR writer alone, not the whole package (half the load time of a one-shot command).
import { dumpPath } from '@narthex/nix/nar-fs'
import { type Command, parseFlags } from '../command.js'
import { UsageError } from '../errors.js'
import { preferQuickStart } from '../one-shot.js'
import { blockingStdout, writeChunks, writeChunksToFd } from '../stream.js'

/**
 * Bytes per blocking write of `nar dump`: small enough that the buffer stays in the CPU's cache between the read
 * that fills it and the write that copies it into the pipe. 32 KiB measured ~1.5x faster than 1 MiB into a pipe
 * (docs/benchmarks.md, "NAR"); 16 KiB was slower again (more system calls).
 */
const DUMP_CHUNK_BYTES = 32 * 1024

export const command: Command = {
  name: 'nar dump',
  summary: 'serialise a path as a NAR to stdout (as nix-store --dump)',
  usage: `Usage: narthex nar dump PATH

Writes the NAR serialisation of the file, directory or symlink at PATH to stdout: the same bytes as
nix-store --dump PATH. Symlinks are stored, never followed.`,
  async run(args, io) {
    preferQuickStart()
    const { positionals } = parseFlags(args, {})
    if (positionals.length !== 1) throw new UsageError('expected exactly one PATH')
    // Blocking file reads and writes: this command has nothing else to do meanwhile, and they are several times
    // faster than going through the thread pool and the event loop. The chunk buffer is reused only when every
    // write is complete before the next chunk is made.
    const fd = blockingStdout(io.stdout)
    if (fd === undefined) await writeChunks(io.stdout, dumpPath(positionals[0]!, { blocking: true }))
    else
      await writeChunksToFd(
        fd,
        io.stdout,
        dumpPath(positionals[0]!, { blocking: true, reuseChunks: 1, chunkSize: DUMP_CHUNK_BYTES })
      )
    return 0
  }
}
