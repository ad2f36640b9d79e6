/**
 * @packageDocumentation
 *
 * Nix's formats, implemented to match the real `nix` byte for byte: nix-base32, hash strings, store paths,
 * signing keys and narinfo signatures, NAR serialisation, narinfo and `nix-cache-info`.
 *
 * Pure: bytes or async iterables in, values out. No network and no database; the only file-system access is the
 * NAR writer/restorer, which by definition reads or writes a tree.
 *
 * @example
 * ```ts
 * import { fingerprint, formatNarinfo, parseNarinfo, parseSecretKey, signDetached, signNarinfo } from '@narthex/nix'
 * const key = parseSecretKey(await readFile('cache.sec', 'utf8'))
 * const sig = signDetached(key, fingerprint({ storePath, narHash, narSize, references }))
 * // or, for a whole narinfo:
 * const signed = formatNarinfo(signNarinfo(parseNarinfo(text), key))
 *
 * // NARs: serialise a tree, hash it, list or restore a NAR stream
 * const { hash, size } = await hashNar(dumpPath('./result'))
 * await restoreNar(process.stdin, './out')
 * ```
 */
export * from './cache-info.js'
export * from './constants.js'
export * from './errors.js'
export * from './hash.js'
export {
  type DecodeNarOptions,
  decodeNar,
  isInvalidNarError,
  type NarDirectoryEntry,
  type NarEntry,
  type NarRegularEntry,
  type NarSymlinkEntry
} from './nar-decode.js'
export {
  type EncodeNarOptions,
  encodeNar,
  type MaybePromise,
  type NarSource,
  type NarSourceFile
} from './nar-encode.js'
export { compareNames, formatNarPath, type NarNodeStat } from './nar-format.js'
export {
  createFsNarSource,
  type DumpPathOptions,
  dumpPath,
  type FsNarSourceOptions,
  type RestoreNarOptions,
  restoreNar
} from './nar-fs.js'
export { hashNar, type NarHashResult } from './nar-hash.js'
export { formatNarListing, type NarListingFormat } from './nar-list.js'
export * from './narinfo.js'
export * as nixBase32 from './nix-base32.js'
export * from './signature.js'
export * from './store-path.js'
