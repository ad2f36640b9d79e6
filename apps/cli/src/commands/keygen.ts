import { open } from 'node:fs/promises'
import { formatPublicKey, formatSecretKey, generateSecretKey } from '@narthex/nix'
import { type Command, parseFlags } from '../command.js'
import { UsageError } from '../errors.js'

export const command: Command = {
  name: 'keygen',
  summary: 'generate a Nix signing key pair',
  usage: `Usage: narthex keygen NAME [--out FILE]

Generates an ed25519 key pair in Nix's format (as nix-store --generate-binary-cache-key does). The secret key
is written to FILE (default NAME.sec; never overwritten, mode 0600); the public key is printed on stdout, ready for
trusted-public-keys.`,
  async run(args, io) {
    const { values, positionals } = parseFlags(args, { out: { type: 'string', short: 'o' } })
    if (positionals.length !== 1) throw new UsageError('expected exactly one key NAME (e.g. narthex-1)')
    const key = generateSecretKey(positionals[0]!)
    const out = values.out ?? `${key.name}.sec`
    // "wx": fail rather than overwrite an existing key; 0600: a secret key is readable by its owner only.
    const file = await open(out, 'wx', 0o600).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST') throw new Error(`${out} already exists; refusing to overwrite a key file`)
      throw err
    })
    try {
      await file.writeFile(`${formatSecretKey(key)}\n`)
      await file.sync()
    } finally {
      await file.close()
    }
    io.stdout.write(`${formatPublicKey(key.publicKey)}\n`)
    return 0
  }
}
