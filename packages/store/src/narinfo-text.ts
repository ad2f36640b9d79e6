/**
 * The narinfo fields the store files a narinfo by. The store keeps the narinfo text exactly as given (signatures
 * included); it parses it (strictly, with @narthex/nix: NarinfoParseError) only to learn the store path hash it is
 * filed under and to check that it describes the NAR it is stored with.
 */
import { parseNarinfo, parseStorePath } from '@narthex/nix'

export interface NarinfoKey {
  readonly storePath: string
  readonly hashPart: string
  readonly narHash: string
  readonly narSize: number
}

export function readNarinfoKey(text: string): NarinfoKey {
  const info = parseNarinfo(text)
  return {
    storePath: info.storePath,
    hashPart: parseStorePath(info.storePath).hashPart,
    narHash: info.narHash,
    narSize: info.narSize
  }
}
