import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { formatPublicKey, formatSecretKey, generateSecretKey, type SecretKey } from '@narthex/nix'
import { createOrchestrator, type Orchestrator, resolveConfig } from '@narthex/orchestrator'
import { nixBuild, nixEnv, runOk, tempDir } from '../../../test/util/index.js'
import { attestPaths, buildAndAttest, ReferenceScanner } from '../src/index.js'

describe('ReferenceScanner', () => {
  it('finds candidate hash parts anywhere, also split across pieces, and nothing else', () => {
    const a = '/nix/store/0c5ff1ab6cdn3hpmrhscmgn3jxgcfzkp-a'
    const b = '/nix/store/q3bz0ygg4lcmdbz1vbqcd9lyz1cd6m7a-b'
    const c = '/nix/store/1b8m03r63zqhnjf7l5wnldhh7c134ap5-c'
    const text = Buffer.from(
      `xx${a}/bin yy q3bz0ygg4lcmdbz1vbqcd9lyz1cd6m7a zz 1b8m03r63zqhnjf7l5wnldhh7c134ap`
    )
    for (const cut of [0, 5, 20, 30, 45, text.length]) {
      const s = new ReferenceScanner([a, b, c])
      s.feed(text.subarray(0, cut))
      s.feed(text.subarray(cut))
      assert.deepEqual(s.found(), [a, b], `cut at ${cut}`)
    }
  })
})

describe('builder against the real nix and an orchestrator', function () {
  this.timeout(120_000)
  let dir: { path: string; cleanup: () => Promise<void> }
  let orchestrator: Orchestrator
  let b1: SecretKey
  let b2: SecretKey
  let n = 0
  const env = () => nixEnv(join(dir.path, `xdg-${n++}`))

  beforeEach(async () => {
    dir = await tempDir('narthex-builder-')
    const key = generateSecretKey('builder-test-orch')
    await writeFile(join(dir.path, 'o.sec'), formatSecretKey(key))
    b1 = generateSecretKey('bt-1')
    b2 = generateSecretKey('bt-2')
    orchestrator = createOrchestrator({
      config: resolveConfig({
        dataDir: join(dir.path, 'orch'),
        keyFile: join(dir.path, 'o.sec'),
        port: 0,
        p2pListen: [],
        trust: [b1, b2].map((b) => ({ key: formatPublicKey(b.publicKey), revoked: false }))
      })
    })
    await orchestrator.start()
  })
  afterEach(async () => {
    await orchestrator.stop()
    await dir.cleanup()
  })

  const salt = () => `${Date.now()}-${Math.random()}`

  it('attests a built path with what Nix registered: NarHash, NarSize, References, Deriver, output name', async () => {
    const [out] = (await nixBuild(
      dir.path,
      `derivation { name = "bt-multi"; outputs = [ "out" "doc" ]; builder = "/bin/sh";
         args = [ "-c" "mkdir $out $doc; echo $doc > $out/doc-path; echo hi > $doc/readme" ];
         PATH = "/usr/bin:/bin"; system = builtins.currentSystem; salt = "${salt()}"; }`,
      env()
    )) as [string]
    const info = JSON.parse(
      (await runOk('nix', ['path-info', '--json', out], { env: env() })).stdout.toString()
    )[0]
    const doc = info.references.find((r: string) => r.endsWith('-bt-multi-doc'))
    const attested = await attestPaths([out, doc], {
      key: b1,
      orchestrator: orchestrator.url,
      nix: { env: env() }
    })
    assert.equal(attested.length, 2)
    const [a, d] = attested as [(typeof attested)[0], (typeof attested)[0]]
    assert.equal(a.outputName, 'out')
    assert.equal(d.outputName, 'doc')
    assert.equal(a.drvPath, info.deriver)
    assert.equal(a.deriver, info.deriver)
    assert.equal(a.narSize, info.narSize)
    assert.deepEqual(a.references, [...info.references].sort())
    assert.ok('result' in a.result && a.result.result === 'accepted' && a.result.status === 'pending')
    const sri = info.narHash as string
    const nix32 = (await runOk('nix', ['hash', 'to-base32', sri], { env: env() })).stdout.toString().trim()
    assert.equal(a.narHash, `sha256:${nix32}`)
    // The second builder's attestation of the same paths reaches the agreement.
    const second = await attestPaths([out], { key: b2, orchestrator: orchestrator.url, nix: { env: env() } })
    assert.ok('result' in second[0]!.result && second[0]!.result.status === 'agreed')
  })

  it('refuses paths it cannot attest, with typed errors', async () => {
    const file = join(dir.path, 'plain.txt')
    await writeFile(file, `added ${salt()}`)
    const added = (await runOk('nix-store', ['--add', file], { env: env() })).stdout.toString().trim()
    const opts = { key: b1, orchestrator: orchestrator.url, nix: { env: env() } }
    await assert.rejects(attestPaths([added], opts), { name: 'NoDeriverError' })
    await assert.rejects(attestPaths(['/nix/store/00000000000000000000000000000000-missing'], opts), {
      name: 'NotInStoreError'
    })
    await assert.rejects(attestPaths(['/tmp/x'], opts), { name: 'InvalidStorePathError' })
    await assert.rejects(buildAndAttest(['hello.txt'], opts), { name: 'InvalidTargetError' })
    await assert.rejects(
      attestPaths([added], { ...opts, orchestrator: 'http://127.0.0.1:1' }),
      { name: 'NoDeriverError' } // checked before anything is sent
    )
  })

  it('attests a --check rebuild that differs, with the references Nix would find', async () => {
    const file = join(dir.path, 'nondet.nix')
    await writeFile(
      file,
      `let dep = derivation { name = "bt-dep"; builder = "/bin/sh"; args = [ "-c" "echo dep > $out" ];
             PATH = "/usr/bin:/bin"; system = builtins.currentSystem; salt = "${salt()}"; };
       in derivation { name = "bt-nondet"; builder = "/bin/sh"; inherit dep;
             args = [ "-c" "mkdir $out; echo $dep > $out/dep; echo $out > $out/self; date +%s%N > $out/time" ];
             PATH = "/usr/bin:/bin"; system = builtins.currentSystem; salt = "${salt()}"; }`
    )
    const first = await buildAndAttest([file], {
      key: b1,
      orchestrator: orchestrator.url,
      nix: { env: env() }
    })
    const registered = first.outputs[0]!
    assert.equal(registered.differsFromStore, false)
    const second = await buildAndAttest([file], {
      key: b2,
      orchestrator: orchestrator.url,
      nix: { env: env() },
      check: true
    })
    assert.ok(second.nonDeterministic)
    const rebuilt = second.outputs[0]!
    assert.equal(rebuilt.differsFromStore, true)
    assert.equal(rebuilt.outPath, registered.outPath)
    assert.notEqual(rebuilt.narHash, registered.narHash)
    assert.deepEqual(rebuilt.references, registered.references)
    assert.equal(rebuilt.references.length, 2) // dep and itself
    assert.ok('result' in rebuilt.result && rebuilt.result.status === 'disputed')
  })
})
