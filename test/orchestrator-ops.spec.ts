/**
 * The operator's procedures of docs/guides/orchestrator.md, on a real orchestrator with its level database on disk:
 * a copy of the data directory made while it is stopped restores the same signed narinfos; restarting with a new
 * key re-signs every served narinfo with that key only (key rotation); a quorum above the trusted builders refuses
 * to start.
 */
import assert from 'node:assert/strict'
import { cp, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  formatPublicKey,
  formatSecretKey,
  generateSecretKey,
  parseNarinfo,
  verifyNarinfo
} from '@narthex/nix'
import { createOrchestrator, type Orchestrator, resolveConfig } from '../apps/orchestrator/src/index.js'
import { attest, hashPartOf } from '../apps/orchestrator/test/helpers.js'
import { tempDir } from './util/index.js'

describe('orchestrator operations from the operator guide', function () {
  this.timeout(30_000)
  let dir: { path: string; cleanup: () => Promise<void> }
  const running: Orchestrator[] = []
  const builders = [generateSecretKey('builder-1'), generateSecretKey('builder-2')]
  const trust = builders.map((b) => ({ key: formatPublicKey(b.publicKey), revoked: false }))

  async function keyFile(name: string) {
    const key = generateSecretKey(name)
    const file = join(dir.path, `${name}.sec`)
    await writeFile(file, formatSecretKey(key), { mode: 0o600 })
    return { key, file }
  }

  async function start(dataDir: string, file: string, quorum = 2): Promise<Orchestrator> {
    const o = createOrchestrator({
      config: resolveConfig({
        dataDir,
        keyFile: file,
        host: '127.0.0.1',
        port: 0,
        quorum,
        p2pListen: [],
        trust
      })
    })
    await o.start()
    running.push(o)
    return o
  }

  async function stop(o: Orchestrator) {
    await o.stop()
    running.splice(running.indexOf(o), 1)
  }

  beforeEach(async () => {
    dir = await tempDir('narthex-orch-ops-')
  })

  afterEach(async () => {
    for (const o of running.splice(0)) await o.stop()
    await dir.cleanup()
  })

  it('restores from a copy of the stopped data directory, and re-signs with a rotated key', async () => {
    const k1 = await keyFile('narthex-1')
    const data = join(dir.path, 'data')
    let o = await start(data, k1.file)
    const a = attest(builders[0]!, 'hello')
    for (const b of builders) {
      const r = await fetch(`${o.url}/api/v1/attestations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(attest(b, 'hello'))
      })
      assert.equal(r.status, 201)
    }
    const path = `/${hashPartOf(a.outPath)}.narinfo`
    const original = await (await fetch(`${o.url}${path}`)).text()
    assert.ok(verifyNarinfo(parseNarinfo(original), [k1.key.publicKey]))
    await stop(o)

    // Backup while stopped, restore elsewhere: the same narinfo, byte for byte.
    const copy = join(dir.path, 'restored')
    await cp(data, copy, { recursive: true })
    o = await start(copy, k1.file)
    const restored = await fetch(`${o.url}${path}`)
    assert.equal(restored.status, 200)
    assert.equal(await restored.text(), original)
    await stop(o)

    // Rotation: the same database with a new key serves the narinfo signed by the new key only.
    const k2 = await keyFile('narthex-2')
    o = await start(copy, k2.file)
    const rotated = await (await fetch(`${o.url}${path}`)).text()
    const parsed = parseNarinfo(rotated)
    assert.ok(verifyNarinfo(parsed, [k2.key.publicKey]))
    assert.equal(verifyNarinfo(parsed, [k1.key.publicKey]), undefined)
    assert.deepEqual(
      rotated
        .split('\n')
        .filter((l) => l.startsWith('Sig: '))
        .map((l) => l.split(':')[1]!.trim()),
      ['narthex-2']
    )
  })

  it('refuses a quorum larger than the trusted, unrevoked builders', async () => {
    const k = await keyFile('narthex-1')
    await assert.rejects(start(join(dir.path, 'data'), k.file, 3), { name: 'InvalidConfigError' })
  })
})
