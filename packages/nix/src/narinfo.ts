/**
 * narinfo: the text a Nix binary cache serves at `<hash part>.narinfo` to describe one store path.
 *
 * A real one, written by `nix copy --to 'file:///DIR?compression=none'` and signed by `nix store sign`
 * (Nix 2.8.0; packages/nix/test/fixtures/narinfo/top.narinfo, made by regenerate.sh there):
 *
 * ```text
 * StorePath: /nix/store/l60h9azr43q47lr2xjbprpp3p70d4gy2-narthex-fixture-top
 * URL: nar/1w3l8qilprhiy67k5bjszbf9nzl4mynrqnj854j7a943jc09vggi.nar
 * Compression: none
 * FileHash: sha256:1w3l8qilprhiy67k5bjszbf9nzl4mynrqnj854j7a943jc09vggi
 * FileSize: 680
 * NarHash: sha256:1w3l8qilprhiy67k5bjszbf9nzl4mynrqnj854j7a943jc09vggi
 * NarSize: 680
 * References: 0q6k2c3lrwx0yfm97ms0v2xp9aj9v7m2-narthex-fixture-leaf l60h9azr43q47lr2xjbprpp3p70d4gy2-narthex-fixture-top q3g7l5bip047j1k7xrkh4s5773jsh7s0-narthex-fixture-mid
 * Deriver: msgyzkp771fz4dabbxz11fb3938290zg-narthex-fixture-top.drv
 * Sig: narthex-test-1:w2LdXiD+2Sts2xit3TZMnUn3YjEfkfIa+BSg6T0mr6/5rzB4swr6lxZK3A6sxdSakXfWwzsXwdSDmIOUO+LHBw==
 * Sig: narthex-test-2:KL/nuPHmYV//lWutOB5sf2QJCsmpfHAnt7JP6v2UaTqeh+//iOgWCMtd+BWj2rYgAx3zshV2hlXJWGGY24K7CA==
 * ```
 *
 * Every line is `Key: value\n` (exactly one space after the colon; the last line ends with `\n` too). Fields, in
 * the order Nix writes them (Nix `src/libstore/nar-info.cc`, `NarInfo::to_string`), and whether the signature
 * covers them:
 *
 * | field         | required | signed | value                                                                    |
 * | ------------- | -------- | ------ | ------------------------------------------------------------------------ |
 * | `StorePath`   | yes      | yes    | full store path                                                          |
 * | `URL`         | yes      | no     | where the (compressed) NAR is, relative to the cache root               |
 * | `Compression` | no       | no     | `none`, `xz`, `bzip2`, `zstd`, `br`, ...; absent means `bzip2`           |
 * | `FileHash`    | no       | no     | `sha256:<nix32>` of the file at URL                                      |
 * | `FileSize`    | no       | no     | size of the file at URL, may be 0                                        |
 * | `NarHash`     | yes      | yes    | `sha256:<nix32>` of the uncompressed NAR                                 |
 * | `NarSize`     | yes      | yes    | size of the uncompressed NAR, not 0                                      |
 * | `References`  | no       | yes    | base names (`<hash>-<name>`), space-separated, may be empty              |
 * | `Deriver`     | no       | no     | base name of the `.drv`; `unknown-deriver` means none                    |
 * | `System`      | no       | no     | written by Nix 2.8 when known (never by `nix copy`); dropped by later Nix |
 * | `Sig`         | no, many | —      | `<key name>:<base64 of a 64-byte ed25519 signature>`                     |
 * | `CA`          | no       | no     | `text:sha256:<nix32>` or `fixed:[r:]<algo>:<nix32>`; such a path needs no signature |
 *
 * What is signed is the fingerprint `1;<StorePath>;<NarHash>;<NarSize>;<References as full store paths, sorted,
 * comma-separated>` (Nix `ValidPathInfo::fingerprint`). For the narinfo above:
 * `1;/nix/store/l60h…-narthex-fixture-top;sha256:1w3l…vggi;680;/nix/store/0q6k…-narthex-fixture-leaf,/nix/store/l60h…-narthex-fixture-top,/nix/store/q3g7…-narthex-fixture-mid`.
 * So a cache may re-serve a NAR under another URL or compression and the signature still holds.
 *
 * Parsing is strict where Nix is lenient, so that what narthex accepts Nix reads the same way:
 * - a line that is not `Key: value` (no colon, no space after it, a key that is not a word, a blank line, a
 *   carriage return, a control character) is an error; so is text whose last line lacks `\n`;
 * - every field but `Sig` may appear once (Nix only checks `References` and `CA`); the same `Sig` twice and the same
 *   reference twice are errors;
 * - hashes must be sha256 (the only kind Nix writes); any form Nix accepts (nix32, base16, base64, SRI) is read
 *   and kept as `sha256:<nix32>`, the form Nix writes and signs;
 * - sizes are plain decimal (no sign, no leading zeros, no spaces), at most 2^53 - 1 (`NARINFO_MAX_SIZE`): a JS
 *   number, not a bigint, since no NAR comes near 8 PiB; `NarSize` must not be 0;
 * - store paths, references and the deriver are checked as Nix checks them (store-path.ts); `Sig` values must be
 *   well-formed signatures (Nix would throw on a malformed one when checking signatures).
 *
 * Unknown fields are ignored by Nix. narthex keeps them (`extra`, in order) so nothing is lost, and writes them
 * after every known field, where later Nix versions put their additions (`Provenance`).
 *
 * `formatNarinfo` writes what Nix's `to_string` writes: known fields in the order above, `References` always
 * (possibly empty, as `References: `), references and signatures sorted and without duplicates (Nix keeps them
 * in sets). So `formatNarinfo(parseNarinfo(t)) === t` for every narinfo Nix writes; other input comes out in
 * Nix's canonical form (also `Deriver: unknown-deriver` is dropped, as Nix drops it).
 */
