/**
 * Crash consistency of a real orchestrator process: submissions run concurrently while the process is killed
 * with SIGKILL at random moments, then it is restarted on the same data directory. After every restart:
 * - every acknowledged attestation is there (nothing acknowledged is lost);
 * - every agreement has the supporting attestations it names (never an agreement without its attestations);
 * - an output's agreement never changes from one restart to the next (never two different agreements);
 * - the served narinfo is the agreement's, and re-submitting anything is accepted or a duplicate (idempotent).
 */
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type AttestationJson, formatAttestation, signAttestation } from '@narthex/consensus'
import { formatPublicKey, formatSecretKey, generateSecretKey, nixBase32 } from '@narthex/nix'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { NARTHEX_BIN, tempDir, waitFor } from './util/index.js'

const sha = (s: string) => createHash('sha256').update(s).digest()
const path = (name: string) => `/nix/store/${nixBase32.encode(sha(name).subarray(0, 20))}-${name}`
const root = (s: string) => CID.create(1, 0x71, Digest.create(0x12, sha(s))).toString()

interface Running {
  readonly child: ChildProcess
  readonly url: string
}

async function startOrchestrator(args: string[]): Promise<Running> {
  const child = spawn(process.execPath, [NARTHEX_BIN, 'orchestrator', ...args], {
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  let err = ''
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d
  })
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d
  })
  const url = await waitFor(
    'the orchestrator to listen',
    () => {
      if (child.exitCode !== null) throw new Error(`orchestrator exited ${child.exitCode}: ${err}`)
      return /listening on (http:\/\/\S+)/.exec(out)?.[1]
    },
    20_000
  )
  return { child, url }
}

function kill9(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once('exit', () => resolve())
    child.kill('SIGKILL')
  })
}

