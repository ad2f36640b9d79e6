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
 *
 * // or, for a whole narinfo:
 * const signed = formatNarinfo(signNarinfo(parseNarinfo(text), key))
 * ```
 */
export * from './cache-info.js'
export * from './constants.js'
export * from './errors.js'
export * from './hash.js'
export * from './narinfo.js'
export * as nixBase32 from './nix-base32.js'
export * from './signature.js'
export * from './store-path.js'