import { DEFAULT_STORE_DIR, NARINFO_MAX_SIZE } from './constants.js'
import { InvalidNarinfoError, NarinfoParseError } from './errors.js'
import { formatHash, HASH_SIZES, type HashAlgorithm, parseHash } from './hash.js'
import {
  fingerprint,
  formatSignature,
  type PublicKey,
  parseSignature,
  type SecretKey,
  signDetached,
  verifyDetached
} from './signature.js'
import { parseBaseName, parseStorePath } from './store-path.js'

/** A field narthex does not know, kept as written. */
export interface NarinfoField {
  readonly key: string
  readonly value: string
}

/** One narinfo. Hashes are `sha256:<nix32>`; references and the deriver are base names (`<hash>-<name>`). */
export interface Narinfo {
  /** Full store path, e.g. `/nix/store/<hash>-hello-2.12`. */
  readonly storePath: string
  /** Where the NAR file is, usually relative to the cache root (`nar/<filehash>.nar.xz`). */
  readonly url: string
  /** Compression of the file at `url`; absent means bzip2 (`NARINFO_DEFAULT_COMPRESSION`), as in Nix. */
  readonly compression?: string
  /** `sha256:<nix32>` of the file at `url`. */
  readonly fileHash?: string
  /** Size in bytes of the file at `url`. */
  readonly fileSize?: number
  /** `sha256:<nix32>` of the uncompressed NAR. */
  readonly narHash: string
  /** Size in bytes of the uncompressed NAR; never 0. */
  readonly narSize: number
  /** Base names of the paths this one refers to (may include itself). */
  readonly references: readonly string[]
  /** Base name of the derivation that built the path. */
  readonly deriver?: string
  /** The system the path was built for (Nix 2.8 `System:`). */
  readonly system?: string
  /** `keyname:base64` signatures. */
  readonly sigs: readonly string[]
  /** Content address (`fixed:r:sha256:<nix32>`, `text:sha256:<nix32>`), for content-addressed paths. */
  readonly ca?: string
  /** Fields narthex does not know, in the order they appeared; written after the known fields. */
  readonly extra?: readonly NarinfoField[]
}