describe('orchestrator crash consistency (kill -9 of a real process during submission)', function () {
  this.timeout(120_000)
  let dir: { path: string; cleanup: () => Promise<void> }
  let running: Running | null = null
  afterEach(async () => {
    if (running) await kill9(running.child)
    running = null
    await dir?.cleanup()
  })

  it('never loses an acknowledged attestation, never leaves an agreement without its attestations, never changes an agreement', async () => {
    dir = await tempDir('narthex-crash-')
    const orchKey = generateSecretKey('orch-crash-1')
    const keyFile = join(dir.path, 'orch.sec')
    await writeFile(keyFile, formatSecretKey(orchKey))
    const builders = Array.from({ length: 4 }, (_, i) => generateSecretKey(`crash-builder-${i}`))
    const args = [
      '--data',
      join(dir.path, 'data'),
      '--listen',
      '127.0.0.1:0',
      '--key',
      keyFile,
      '--quorum',
      '2',
      '--no-p2p',
      ...builders.flatMap((b) => ['--trust', formatPublicKey(b.publicKey)])
    ]
    // 80 outputs, 4 builders each; a quarter of the outputs are non-reproducible (builder 3 gets another hash),
    // and builder 2 equivocates on a few.
    const all: AttestationJson[] = []
    const now = Date.now()
    for (let o = 0; o < 80; o++) {
      for (const [i, b] of builders.entries()) {
        const variant = (o % 4 === 0 && i === 3) || (o % 10 === 0 && i === 2) ? 'other' : 'same'
        const name = `pkg-${o}`
        const drvPath = path(`${name}.drv`)
        all.push(
          formatAttestation(
            signAttestation(b, {
              drvPath,
              outputName: 'out',
              outPath: path(name),
              narHash: `sha256:${nixBase32.encode(sha(`${name}:${variant}`))}`,
              narSize: 100 + o,
              references: [],
              deriver: drvPath,
              manifestRoot: root(`${name}:${variant}`),
              time: now
            })
          )
        )
        if (o % 10 === 0 && i === 2) {
          // the same builder also states the common result: an equivocation
          all.push(
            formatAttestation(
              signAttestation(b, {
                drvPath,
                outputName: 'out',
                outPath: path(name),
                narHash: `sha256:${nixBase32.encode(sha(`${name}:same`))}`,
                narSize: 100 + o,
                references: [],
                deriver: drvPath,
                manifestRoot: root(`${name}:same`),
                time: now
              })
            )
          )
        }
      }
    }
    // A deterministic shuffle.
    let seed = 7
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) >>> 0
      return seed / 2 ** 32
    }
    for (let i = all.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1))
      ;[all[i], all[j]] = [all[j]!, all[i]!]
    }

    const acked = new Set<string>() // signature of every acknowledged attestation
    const agreements = new Map<string, string>() // outPath → narHash of its agreement, as first seen
    const id = (a: AttestationJson) => a.signature
    let crashes = 0
    let inFlightAtKill = 0

    async function check(url: string): Promise<void> {
      const outputs = new Map<
        string,
        {
          attestationList: { signature: string; builder: string; narHash: string; manifestRoot: string }[]
          agreement: { narHash: string; manifestRoot: string; builders: string[] } | null
          served: boolean
        }
      >()
      const hashParts = new Set(all.map((a) => a.outPath.slice(11, 43)))
      for (const hp of hashParts) {
        const res = await fetch(`${url}/api/v1/outputs/${hp}`)
        if (res.status === 404) continue
        assert.equal(res.status, 200)
        outputs.set(hp, await res.json())
      }
      const present = new Set([...outputs.values()].flatMap((o) => o.attestationList.map((a) => a.signature)))
      for (const s of acked) assert.ok(present.has(s), 'an acknowledged attestation was lost')
      for (const [hp, o] of outputs) {
        if (o.agreement === null) continue
        for (const b of o.agreement.builders) {
          assert.ok(
            o.attestationList.some(
              (a) =>
                a.builder === b &&
                a.narHash === o.agreement!.narHash &&
                a.manifestRoot === o.agreement!.manifestRoot
            ),
            `agreement on ${hp} names ${b} without its attestation`
          )
        }
        const outPath = all.find((a) => a.outPath.slice(11, 43) === hp)!.outPath
        const before = agreements.get(outPath)
        if (before !== undefined) assert.equal(o.agreement.narHash, before, `the agreement on ${hp} changed`)
        agreements.set(outPath, o.agreement.narHash)
        const narinfo = await fetch(`${url}/${hp}.narinfo`)
        if (o.served) assert.match(await narinfo.text(), new RegExp(`^NarHash: ${o.agreement.narHash}$`, 'm'))
        else await narinfo.body?.cancel()
      }
    }

    let next = 0
    const remaining = () => all.filter((a) => !acked.has(id(a)))
    for (let round = 0; round < 6 && remaining().length > 0; round++) {
      running = await startOrchestrator(args)
      const { url, child } = running
      await check(url)
      const queue = round === 0 ? all.slice() : remaining()
      next = 0
      const killAfter = round < 5 ? 20 + Math.floor(rnd() * 60) : Number.POSITIVE_INFINITY
      let ackedThisRound = 0
      let killed = false
      let inFlight = 0
      const worker = async () => {
        while (!killed && next < queue.length) {
          const a = queue[next++]!
          inFlight++
          try {
            const res = await fetch(`${url}/api/v1/attestations`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify(a)
            })
            const body = (await res.json()) as { result?: string }
            assert.ok(res.status === 201 || res.status === 200, `status ${res.status}`)
            assert.ok(body.result === 'accepted' || body.result === 'duplicate')
            acked.add(id(a))
            ackedThisRound++
            if (ackedThisRound >= killAfter && !killed) {
              killed = true
              inFlightAtKill += inFlight - 1
              await kill9(child)
              crashes++
            }
          } catch (err) {
            if (!killed) throw err // only requests cut by the kill may fail
          } finally {
            inFlight--
          }
        }
      }
      await Promise.all(Array.from({ length: 8 }, worker))
      if (!killed) {
        await check(url)
        await kill9(child)
      }
      running = null
    }
    running = await startOrchestrator(args)
    await check(running.url)
    assert.equal(remaining().length, 0, 'every attestation was eventually acknowledged')
    assert.ok(crashes >= 4, `crashed ${crashes} times`)
    const summary = (await (await fetch(`${running.url}/api/v1/summary`)).json()) as {
      outputs: Record<string, number>
    }
    assert.equal(summary.outputs.total, 80)
    assert.ok(summary.outputs.agreed! > 40 && summary.outputs.disputed! > 10, JSON.stringify(summary.outputs))
    console.log(
      `      ${crashes} kills with ${inFlightAtKill} requests in flight; outputs ${JSON.stringify(summary.outputs)}`
    )
  })
})
