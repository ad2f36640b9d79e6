/** Test helpers: an orchestrator on 127.0.0.1:0 in a temp directory, builder keys, attestations. */
import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  type AfterAgreement,
  type AttestationJson,
  formatAttestation,
  signAttestation
} from '@narthex/consensus'
import { formatPublicKey, formatSecretKey, generateSecretKey, nixBase32, type SecretKey } from '@narthex/nix'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { tempDir } from '../../../test/util/index.js'
import { createOrchestrator, type Orchestrator, resolveConfig } from '../src/index.js'

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest()
}

export function storePath(name: string, seed = name): string {
  return `/nix/store/${nixBase32.encode(sha256(`path:${seed}`).subarray(0, 20))}-${name}`
}

export function hashPartOf(path: string): string {
  return path.slice('/nix/store/'.length, '/nix/store/'.length + 32)
}

export function manifestRoot(seed: string): string {
  return CID.create(1, 0x71, Digest.create(0x12, sha256(`manifest:${seed}`))).toString()
}

/** A signed attestation (JSON form) by `key` for output `out` of derivation `name`; `variant` changes the NAR. */
export function attest(key: SecretKey, name: string, variant = 'a', time = Date.now()): AttestationJson {
  const drvPath = storePath(`${name}.drv`)
  return formatAttestation(
    signAttestation(key, {
      drvPath,
      outputName: 'out',
      outPath: storePath(name),
      narHash: `sha256:${nixBase32.encode(sha256(`nar:${name}:${variant}`))}`,
      narSize: 1000 + variant.length,
      references: [storePath('glibc'), storePath(name)].sort(),
      deriver: drvPath,
      manifestRoot: manifestRoot(`${name}:${variant}`),
      time
    })
  )
}

export interface Harness {
  readonly orchestrator: Orchestrator
  readonly url: string
  readonly builders: SecretKey[]
  readonly key: SecretKey
  readonly dir: string
  /** Stop and start again on the same data directory and port, optionally with other revocations. */
  restart(opts?: { revoked?: string[] }): Promise<void>
  stop(): Promise<void>
}

type AfterAgreementOption = {
  quorum?: number
  afterAgreement?: AfterAgreement
  builders?: number
  revoked?: string[]
}

export async function startHarness(opts: AfterAgreementOption = {}): Promise<Harness> {
  const dir = await tempDir('narthex-orch-')
  const key = generateSecretKey('orchestrator-test-1')
  const keyFile = join(dir.path, 'orchestrator.sec')
  await writeFile(keyFile, formatSecretKey(key))
  const builders = Array.from({ length: opts.builders ?? 3 }, (_, i) => generateSecretKey(`builder-${i + 1}`))
  const config = resolveConfig({
    dataDir: join(dir.path, 'data'),
    keyFile,
    host: '127.0.0.1',
    port: 0,
    quorum: opts.quorum ?? 2,
    afterAgreement: opts.afterAgreement ?? 'keep',
    p2pListen: [],
    trust: builders.map((b) => ({
      key: formatPublicKey(b.publicKey),
      revoked: opts.revoked?.includes(b.name) ?? false
    }))
  })
  let orchestrator = createOrchestrator({ config })
  await orchestrator.start()
  const h = {
    orchestrator,
    url: orchestrator.url,
    builders,
    key,
    dir: dir.path,
    async restart(again: { revoked?: string[] } = {}) {
      await orchestrator.stop()
      const trust = builders.map((b) => ({
        key: formatPublicKey(b.publicKey),
        revoked: (again.revoked ?? opts.revoked)?.includes(b.name) ?? false
      }))
      orchestrator = createOrchestrator({ config: { ...config, trust, port: orchestrator.port } })
      await orchestrator.start()
      h.orchestrator = orchestrator
    },
    async stop() {
      await orchestrator.stop()
      await dir.cleanup()
    }
  }
  return h
}

/** A parsed response body; tests check it field by field. */
// biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted on field by field
export type Json = any

export async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {}
): Promise<{ status: number; json: Json }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body)
  })
  return { status: res.status, json: await res.json() }
}

export async function get(url: string): Promise<{ status: number; json: Json; headers: Headers }> {
  const res = await fetch(url)
  const text = await res.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = text
  }
  return { status: res.status, json, headers: res.headers }
}
