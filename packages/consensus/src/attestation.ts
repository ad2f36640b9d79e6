/**
 * Attestations: a builder's signed statement "building output `outputName` of `drvPath` gave `outPath`, whose
 * NAR has this NarHash, NarSize, References and manifest root".
 *
 * ## JSON form (what builders send and the orchestrator stores)
 * ```json
 * {
 *   "v": 1,
 *   "builder": "builder-1",
 *   "drvPath": "/nix/store/0c5ff1ab6cdn3hpmrhscmgn3jxgcfzkp-hello.drv",
 *   "outputName": "out",
 *   "outPath": "/nix/store/q3bz0ygg4lcmdbz1vbqcd9lyz1cd6m7a-hello",
 *   "narHash": "sha256:1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s",
 *   "narSize": 120,
 *   "references": [],
 *   "deriver": "/nix/store/0c5ff1ab6cdn3hpmrhscmgn3jxgcfzkp-hello.drv",
 *   "manifestRoot": "bafyreib...",
 *   "time": 1700000000000,
 *   "signature": "builder-1:<base64 of 64 bytes>"
 * }
 * ```
 * Every field is required (`deriver` may be `null`), no other field is allowed.
 *
 * ## Canonical encoding (the bytes that are signed), version 1
 * ASCII, eleven lines, each ending in `\n` (0x0a), in this order, `key:value` with no spaces:
 * ```
 * narthex-attestation-v1
 * builder:<builder key name>
 * drv-path:<full store path of the derivation>
 * output-name:<output name>
 * out-path:<full output store path>
 * nar-hash:sha256:<nix-base32 digest, 52 characters>
 * nar-size:<decimal, no sign, no leading zeros>
 * references:<full store paths, sorted by byte value, no duplicates, joined by ",">   (empty after ":" when none)
 * deriver:<full store path of the deriver, or empty>
 * manifest-root:<CIDv1 dag-cbor sha2-256, multibase base32 lower case ("b...")>
 * time:<milliseconds since the Unix epoch, decimal>
 * ```
 * No value can contain `\n` or `,`: each field's grammar is checked before encoding (store paths, output names,
 * builder names, hashes and CIDs have no such characters), so the encoding is unambiguous. The signature is a Nix-format detached ed25519
 * signature over these bytes with the builder's key: `signature = "<builder>:" + base64(ed25519(bytes))`.
 */

import {
  formatSha256,
  nixBase32,
  type PublicKey,
  parseHash,
  parseStorePath,
  type SecretKey,
  signDetached,
  verifyDetached
} from '@narthex/nix'
import { CID } from 'multiformats/cid'
import {
  ATTESTATION_DOMAIN,
  ATTESTATION_VERSION,
  BUILDER_NAME_PATTERN,
  MANIFEST_ROOT_CODEC,
  MANIFEST_ROOT_HASH,
  MAX_NAR_SIZE,
  MAX_REFERENCES,
  OUTPUT_NAME_PATTERN
} from './constants.js'
import { InvalidAttestationError } from './errors.js'

/** What a builder states, before signing. */
export interface AttestationFields {
  /** Name of the builder's signing key (the part before `:` in its Nix key). */
  readonly builder: string
  /** Full store path of the derivation that was built. */
  readonly drvPath: string
  /** The output of that derivation (`out`, `dev`...). */
  readonly outputName: string
  /** Full store path of the output. */
  readonly outPath: string
  /** `sha256:<nix32>` of the output's NAR. */
  readonly narHash: string
  /** Size in bytes of the output's NAR. */
  readonly narSize: number
  /** Full store paths the output refers to, sorted, without duplicates (may include itself). */
  readonly references: readonly string[]
  /** Full store path of the deriver as Nix records it, or null when Nix has none. */
  readonly deriver: string | null
  /** Manifest root CID (see @narthex/content) in its canonical string form. */
  readonly manifestRoot: string
  /** When the builder made the attestation, milliseconds since the Unix epoch. */
  readonly time: number
}

/** A signed attestation. */
export interface Attestation extends AttestationFields {
  /** `<builder>:<base64 of the 64-byte ed25519 signature over encodeAttestation(fields)>`. */
  readonly signature: string
}