export interface ParseNarinfoOptions {
  /** The store directory `StorePath` must be in (default `/nix/store`). */
  readonly storeDir?: string
}

/** The result of a successful `verifyNarinfo`: the signature that verified and the trusted key it verified with. */
export interface NarinfoVerification {
  readonly key: PublicKey
  readonly sig: string
}

/** The fields narthex knows, in the order Nix writes them. */
const KNOWN_FIELDS = [
  'StorePath',
  'URL',
  'Compression',
  'FileHash',
  'FileSize',
  'NarHash',
  'NarSize',
  'References',
  'Deriver',
  'System',
  'Sig',
  'CA'
] as const
type KnownField = (typeof KNOWN_FIELDS)[number]
const KNOWN = new Set<string>(KNOWN_FIELDS)

/** A field name: a letter, then letters, digits and dashes. */
const KEY = /^[A-Za-z][A-Za-z0-9-]*$/
/** True when `s` holds an ASCII control character (U+0000..U+001F, U+007F), which no field value may. */
function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c === 0x7f) return true
  }
  return false
}
const DECIMAL = /^(?:0|[1-9][0-9]*)$/
const UNKNOWN_DERIVER = 'unknown-deriver'

/** Why a value is invalid; the parser adds the line, the formatter its own error class. */
class Invalid {
  constructor(
    readonly message: string,
    readonly cause?: unknown
  ) {}
}

function because(message: string, err: unknown): Invalid {
  return new Invalid(`${message}: ${(err as Error).message}`, err)
}

function checkText(value: string, what: string): string {
  if (value.length === 0) return fail(`${what} is empty`)
  if (hasControl(value)) return fail(`${what} contains a control character`)
  if (value.startsWith(' ') || value.endsWith(' ')) return fail(`${what} has leading or trailing spaces`)
  return value
}

/** A single word: Compression (`none`, `xz`, ...) and System (`x86_64-linux`) never hold spaces. */
function checkWord(value: string, what: string): string {
  checkText(value, what)
  if (value.includes(' ')) fail(`${what} contains a space`)
  return value
}

function fail(message: string, cause?: unknown): never {
  throw new Invalid(message, cause)
}

function checkStorePath(value: string, storeDir: string): string {
  checkText(value, 'store path')
  try {
    parseStorePath(value, storeDir)
  } catch (err) {
    throw because('invalid store path', err)
  }
  return value
}

function checkBaseName(value: string, what: string): string {
  try {
    parseBaseName(value)
  } catch (err) {
    throw because(`invalid ${what}`, err)
  }
  return value
}

/** Any sha256 form Nix accepts, returned as `sha256:<nix32>`. */
function checkSha256(value: string): string {
  let hash: ReturnType<typeof parseHash>
  try {
    hash = parseHash(value)
  } catch (err) {
    throw because('invalid hash', err)
  }
  if (hash.algorithm !== 'sha256') fail(`expected a sha256 hash, got ${hash.algorithm}`)
  return formatHash(hash)
}

function checkSize(value: string, allowZero: boolean): number {
  if (!DECIMAL.test(value)) {
    fail(`${JSON.stringify(value)} is not a plain decimal number (digits only, no sign or leading zeros)`)
  }
  const n = Number(value)
  if (n > NARINFO_MAX_SIZE) fail(`${value} is larger than ${NARINFO_MAX_SIZE}`)
  if (n === 0 && !allowZero) fail('must not be 0')
  return n
}

function checkSizeValue(n: number, allowZero: boolean): number {
  if (!Number.isSafeInteger(n) || n < 0) fail(`${n} is not a whole number of bytes up to ${NARINFO_MAX_SIZE}`)
  if (n === 0 && !allowZero) fail('must not be 0')
  return n
}

