/**
 * `narthex attest --seed DIR`: a builder hands what it attested to the seeder running on DIR, over the seeder's
 * control socket, so the output is stored (and, once agreed, published) without a separate `seed add`.
 */
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { formatPublicKey, formatSecretKey, generateSecretKey } from '@narthex/nix'
import { requestStatus } from '@narthex/seeder'
import { narthex, nixBuild, tempDir, waitFor } from './util/index.js'
import { type Program, startProgram } from './util/network.js'

interface StatusView {
  nars: { stored: number; published: number }
}

describe('narthex attest --seed', function () {
  this.timeout(120_000)
  let dir: { path: string; cleanup: () => Promise<void> }
  const programs: Program[] = []
  after(async () => {
    for (const p of programs.reverse()) await p.stop()
    await dir?.cleanup()
  })

  it('hands each accepted output to the running seeder, and says so when no seeder runs there', async () => {
    dir = await tempDir('narthex-build-seed-')
    const orchKey = generateSecretKey('bs-orchestrator-1')
    const builderKey = generateSecretKey('bs-builder-1')
    await writeFile(join(dir.path, 'orch.sec'), formatSecretKey(orchKey))
    await writeFile(join(dir.path, 'builder.sec'), formatSecretKey(builderKey))

    const orch = await startProgram(
      [
        'orchestrator',
        '--data',
        join(dir.path, 'orch'),
        '--listen',
        '127.0.0.1:0',
        '--key',
        join(dir.path, 'orch.sec'),
        '--quorum',
        '1',
        '--trust',
        formatPublicKey(builderKey.publicKey),
        '--no-p2p'
      ],
      /listening on (\S+)\n/
    )
    programs.push(orch.program)
    const orchUrl = orch.match[1]!

    const seederData = join(dir.path, 'seeder')
    const seeder = await startProgram(
      [
        'seeder',
        '--data',
        seederData,
        '--listen',
        '/ip4/127.0.0.1/tcp/0',
        '--allow-private',
        '--orchestrator',
        orchUrl
      ],
      /^narthex seeder listening (\S+)\n/m
    )
    programs.push(seeder.program)

    const [out] = await nixBuild(
      dir.path,
      `derivation { name = "narthex-build-seed"; system = builtins.currentSystem; builder = "/bin/sh";
        args = [ "-c" "echo ${Date.now()}-${Math.random()} > $out" ]; PATH = "/usr/bin:/bin"; }`
    )
    const attest = await narthex([
      'attest',
      '--orchestrator',
      orchUrl,
      '--key',
      join(dir.path, 'builder.sec'),
      '--seed',
      seederData,
      out!
    ])
    assert.equal(attest.code, 0, attest.stderr)
    // The import finished before attest returned; the output is agreed (k = 1), so the seeder publishes it.
    const stored = (await requestStatus(seederData)) as unknown as StatusView
    assert.equal(stored.nars.stored, 1)
    await waitFor(
      'the seeder to publish the agreed output',
      async () => ((await requestStatus(seederData)) as unknown as StatusView).nars.published === 1,
      30_000
    )

    const none = await narthex([
      'attest',
      '--orchestrator',
      orchUrl,
      '--key',
      join(dir.path, 'builder.sec'),
      '--seed',
      join(dir.path, 'no-seeder-here'),
      out!
    ])
    assert.equal(none.code, 1)
    assert.match(none.stderr, /seeder/i)
  })
})
