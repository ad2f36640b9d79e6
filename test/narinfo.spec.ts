/**
 * narinfo handling against the real nix (2.8): narinfos nix writes parse and re-format identically, narthex
 * signatures are the ones nix makes, and nix substitutes a path whose narinfo narthex signed with require-sigs on
 * (and refuses it when the key or a signed field is wrong).
 */
import assert from 'node:assert/strict'
import { cp, readdir, readFile, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { formatNarinfo, parseNarinfo, parsePublicKey } from '@narthex/nix'
import { narthex, nixBuild, nixEnv, run, runOk, substituteArgs, tempDir } from './util/index.js'

type Dir = { path: string; cleanup: () => Promise<void> }

/** Three input-addressed outputs: top refers to mid and leaf (and itself), mid to leaf. */
const expr = (salt: string) => `
let
  mk = name: script: derivation {
    inherit name;
    builder = "/bin/sh";
    args = [ "-c" script ];
    PATH = "/usr/bin:/bin";
    system = builtins.currentSystem;
    salt = "${salt}";
  };
  leaf = mk "narinfo-test-leaf" "echo leaf > $out";
  mid = mk "narinfo-test-mid" "mkdir $out; echo \${leaf} > $out/leaf";
in mk "narinfo-test-top" "mkdir $out; echo \${mid} \${leaf} > $out/refs; ln -s $out/refs $out/self"
`

describe('narinfo against the real nix', function () {
  this.timeout(120_000)
  let dir: Dir
  let n = 0
  /** A fresh directory under the test's temp dir. */
  const fresh = (what: string) => join(dir.path, `${what}-${n++}`)
  /** Environment with a fresh XDG_CACHE_HOME, so no narinfo is remembered between nix runs. */
  const env = () => nixEnv(fresh('xdg'))
  let top: string
  let closure: string[]

  before(async () => {
    dir = await tempDir('narthex-narinfo-')
    ;[top] = (await nixBuild(dir.path, expr(`${Date.now()}-${Math.random()}`), env())) as [string]
    const refs = await runOk('nix-store', ['-qR', top], { env: env() })
    closure = refs.stdout.toString().trim().split('\n')
    assert.equal(closure.length, 3)
  })
  after(() => dir.cleanup())

  const narinfoPath = (cache: string, storePath: string) =>
    join(cache, `${basename(storePath).slice(0, 32)}.narinfo`)

  async function copyToCache(compression: 'none' | 'xz'): Promise<string> {
    const cache = fresh(`cache-${compression}`)
    await runOk('nix', ['copy', '--to', `file://${cache}?compression=${compression}`, ...closure], {
      env: env()
    })
    return cache
  }

  async function nixKey(name: string): Promise<{ sec: string; pub: string }> {
    const base = fresh(name)
    await runOk('nix-store', ['--generate-binary-cache-key', name, `${base}.sec`, `${base}.pub`], {
      env: env()
    })
    return { sec: `${base}.sec`, pub: (await readFile(`${base}.pub`, 'utf8')).trim() }
  }

  async function narthexKey(name: string): Promise<{ sec: string; pub: string }> {
    const sec = `${fresh(name)}.sec`
    const r = await narthex(['keygen', name, '--out', sec])
    assert.equal(r.code, 0, r.stderr)
    return { sec, pub: r.stdout.toString().trim() }
  }

  /** Sign the narinfo files of `paths` in `cache` in place with `narthex narinfo sign`. */
  async function narthexSign(cache: string, paths: readonly string[], keyFile: string): Promise<void> {
    for (const p of paths) {
      const file = narinfoPath(cache, p)
      const r = await narthex(['narinfo', 'sign', '--key', keyFile], { input: await readFile(file) })
      assert.equal(r.code, 0, r.stderr)
      await writeFile(file, r.stdout)
    }
  }

  async function narthexVerify(text: string | Buffer, pubs: readonly string[]): Promise<number | null> {
    const args = pubs.flatMap((k) => ['--trusted-key', k])
    return (await narthex(['narinfo', 'verify', ...args], { input: text })).code
  }

  /** nix's own signature check of one path in a file:// cache (0 when trusted). */
  async function nixVerify(cache: string, path: string, pubs: readonly string[]): Promise<number | null> {
    const r = await run(
      'nix',
      [
        'store',
        'verify',
        '--store',
        `file://${cache}`,
        '--no-contents',
        '--option',
        'trusted-public-keys',
        pubs.join(' '),
        path
      ],
      { env: env() }
    )
    return r.code
  }

  /** Substitute `path` from `cache` into a fresh chroot store with signatures required. */
  async function substitute(cache: string, path: string, pub: string) {
    const store = join(fresh('chroot'), 'dst') // nix creates <store>/nix/store and <store>/nix/var
    const r = await run(
      'nix-store',
      [...substituteArgs(store, path, `file://${cache}`, pub), '--option', 'require-sigs', 'true'],
      { env: env() }
    )
    const valid = async (p: string) =>
      (await run('nix-store', ['--store', store, '--check-validity', p], { env: env() })).code === 0
    return { ...r, valid }
  }

  it('re-formats the narinfos nix copy writes (compression none and xz) to identical text', async () => {
    for (const compression of ['none', 'xz'] as const) {
      const cache = await copyToCache(compression)
      const files = (await readdir(cache)).filter((f) => f.endsWith('.narinfo'))
      assert.equal(files.length, 3)
      for (const f of files) {
        const text = await readFile(join(cache, f), 'utf8')
        const info = parseNarinfo(text)
        assert.equal(info.compression, compression)
        assert.ok(info.deriver?.endsWith('.drv'))
        assert.equal(formatNarinfo(info), text, `${compression}/${f}`)
      }
      const topInfo = parseNarinfo(await readFile(narinfoPath(cache, top), 'utf8'))
      assert.equal(topInfo.references.length, 3, 'top refers to mid, leaf and itself')
      assert.equal(topInfo.ca, undefined, 'an input-addressed output has no CA, so its signature is checked')
    }
  })

  it('signs a narinfo byte for byte as nix store sign does, with a key made by nix', async () => {
    const key = await nixKey('nix-made-1')
    const cache = await copyToCache('none')
    const byNix = fresh('signed-by-nix')
    await cp(cache, byNix, { recursive: true })
    await runOk('nix', ['store', 'sign', '--store', `file://${byNix}`, '-k', key.sec, ...closure], {
      env: env()
    })
    await narthexSign(cache, closure, key.sec)
    for (const p of closure) {
      const ours = await readFile(narinfoPath(cache, p), 'utf8')
      assert.equal(ours, await readFile(narinfoPath(byNix, p), 'utf8'))
      assert.equal(await narthexVerify(ours, [key.pub]), 0)
      assert.equal(await nixVerify(cache, p, [key.pub]), 0)
    }
    // Signing again adds nothing.
    const again = await narthex(['narinfo', 'sign', '--key', key.sec], {
      input: await readFile(narinfoPath(cache, top))
    })
    assert.equal(again.stdout.toString(), await readFile(narinfoPath(byNix, top), 'utf8'))
  })

  it('makes signatures with a narthex keygen key that nix accepts', async () => {
    const key = await narthexKey('narthex-made-1')
    const cache = await copyToCache('xz')
    assert.notEqual(await nixVerify(cache, top, [key.pub]), 0, 'unsigned: nix does not trust it')
    await narthexSign(cache, [top], key.sec)
    assert.equal(await nixVerify(cache, top, [key.pub]), 0)
    assert.equal(await narthexVerify(await readFile(narinfoPath(cache, top)), [key.pub]), 0)
  })

  it('agrees with nix on which narinfos are signed by which trusted keys', async () => {
    const a = await nixKey('agree-a')
    const b = await nixKey('agree-b')
    const impostor = await nixKey('agree-a') // same name as a, other bytes
    const cache = await copyToCache('none')
    const [leaf, mid] = closure.filter((p) => p !== top) as [string, string]
    await runOk('nix', ['store', 'sign', '--store', `file://${cache}`, '-k', a.sec, top], { env: env() })
    await runOk('nix', ['store', 'sign', '--store', `file://${cache}`, '-k', b.sec, top, mid], { env: env() })
    await runOk('nix', ['store', 'sign', '--store', `file://${cache}`, '-k', impostor.sec, leaf], {
      env: env()
    })
    const trustSets = [[a.pub], [b.pub], [a.pub, b.pub], [impostor.pub], [a.pub, impostor.pub]]
    let agreed = 0
    for (const path of closure) {
      const text = await readFile(narinfoPath(cache, path), 'utf8')
      for (const pubs of trustSets) {
        const nix = (await nixVerify(cache, path, pubs)) === 0
        const ours = (await narthexVerify(text, pubs)) === 0
        assert.equal(ours, nix, `${basename(path)} with ${pubs.map((k) => k.split(':')[0]).join(',')}`)
        agreed += nix ? 1 : 0
      }
    }
    assert.ok(agreed >= 4, 'some combinations verify, so the comparison is not all-false')
    // A signed field altered after signing: both refuse it.
    const tampered = (await readFile(narinfoPath(cache, top), 'utf8')).replace(
      /^NarSize: (\d+)$/m,
      'NarSize: 1$1'
    )
    await writeFile(narinfoPath(cache, top), tampered)
    assert.notEqual(await nixVerify(cache, top, [a.pub, b.pub]), 0)
    assert.equal(await narthexVerify(tampered, [a.pub, b.pub]), 1)
  })

  describe('substitution with require-sigs', () => {
    let key: { sec: string; pub: string }
    let signed: string

    before(async () => {
      key = await narthexKey('narthex-subst-1')
      signed = await copyToCache('none')
      await narthexSign(signed, closure, key.sec)
    })

    it('nix substitutes a closure whose narinfos narthex signed into a fresh chroot store', async () => {
      const r = await substitute(signed, top, key.pub)
      assert.equal(r.code, 0, r.stderr)
      for (const p of closure) assert.ok(await r.valid(p), `${p} is valid in the chroot store`)
    })

    it('nix refuses the unsigned cache (so require-sigs is really on)', async () => {
      const unsigned = await copyToCache('none')
      const r = await substitute(unsigned, top, key.pub)
      assert.notEqual(r.code, 0)
      assert.match(r.stderr, /not signed by any of the keys/)
      assert.equal(await r.valid(top), false)
    })

    it('nix refuses a signature by another key with the same name', async () => {
      const impostor = await narthexKey('narthex-subst-1')
      assert.equal(parsePublicKey(impostor.pub).name, parsePublicKey(key.pub).name)
      const cache = await copyToCache('none')
      await narthexSign(cache, closure, impostor.sec)
      const r = await substitute(cache, top, key.pub)
      assert.notEqual(r.code, 0)
      assert.match(r.stderr, /not signed by any of the keys/)
      assert.equal(await r.valid(top), false)
    })

    for (const [field, alter] of [
      ['References', (t: string) => t.replace(/^(References: \S+) .*$/m, '$1')],
      [
        'NarHash',
        (t: string) =>
          t.replace(/^NarHash: sha256:(.)/m, (_, c) => `NarHash: sha256:${c === '0' ? '1' : '0'}`)
      ]
    ] as const) {
      it(`nix refuses a narthex-signed narinfo whose ${field} was altered after signing`, async () => {
        const cache = fresh(`altered-${field}`)
        await cp(signed, cache, { recursive: true })
        const file = narinfoPath(cache, top)
        const before = await readFile(file, 'utf8')
        const after = alter(before)
        assert.notEqual(after, before)
        parseNarinfo(after) // still a well-formed narinfo: only the signature is wrong
        await writeFile(file, after)
        assert.equal(await narthexVerify(after, [key.pub]), 1)
        const r = await substitute(cache, top, key.pub)
        assert.notEqual(r.code, 0)
        assert.match(r.stderr, /not signed by any of the keys/)
        assert.equal(await r.valid(top), false)
      })
    }
  })

  describe('narthex narinfo CLI errors', () => {
    it('names the key file and what is wrong with it', async () => {
      const info = await readFile(narinfoPath(await copyToCache('none'), top))
      const pubOnly = fresh('pub-as-sec')
      const key = await narthexKey('cli-err')
      await writeFile(pubOnly, key.pub)
      for (const [file, content] of [
        [fresh('missing'), undefined],
        [pubOnly, key.pub],
        [fresh('junk'), 'not a key at all\n'],
        [fresh('short'), 'k:AAAA\n']
      ] as const) {
        if (content !== undefined) await writeFile(file, content)
        const r = await narthex(['narinfo', 'sign', '--key', file], { input: info })
        assert.equal(r.code, 1)
        assert.ok(r.stderr.includes(file), r.stderr)
        assert.equal(r.stdout.length, 0)
      }
    })

    it('exits 2 on usage errors and 1 on a malformed narinfo', async () => {
      const key = await narthexKey('cli-usage')
      assert.equal((await narthex(['narinfo', 'sign'], { input: '' })).code, 2)
      assert.equal((await narthex(['narinfo', 'sign', '--key', key.sec, 'extra'], { input: '' })).code, 2)
      assert.equal((await narthex(['narinfo', 'verify'], { input: '' })).code, 2)
      assert.equal((await narthex(['narinfo', 'verify', '--trusted-key', 'nope'], { input: '' })).code, 2)
      const bad = await narthex(['narinfo', 'verify', '--trusted-key', key.pub], { input: 'StorePath: x\n' })
      assert.equal(bad.code, 1)
      assert.match(bad.stderr, /line 1/)
      const signBad = await narthex(['narinfo', 'sign', '--key', key.sec], { input: 'NarSize: 0\n' })
      assert.equal(signBad.code, 1)
      assert.equal(signBad.stdout.length, 0)
    })
  })
})
