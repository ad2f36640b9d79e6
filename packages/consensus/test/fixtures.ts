/** Deterministic test data for attestations: keys from fixed seeds, store paths, manifest roots. */
import { createHash, createPrivateKey } from 'node:crypto'
import { nixBase32, parseSecretKey, type SecretKey } from '@narthex/nix'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import type { AttestationFields } from '../src/index.js'

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest()
}

/** A Nix secret key named `name` whose seed is derived from `seed` (so signatures are reproducible). */
export function keyFromSeed(name: string, seed: string): SecretKey {
  const raw = sha256(`key:${seed}`)
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), raw])
  const jwk = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ format: 'jwk' })
  const pub = Buffer.from(jwk.x!, 'base64url')
  return parseSecretKey(`${name}:${Buffer.concat([raw, pub]).toString('base64')}`)
}

/** A valid store path `/nix/store/<hash>-<name>` with a hash part derived from `seed`. */
export function storePath(name: string, seed = name): string {
  return `/nix/store/${nixBase32.encode(sha256(`path:${seed}`).subarray(0, 20))}-${name}`
}

export function narHash(seed: string): string {
  return `sha256:${nixBase32.encode(sha256(`nar:${seed}`))}`
}

/** A manifest root CID string (CIDv1, dag-cbor, sha2-256) derived from `seed`. */
export function manifestRoot(seed: string): string {
  return CID.create(1, 0x71, Digest.create(0x12, sha256(`manifest:${seed}`))).toString()
}

/** Attestation fields for output `out` of a derivation named `name`; `variant` changes the NAR. */
export function fields(
  name: string,
  variant = 'a',
  time = 1_700_000_000_000
): Omit<AttestationFields, 'builder'> {
  const drvPath = storePath(`${name}.drv`)
  return {
    drvPath,
    outputName: 'out',
    outPath: storePath(name),
    narHash: narHash(`${name}:${variant}`),
    narSize: 1000 + variant.length,
    references: [storePath('glibc'), storePath(name)].sort(),
    deriver: drvPath,
    manifestRoot: manifestRoot(`${name}:${variant}`),
    time
  }
}
