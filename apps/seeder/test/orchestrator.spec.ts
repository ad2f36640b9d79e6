/**
 * The seeder against the real orchestrator (apps/orchestrator) on loopback: two trusted builders attest a real
 * NAR, the orchestrator agrees and signs its narinfo; a seeder with `orchestrator: URL` publishes that NAR and not a
 * private one, and a mirroring seeder fetches the agreed NAR from a peer through the orchestrator's output list and
 * agreement record.
 */
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { formatAttestation, signAttestation } from '@narthex/consensus'
import { ingestNar } from '@narthex/content'
import { formatPublicKey, formatSecretKey, generateSecretKey } from '@narthex/nix'
import { createOrchestrator, type Orchestrator, resolveConfig } from '@narthex/orchestrator'
import { createNode, type NarthexNode } from '@narthex/p2p'
import { tempDir, waitFor } from '../../../test/util/index.js'
import { createSeeder, type Seeder } from '../src/index.js'
import { type CacheEntry, LOOPBACK, makeCache } from './helpers.js'

const KiB = 1024

describe('seeder with the real orchestrator', function () {
  this.timeout(60_000)
  let dir: { path: string; cleanup: () => Promise<void> }
  let orchestrator: Orchestrator
  let boot: NarthexNode
  const seeders: Seeder[] = []

  afterEach(async () => {
    await Promise.all(seeders.splice(0).map((s) => s.stop()))
    await orchestrator?.stop()
    await boot?.stop()
    await dir?.cleanup()
  })

  it('publishes only agreed outputs, and a mirror fetches them from peers', async () => {
    dir = await tempDir('narthex-seeder-orch-')
    const [agreed, priv] = (await makeCache(join(dir.path, 'cache'), [
      { name: 'agreed-pkg', size: 200 * KiB, seed: 21 },
      { name: 'private-pkg', size: 20 * KiB, seed: 22 }
    ])) as [CacheEntry, CacheEntry]

    const key = generateSecretKey('orchestrator-test-1')
    const keyFile = join(dir.path, 'orchestrator.sec')
    await writeFile(keyFile, formatSecretKey(key))
    const builders = [generateSecretKey('builder-1'), generateSecretKey('builder-2')]
    orchestrator = createOrchestrator({
      config: resolveConfig({
        dataDir: join(dir.path, 'orch'),
        keyFile,
        host: '127.0.0.1',
        port: 0,
        quorum: 2,
        afterAgreement: 'keep',
        p2pListen: [],
        trust: builders.map((b) => ({ key: formatPublicKey(b.publicKey), revoked: false }))
      })
    })
    await orchestrator.start()
    const { root } = await ingestNar(
      (async function* () {
        yield agreed.nar
      })()
    )
    const drvPath = `/nix/store/${agreed.hashPart.replace(/^./, '0')}-agreed-pkg.drv`
    for (const b of builders) {
      const attestation = formatAttestation(
        signAttestation(b, {
          drvPath,
          outputName: 'out',
          outPath: agreed.storePath,
          narHash: agreed.narHash,
          narSize: agreed.narSize,
          references: [],
          deriver: drvPath,
          manifestRoot: root.toString(),
          time: Date.now()
        })
      )
      const res = await fetch(`${orchestrator.url}/api/v1/attestations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(attestation)
      })
      assert.ok(res.status === 201 || res.status === 200, `attestation: ${res.status} ${await res.text()}`)
    }
    assert.equal((await fetch(`${orchestrator.url}/${agreed.hashPart}.narinfo`)).status, 200)

    boot = await createNode({ ...LOOPBACK, listen: ['/ip4/127.0.0.1/tcp/0'], dhtServer: true })
    const common = {
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap: [boot.getMultiaddrs()[0]!.toString()],
      allowPrivateAddresses: true,
      fsync: false,
      orchestrator: orchestrator.url
    }
    const seeder = createSeeder({ ...common, dataDir: join(dir.path, 'seeder') })
    await seeder.start()
    seeders.push(seeder)
    await seeder.importSources({ sources: [pathToFileURL(join(dir.path, 'cache')).toString()] })
    const st = await seeder.status()
    assert.equal(st.nars.stored, 2)
    assert.equal(st.nars.published, 1, 'the agreed NAR only')
    await seeder.onAnnounced()

    const mirror = createSeeder({
      ...common,
      dataDir: join(dir.path, 'mirror'),
      mirror: true,
      mirrorProviderTimeoutMs: 1000
    })
    await mirror.start()
    seeders.push(mirror)
    await waitFor('mirrored', async () => (await mirror.status()).mirror?.mirrored === 1, 30_000)
    await waitFor('published by the mirror', async () => (await mirror.status()).nars.published === 1)
    assert.equal((await mirror.status()).nars.stored, 1, 'the private NAR is not mirrored')
    assert.ok(priv)
  })
})
