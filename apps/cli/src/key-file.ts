/** Reading the Nix key files named on the command line, with errors that say which file and what is wrong. */
import { readFile } from 'node:fs/promises'
import { parseSecretKey, type SecretKey } from '@narthex/nix'
import { KeyFileError } from './errors.js'

/** The secret key in `file` (made by `narthex keygen` or `nix-store --generate-binary-cache-key`). */
export async function readSecretKeyFile(file: string, flag = '--key'): Promise<SecretKey> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory'
            : (err as Error).message
    throw new KeyFileError(`${flag} ${file}: ${why}`, { cause: err })
  }
  try {
    return parseSecretKey(text.trim())
  } catch (err) {
    // The parser's message never contains the key material, only its name and length.
    throw new KeyFileError(`${flag} ${file} is not a Nix secret key: ${(err as Error).message}`, {
      cause: err
    })
  }
}
