/** Shared set-up of the orchestrator benchmarks: keys, attestations, a real orchestrator process. */
import { type ChildProcess, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type AttestationJson, formatAttestation, signAttestation } from '@narthex/consensus'
import { formatPublicKey, formatSecretKey, generateSecretKey, nixBase32, type SecretKey } from '@narthex/nix'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'

export const NARTHEX_BIN = fileURLToPath(new URL('../../apps/cli/bin/narthex.js', import.meta.url))

const sha = (s: string) => createHash('sha256').update(s).digest()
export const storePath = (name: string) => `/nix/store/${nixBase32.encode(sha(name).subarray(0, 20))}-${name}`

export interface Keys {
  readonly orchestrator: SecretKey
  readonly builders: SecretKey[]
}

export function makeKeys(builders: number): Keys {
  return {
    orchestrator: generateSecretKey('bench-orchestrator-1'),
    builders: Array.from({ length: builders }, (_, i) => generateSecretKey(`bench-builder-${i + 1}`))
  }
}

/** `outputs` outputs, each attested by every builder with the same result (so each output gets agreed). */
export function makeAttestations(keys: Keys, outputs: number, prefix = 'pkg'): AttestationJson[] {
  const out: AttestationJson[] = []
  const now = Date.now()
  const glibc = storePath('glibc-2.39')
  for (let o = 0; o < outputs; o++) {
    const name = `${prefix}-${o}-1.0`
    const drvPath = storePath(`${name}.drv`)
    const fields = {
      drvPath,
      outputName: 'out',
      outPath: storePath(name),
      narHash: `sha256:${nixBase32.encode(sha(`nar:${name}`))}`,
      narSize: 10_000 + o,
      references: [glibc, storePath(name)].sort(),
      deriver: drvPath,
      manifestRoot: CID.create(1, 0x71, Digest.create(0x12, sha(`manifest:${name}`))).toString(),
      time: now
    }
    for (const b of keys.builders) out.push(formatAttestation(signAttestation(b, fields)))
  }
  return out
}

export interface RunningOrchestrator {
  readonly port: number
  readonly dir: string
  readonly child: ChildProcess
  stop(): Promise<void>
}

/** Start bench/orchestrator/null-server.mjs: the HTTP floor. */
export async function startNullServer(): Promise<RunningOrchestrator> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./null-server.mjs', import.meta.url))], {
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const port = await portOf(child)
  return {
    port,
    dir: '',
    child,
    async stop() {
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      })
    }
  }
}

function portOf(child: ChildProcess): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out)
      if (m) resolve(Number(m[1]))
    })
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)))
  })
}

/** Start `narthex orchestrator` (the built CLI) on 127.0.0.1 with a fresh data directory. */
export async function startOrchestrator(keys: Keys, quorum: number): Promise<RunningOrchestrator> {
  const dir = await mkdtemp(join(tmpdir(), 'narthex-bench-'))
  const keyFile = join(dir, 'orch.sec')
  await writeFile(keyFile, formatSecretKey(keys.orchestrator))
  const args = [
    NARTHEX_BIN,
    'orchestrator',
    '--data',
    join(dir, 'data'),
    '--listen',
    '127.0.0.1:0',
    '--key',
    keyFile,
    '--quorum',
    String(quorum),
    '--no-p2p',
    ...keys.builders.flatMap((b) => ['--trust', formatPublicKey(b.publicKey)])
  ]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await portOf(child)
  return {
    port,
    dir,
    child,
    async stop() {
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      })
      await rm(dir, { recursive: true, force: true })
    }
  }
}

export function postRequest(port: number, path: string, body: string): Buffer {
  const b = Buffer.from(body)
  return Buffer.concat([
    Buffer.from(
      `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\ncontent-length: ${b.length}\r\n\r\n`
    ),
    b
  ])
}

export function getRequest(port: number, path: string): Buffer {
  return Buffer.from(`GET ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n\r\n`)
}