/** The JSON form of an attestation, as sent over HTTP and stored. */
export interface AttestationJson {
  readonly v: 1
  readonly builder: string
  readonly drvPath: string
  readonly outputName: string
  readonly outPath: string
  readonly narHash: string
  readonly narSize: number
  readonly references: readonly string[]
  readonly deriver: string | null
  readonly manifestRoot: string
  readonly time: number
  readonly signature: string
}

const JSON_KEYS: ReadonlySet<string> = new Set([
  'v',
  'builder',
  'drvPath',
  'outputName',
  'outPath',
  'narHash',
  'narSize',
  'references',
  'deriver',
  'manifestRoot',
  'time',
  'signature'
])

function fail(field: string, message: string): never {
  throw new InvalidAttestationError(message, field)
}

function checkString(value: unknown, field: string): string {
  if (typeof value !== 'string') fail(field, 'must be a string')
  return value
}

function checkStorePath(value: unknown, field: string): string {
  const s = checkString(value, field)
  try {
    parseStorePath(s)
  } catch (err) {
    fail(field, (err as Error).message)
  }
  return s
}

function checkDrvPath(value: unknown, field: string): string {
  const s = checkStorePath(value, field)
  if (!s.endsWith('.drv')) fail(field, `${JSON.stringify(s)} is not a derivation (.drv) path`)
  return s
}

/** Validate a builder key name (see BUILDER_NAME_PATTERN). */
export function checkBuilderName(value: unknown, field = 'builder'): string {
  const s = checkString(value, field)
  if (!BUILDER_NAME_PATTERN.test(s)) fail(field, `${JSON.stringify(s)} is not a valid builder key name`)
  return s
}

/** Normalise a sha256 hash in any form Nix accepts to `sha256:<nix32>`. */
const CANONICAL_SHA256 = /^sha256:[0-9a-df-np-sv-z]{52}$/

function checkNarHash(value: unknown): string {
  const s = checkString(value, 'narHash')
  try {
    // Already canonical (what builders send): check the padding bits and keep the string as it is.
    if (CANONICAL_SHA256.test(s)) {
      nixBase32.decode(s.slice(7), 32)
      return s
    }
    return formatSha256(parseHash(s, 'sha256').digest)
  } catch (err) {
    fail('narHash', (err as Error).message)
  }
}

function checkInteger(value: unknown, field: string, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > max) {
    fail(field, `must be an integer from 0 to ${max}`)
  }
  return value
}

/** Check a manifest root CID string: CIDv1, dag-cbor, sha2-256, in its canonical base32 form. */
export function checkManifestRoot(value: unknown, field = 'manifestRoot'): string {
  const s = checkString(value, field)
  let cid: CID
  try {
    cid = CID.parse(s)
  } catch {
    fail(field, `${JSON.stringify(s.slice(0, 80))} is not a CID`)
  }
  if (cid.version !== 1 || cid.code !== MANIFEST_ROOT_CODEC)
    fail(field, 'must be a CIDv1 with codec dag-cbor')
  if (cid.multihash.code !== MANIFEST_ROOT_HASH || cid.multihash.size !== 32) {
    fail(field, 'must be a sha2-256 CID')
  }
  if (cid.toString() !== s) fail(field, 'must be in canonical form (base32, lower case)')
  return s
}

function checkReferences(value: unknown): string[] {
  if (!Array.isArray(value)) fail('references', 'must be an array of store paths')
  if (value.length > MAX_REFERENCES) fail('references', `more than ${MAX_REFERENCES} references`)
  const refs = value.map((r, i) => checkStorePath(r, `references[${i}]`))
  refs.sort()
  for (let i = 1; i < refs.length; i++) {
    if (refs[i] === refs[i - 1]) fail('references', `duplicate reference ${refs[i]}`)
  }
  return refs
}

/**
 * Validate and normalise attestation fields (any object with the fields; extra properties are ignored here):
 * NarHash to `sha256:<nix32>`, references sorted. Throws `InvalidAttestationError` naming the field.
 */
