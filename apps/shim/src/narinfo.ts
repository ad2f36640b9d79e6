/**
 * The narinfo fields the shim relies on, read with @narthex/nix's strict `parseNarinfo` from a narinfo text that
 * the shim otherwise passes through unchanged. The shim never re-signs and never rewrites a narinfo.
 */
import { NARINFO_DEFAULT_COMPRESSION, type Narinfo, parseNarinfo, parseStorePath } from '@narthex/nix'
import { InvalidNarinfoError } from './errors.js'

export interface NarinfoFields {
  readonly storePath: string
  readonly hashPart: string
  readonly url: string
  /** The narinfo's Compression; Nix's default (bzip2) when the field is absent. */
  readonly compression: string
  /** `sha256:<nix32>` */
  readonly narHash: string
  readonly narSize: number
  /** Base names `<hash>-<name>`. */
  readonly references: readonly string[]
  /** The parsed narinfo, for signature checks. */
  readonly parsed: Narinfo
}

/** Parse and check a narinfo; InvalidNarinfoError (with the parser's reason) when it is not valid. */
export function readNarinfo(text: string): NarinfoFields {
  let info: Narinfo
  try {
    info = parseNarinfo(text)
  } catch (err) {
    throw new InvalidNarinfoError(`invalid narinfo: ${(err as Error).message}`)
  }
  return {
    storePath: info.storePath,
    hashPart: parseStorePath(info.storePath).hashPart,
    url: info.url,
    compression: info.compression ?? NARINFO_DEFAULT_COMPRESSION,
    narHash: info.narHash,
    narSize: info.narSize,
    references: info.references,
    parsed: info
  }
}

/** The file name of a NAR in the shim's URL space and the local cache: the NarHash's nix-base32 digest. */
export function narFileKey(narHash: string): string {
  return narHash.slice('sha256:'.length)
}
