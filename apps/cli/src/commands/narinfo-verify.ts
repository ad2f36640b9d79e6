import {
  type Narinfo,
  type PublicKey,
  parseNarinfo,
  parsePublicKey,
  parseSignature,
  verifyNarinfo
} from '@narthex/nix'
import { type Command, parseFlags } from '../command.js'
import { UsageError } from '../errors.js'
import { readText } from '../read-input.js'

/** Each --trusted-key value may hold several keys separated by whitespace, as Nix's trusted-public-keys does. */
function parseTrustedKeys(values: readonly string[]): PublicKey[] {
  const keys: PublicKey[] = []
  for (const value of values) {
    const words = value.split(/\s+/).filter(Boolean)
    if (words.length === 0) throw new UsageError('--trusted-key is empty')
    for (const word of words) {
      try {
        keys.push(parsePublicKey(word))
      } catch (err) {
        throw new UsageError(`--trusted-key ${JSON.stringify(word)}: ${(err as Error).message}`)
      }
    }
  }
  return keys
}

/** Why nothing verified, in words a user can act on. */
function explainFailure(info: Narinfo, keys: readonly PublicKey[]): string {
  const trustedNames = new Set(keys.map((k) => k.name))
  const signers = info.sigs.map((s) => {
    try {
      return parseSignature(s).keyName
    } catch {
      return '(malformed)'
    }
  })
  let why: string
  if (signers.length === 0) why = 'it has no signatures'
  else if (!signers.some((n) => trustedNames.has(n))) {
    why = `it is signed by ${signers.join(', ')}, none of them a trusted key name (${[...trustedNames].join(', ')})`
  } else {
    why =
      `a signature by ${signers.filter((n) => trustedNames.has(n)).join(', ')} is there but does not verify: ` +
      'another key of that name made it, or StorePath, NarHash, NarSize or References changed since signing'
  }
  const ca =
    info.ca !== undefined ? ` (note: it is content-addressed, which Nix accepts without a signature)` : ''
  return `${info.storePath}: no signature verifies with the trusted keys: ${why}${ca}\n`
}

export const command: Command = {
  name: 'narinfo verify',
  summary: 'check that a narinfo (stdin) is signed by a trusted key',
  usage: `Usage: narthex narinfo verify --trusted-key NAME:BASE64 [--trusted-key ...] < file.narinfo

Reads a narinfo on stdin and checks its "Sig:" lines against the trusted public keys, as Nix does with
trusted-public-keys (a --trusted-key value may hold several keys separated by spaces). Exit status: 0 when a
signature verifies (the key is named on stderr), 1 when none does or the narinfo is malformed, 2 on a usage error.`,
  async run(args, io) {
    const { values, positionals } = parseFlags(args, {
      'trusted-key': { type: 'string', multiple: true }
    })
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`)
    const keys = parseTrustedKeys(values['trusted-key'] ?? [])
    if (keys.length === 0) throw new UsageError('give at least one --trusted-key NAME:BASE64')
    const names = keys.map((k) => k.name)
    for (const name of new Set(names.filter((n, i) => names.indexOf(n) !== i))) {
      io.stderr.write(`warning: several trusted keys are named ${name}; as in Nix, only the first counts\n`)
    }
    const info = parseNarinfo(await readText(io.stdin, 'the narinfo on stdin'))
    const ok = verifyNarinfo(info, keys)
    if (ok === undefined) {
      io.stderr.write(explainFailure(info, keys))
      return 1
    }
    io.stderr.write(`${info.storePath}: signed by trusted key ${ok.key.name}\n`)
    return 0
  }
}