function checkReferenceList(refs: readonly string[]): readonly string[] {
  const seen = new Set<string>()
  for (const r of refs) {
    checkBaseName(r, 'reference')
    if (seen.has(r)) fail(`reference ${r} appears twice`)
    seen.add(r)
  }
  return refs
}

function parseReferences(value: string): readonly string[] {
  if (value === '') return []
  return checkReferenceList(value.split(' ').map((r) => (r === '' ? fail('extra space in the list') : r)))
}

function checkSig(value: string): string {
  let canonical: string
  try {
    canonical = formatSignature(parseSignature(value))
  } catch (err) {
    throw because('invalid signature', err)
  }
  if (canonical !== value) fail('signature is not in canonical base64')
  return value
}

/** `text:sha256:<hash>` or `fixed:[r:]<algo>:<hash>`, returned as Nix renders it (nix32). */
function checkCa(value: string): string {
  let method: string
  let rest: string
  if (value.startsWith('text:')) {
    method = 'text:'
    rest = value.slice(5)
  } else if (value.startsWith('fixed:r:')) {
    method = 'fixed:r:'
    rest = value.slice(8)
  } else if (value.startsWith('fixed:')) {
    method = 'fixed:'
    rest = value.slice(6)
  } else {
    return fail('a content address starts with "text:" or "fixed:"')
  }
  const colon = rest.indexOf(':')
  const algorithm = rest.slice(0, colon)
  if (colon <= 0 || !Object.hasOwn(HASH_SIZES, algorithm)) {
    return fail('a content address has the form <method>:<algo>:<hash>')
  }
  if (method === 'text:' && algorithm !== 'sha256') fail('a text content address uses sha256')
  let hash: ReturnType<typeof parseHash>
  try {
    hash = parseHash(rest, algorithm as HashAlgorithm)
  } catch (err) {
    throw because('invalid content address hash', err)
  }
  return method + formatHash(hash)
}

function checkDeriver(value: string): string {
  return checkBaseName(value, 'deriver')
}

/** The record being built up by the parser. */
interface Fields {
  storePath?: string
  url?: string
  compression?: string
  fileHash?: string
  fileSize?: number
  narHash?: string
  narSize?: number
  references?: readonly string[]
  deriver?: string
  system?: string
  ca?: string
}

/**
 * Parse a narinfo; throws `NarinfoParseError` (with `.line` and `.field`) on anything Nix would reject or read
 * differently. See the top of this file for the rules.
 *
 * @example
 * ```ts
 * const info = parseNarinfo(await (await fetch(`${cache}/${hashPart}.narinfo`)).text())
 * info.narHash // 'sha256:1w3l8qilprhiy67k5bjszbf9nzl4mynrqnj854j7a943jc09vggi'
 * ```
 */
