import { formatNarinfo, parseNarinfo, signNarinfo } from '@narthex/nix'
import { type Command, parseFlags, writeText } from '../command.js'
import { UsageError } from '../errors.js'
import { readSecretKeyFile } from '../key-file.js'
import { readText } from '../read-input.js'

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
    const keys = await Promise.all(files.map((f) => readSecretKeyFile(f)))
    let info = parseNarinfo(await readText(io.stdin, 'the narinfo on stdin'))
    for (const key of keys) info = signNarinfo(info, key)
    await writeText(io.stdout, formatNarinfo(info))
    return 0
  }
}