export function checkAttestationFields(f: AttestationFields): AttestationFields {
  return {
    builder: checkBuilderName(f.builder),
    drvPath: checkDrvPath(f.drvPath, 'drvPath'),
    outputName: (() => {
      const s = checkString(f.outputName, 'outputName')
      if (!OUTPUT_NAME_PATTERN.test(s)) fail('outputName', `${JSON.stringify(s)} is not a valid output name`)
      return s
    })(),
    outPath: checkStorePath(f.outPath, 'outPath'),
    narHash: checkNarHash(f.narHash),
    narSize: checkInteger(f.narSize, 'narSize', MAX_NAR_SIZE),
    references: checkReferences(f.references),
    deriver: f.deriver === null ? null : checkDrvPath(f.deriver, 'deriver'),
    manifestRoot: checkManifestRoot(f.manifestRoot),
    time: checkInteger(f.time, 'time', Number.MAX_SAFE_INTEGER)
  }
}

/**
 * The canonical bytes of an attestation (what is signed). The fields must already be valid and normalised
 * (`checkAttestationFields`, `parseAttestation` and `signAttestation` ensure it).
 */
export function encodeAttestation(f: AttestationFields): Uint8Array {
  const text =
    `${ATTESTATION_DOMAIN}\n` +
    `builder:${f.builder}\n` +
    `drv-path:${f.drvPath}\n` +
    `output-name:${f.outputName}\n` +
    `out-path:${f.outPath}\n` +
    `nar-hash:${f.narHash}\n` +
    `nar-size:${f.narSize}\n` +
    `references:${f.references.join(',')}\n` +
    `deriver:${f.deriver ?? ''}\n` +
    `manifest-root:${f.manifestRoot}\n` +
    `time:${f.time}\n`
  return Buffer.from(text, 'latin1')
}

/**
 * Sign attestation fields with a builder's Nix secret key; the builder name is the key's name.
 *
 * @example
 * ```ts
 * const att = signAttestation(key, { drvPath, outputName: 'out', outPath, narHash, narSize, references: [],
 *   deriver: drvPath, manifestRoot: root.toString(), time: Date.now() })
 * ```
 */
export function signAttestation(key: SecretKey, fields: Omit<AttestationFields, 'builder'>): Attestation {
  const f = checkAttestationFields({ ...fields, builder: key.name })
  return { ...f, signature: signDetached(key, encodeAttestation(f)) }
}

/** True when the attestation's signature is by `key` (same name) and verifies over its canonical encoding. */
export function verifyAttestation(att: Attestation, key: PublicKey): boolean {
  if (key.name !== att.builder) return false
  return verifyDetached(encodeAttestation(att), att.signature, [key])
}

/**
 * Parse the JSON form (an already `JSON.parse`d value). Strict: unknown keys, a missing field, a wrong type or
 * version, or a signature by another key name than `builder` are `InvalidAttestationError`s. The result is
 * normalised (NarHash as `sha256:<nix32>`, references sorted). The signature itself is not verified here.
 */
export function parseAttestation(json: unknown): Attestation {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new InvalidAttestationError('an attestation must be a JSON object')
  }
  const o = json as Record<string, unknown>
  for (const key of Object.keys(o)) {
    if (!JSON_KEYS.has(key)) fail(key, 'unknown field')
  }
  for (const key of JSON_KEYS) {
    if (!Object.hasOwn(o, key)) fail(key, 'missing')
  }
  if (o.v !== ATTESTATION_VERSION) fail('v', `unsupported version (expected ${ATTESTATION_VERSION})`)
  const fields = checkAttestationFields(o as unknown as AttestationFields)
  const signature = checkString(o.signature, 'signature')
  if (!signature.startsWith(`${fields.builder}:`) || signature.length > fields.builder.length + 1 + 100) {
    fail('signature', 'must be "<builder>:<base64 signature>" by the key named in "builder"')
  }
  return { ...fields, signature }
}

/** The JSON form of an attestation. */
export function formatAttestation(att: Attestation): AttestationJson {
  return {
    v: ATTESTATION_VERSION,
    builder: att.builder,
    drvPath: att.drvPath,
    outputName: att.outputName,
    outPath: att.outPath,
    narHash: att.narHash,
    narSize: att.narSize,
    references: [...att.references],
    deriver: att.deriver,
    manifestRoot: att.manifestRoot,
    time: att.time,
    signature: att.signature
  }
}