export function parseNarinfo(text: string, options: ParseNarinfoOptions = {}): Narinfo {
  const storeDir = options.storeDir ?? DEFAULT_STORE_DIR
  const fields: Fields = {}
  const sigs: string[] = []
  const extra: NarinfoField[] = []
  const seen = new Set<string>()
  const lines = text.split('\n')
  // text ends with "\n" exactly when the split leaves an empty last element.
  const last = lines.pop()
  if (last !== '') {
    throw new NarinfoParseError('the last line does not end with a newline', { line: lines.length + 1 })
  }
  lines.forEach((line, i) => {
    const lineNo = i + 1
    const colon = line.indexOf(':')
    if (colon < 0) {
      throw new NarinfoParseError(
        line === '' ? 'blank line' : `expected "Key: value", got ${JSON.stringify(line.slice(0, 80))}`,
        { line: lineNo }
      )
    }
    const key = line.slice(0, colon)
    if (!KEY.test(key)) {
      throw new NarinfoParseError(`${JSON.stringify(key.slice(0, 80))} is not a field name`, { line: lineNo })
    }
    if (line[colon + 1] !== ' ') {
      throw new NarinfoParseError('expected ": " after the field name', { line: lineNo, field: key })
    }
    const value = line.slice(colon + 2)
    try {
      if (hasControl(value)) fail('the value contains a control character (CRLF line endings?)')
      if (!KNOWN.has(key)) {
        extra.push({ key, value })
        return
      }
      if (key !== 'Sig') {
        if (seen.has(key)) fail(`${key} appears twice`)
        seen.add(key)
      }
      readField(key as KnownField, value, fields, sigs, storeDir)
    } catch (err) {
      if (!(err instanceof Invalid)) throw err
      throw new NarinfoParseError(err.message, { line: lineNo, field: key, cause: err.cause })
    }
  })
  const { storePath, url, narHash, narSize } = fields
  // Checked in the order Nix checks them, so both name the same missing field.
  if (storePath === undefined) throw new NarinfoParseError('StorePath is missing', { field: 'StorePath' })
  if (narHash === undefined) throw new NarinfoParseError('NarHash is missing', { field: 'NarHash' })
  if (url === undefined) throw new NarinfoParseError('URL is missing', { field: 'URL' })
  if (narSize === undefined) throw new NarinfoParseError('NarSize is missing', { field: 'NarSize' })
  return {
    storePath,
    url,
    ...optional('compression', fields.compression),
    ...optional('fileHash', fields.fileHash),
    ...optional('fileSize', fields.fileSize),
    narHash,
    narSize,
    references: fields.references ?? [],
    ...optional('deriver', fields.deriver),
    ...optional('system', fields.system),
    sigs,
    ...optional('ca', fields.ca),
    ...(extra.length > 0 ? { extra } : {})
  }
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V }
}

function readField(key: KnownField, value: string, f: Fields, sigs: string[], storeDir: string): void {
  switch (key) {
    case 'StorePath':
      f.storePath = checkStorePath(value, storeDir)
      break
    case 'URL':
      f.url = checkText(value, 'URL')
      break
    case 'Compression':
      f.compression = checkWord(value, 'Compression')
      break
    case 'FileHash':
      f.fileHash = checkSha256(value)
      break
    case 'FileSize':
      f.fileSize = checkSize(value, true)
      break
    case 'NarHash':
      f.narHash = checkSha256(value)
      break
    case 'NarSize':
      f.narSize = checkSize(value, false)
      break
    case 'References':
      f.references = parseReferences(value)
      break
    case 'Deriver':
      if (value !== UNKNOWN_DERIVER) f.deriver = checkDeriver(value)
      break
    case 'System':
      f.system = checkWord(value, 'System')
      break
    case 'Sig':
      if (sigs.includes(value)) fail('the same signature appears twice')
      sigs.push(checkSig(value))
      break
    case 'CA':
      f.ca = checkCa(value)
      break
  }
}

/**
 * UTF-8 byte order, as Nix's `std::set<std::string>` sorts. That is code point order, which equals UTF-16
 * code-unit order unless the first difference involves a surrogate; only then are the strings encoded.
 */
function byteOrder(a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x === y) continue
    if (x < 0xd800 && y < 0xd800) return x - y
    return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
  }
  return a.length - b.length
}

function sortedUnique(values: readonly string[]): string[] {
  return [...new Set(values)].sort(byteOrder)
}

/**
 * Write a narinfo as Nix writes it (see the top of this file). Throws `InvalidNarinfoError` naming the field when
 * a value could not be read back (a newline in the URL, a NarSize of 0, a malformed hash or signature, ...).
 */
