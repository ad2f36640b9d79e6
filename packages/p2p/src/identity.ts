/** A node's persistent peer identity: an Ed25519 key kept in the data directory, created on first use. */
import { mkdir, open, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { InvalidNodeConfigError } from './errors.js'

/** File name of the peer key inside the data directory (libp2p's protobuf encoding, mode 0600). */
export const PEER_KEY_FILE = 'peer.key'

/** Load the peer key from `dir`, or create and save a new one. Never overwrites an existing key. */
export async function loadOrCreatePeerKey(dir: string): Promise<PrivateKey> {
  const file = join(dir, PEER_KEY_FILE)
  try {
    return privateKeyFromProtobuf(await readFile(file))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new InvalidNodeConfigError(`cannot read peer key ${file}: ${(err as Error).message}`)
    }
  }
  await mkdir(dir, { recursive: true })
  const key = await generateKeyPair('Ed25519')
  const handle = await open(file, 'wx', 0o600)
  try {
    await handle.writeFile(privateKeyToProtobuf(key))
    await handle.sync()
  } finally {
    await handle.close()
  }
  return key
}
