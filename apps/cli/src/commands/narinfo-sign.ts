import { readFile } from 'node:fs/promises'
import { formatNarinfo, parseNarinfo, parseSecretKey, type SecretKey, signNarinfo } from '@narthex/nix'
import { type Command, parseFlags, writeText } from '../command.js'
import { CommandFailedError, UsageError } from '../errors.js'
import { readText } from '../read-input.js'

/** Read and check a secret key file; every failure names the file and what is wrong with it. */
async function loadSecretKey(file: string): Promise<SecretKey> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    throw new CommandFailedError(`cannot read key file ${file}: ${e.code ?? e.message}`)
  }
  try {
    return parseSecretKey(text)
  } catch (err) {
    throw new CommandFailedError(`key file ${file}: ${(err as Error).message}`)
  }
}

export const command: Command = {
  name: 'narinfo sign',
  summary: 'add a signature to a narinfo (stdin to stdout)',
  usage: `Usage: narthex narinfo sign --key FILE [--key FILE ...] < in.narinfo > out.narinfo

Reads a narinfo on stdin and writes it on stdout with a "Sig:" line added for each secret key FILE (a file made
by narthex keygen or nix-store --generate-binary-cache-key), exactly as nix store sign would. The signature covers
StorePath, NarHash, NarSize and References; the other fields may change later without breaking it. A signature
already present is not added twice. The narinfo is checked strictly first and written in Nix's canonical form.`,
  async run(args, io) {
    const { values, positionals } = parseFlags(args, { key: { type: 'string', short: 'k', multiple: true } })
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`)
    const files = values.key ?? []
    if (files.length === 0) throw new UsageError('give at least one --key FILE')
    const keys = await Promise.all(files.map(loadSecretKey))
    let info = parseNarinfo(await readText(io.stdin, 'the narinfo on stdin'))
    for (const key of keys) info = signNarinfo(info, key)
    await writeText(io.stdout, formatNarinfo(info))
    return 0
  }
}