export function formatNarinfo(info: Narinfo): string {
  const line = (field: string, check: () => string): string => {
    try {
      return `${field}: ${check()}\n`
    } catch (err) {
      if (!(err instanceof Invalid)) throw err
      throw new InvalidNarinfoError(err.message, { field, cause: err.cause })
    }
  }
  let out = ''
  out += line('StorePath', () => checkStorePath(info.storePath, storeDirOf(info.storePath)))
  out += line('URL', () => checkText(info.url, 'URL'))
  if (info.compression !== undefined)
    out += line('Compression', () => checkWord(info.compression!, 'Compression'))
  if (info.fileHash !== undefined) out += line('FileHash', () => checkSha256(info.fileHash!))
  if (info.fileSize !== undefined) out += line('FileSize', () => String(checkSizeValue(info.fileSize!, true)))
  out += line('NarHash', () => checkSha256(info.narHash))
  out += line('NarSize', () => String(checkSizeValue(info.narSize, false)))
  out += line('References', () => checkReferenceList(sortedUnique(info.references)).join(' '))
  if (info.deriver !== undefined) out += line('Deriver', () => checkDeriver(info.deriver!))
  if (info.system !== undefined) out += line('System', () => checkWord(info.system!, 'System'))
  for (const sig of sortedUnique(info.sigs)) out += line('Sig', () => checkSig(sig))
  if (info.ca !== undefined) out += line('CA', () => checkCa(info.ca!))
  for (const { key, value } of info.extra ?? []) {
    out += line(key, () => {
      if (!KEY.test(key)) fail(`${JSON.stringify(key)} is not a field name`)
      if (KNOWN.has(key)) fail(`${key} is a known field; set it by name, not in extra`)
      if (hasControl(value)) fail('the value contains a control character')
      return value
    })
  }
  return out
}

/** The store directory of a full store path: everything before its last `/`. */
function storeDirOf(storePath: string): string {
  const slash = storePath.lastIndexOf('/')
  return slash > 0 ? storePath.slice(0, slash) : DEFAULT_STORE_DIR
}

/**
 * The string a narinfo's signatures sign: `1;<StorePath>;<NarHash>;<NarSize>;<References as full paths>`
 * (Nix `ValidPathInfo::fingerprint`). References are resolved in the store directory of `StorePath`.
 */
export function fingerprintOf(info: Narinfo): string {
  const storeDir = storeDirOf(info.storePath)
  return fingerprint({
    storePath: info.storePath,
    narHash: info.narHash,
    narSize: info.narSize,
    references: sortedUnique(info.references).map((r) => `${storeDir}/${r}`)
  })
}

/**
 * The narinfo with a signature by `key` added, as `nix store sign` adds it. Unchanged when that exact signature
 * is already there (ed25519 signatures are deterministic, so signing twice gives the same one).
 */
export function signNarinfo(info: Narinfo, key: SecretKey): Narinfo {
  const sig = signDetached(key, fingerprintOf(info))
  if (info.sigs.includes(sig)) return info
  return { ...info, sigs: sortedUnique([...info.sigs, sig]) }
}

/**
 * The first signature of `info` that verifies with one of `keys`, or `undefined` when none does. Keys are matched
 * by name as Nix matches `trusted-public-keys`: Nix keeps them in a map by name, so when several keys share a name
 * only the first counts, and narthex does the same (Nix `getDefaultPublicKeys`, `verifyDetached`).
 * Malformed signatures never verify.
 *
 * Nix also accepts a content-addressed path (one with `ca`) with no valid signature; this function checks
 * signatures only.
 */
export function verifyNarinfo(info: Narinfo, keys: Iterable<PublicKey>): NarinfoVerification | undefined {
  const byName = new Map<string, PublicKey>()
  for (const key of keys) if (!byName.has(key.name)) byName.set(key.name, key)
  const message = fingerprintOf(info)
  for (const sig of info.sigs) {
    const colon = sig.indexOf(':')
    const key = colon > 0 ? byName.get(sig.slice(0, colon)) : undefined
    if (key !== undefined && verifyDetached(message, sig, [key])) return { key, sig }
  }
  return undefined
}
