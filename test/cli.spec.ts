import assert from 'node:assert/strict'
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { parsePublicKey, parseSecretKey } from '@narthex/nix'
import { narthex, tempDir } from './util/index.js'

describe('narthex CLI', () => {
  let dir: { path: string; cleanup: () => Promise<void> }
  beforeEach(async () => {
    dir = await tempDir()
  })
  afterEach(() => dir.cleanup())

  it('prints help and exits 0 for --help, 2 for an unknown command', async () => {
    const help = await narthex(['--help'])
    assert.equal(help.code, 0)
    assert.match(help.stdout.toString(), /keygen/)
    const bad = await narthex(['no-such-command'])
    assert.equal(bad.code, 2)
  })

  it('keygen writes a 0600 secret key file, prints its public key, and never overwrites', async () => {
    const out = join(dir.path, 'k.sec')
    const r = await narthex(['keygen', 'demo-1', '--out', out])
    assert.equal(r.code, 0, r.stderr)
    const secret = parseSecretKey(await readFile(out, 'utf8'))
    const pub = parsePublicKey(r.stdout.toString())
    assert.deepEqual(pub.key, secret.publicKey.key)
    assert.equal((await stat(out)).mode & 0o777, 0o600)
    const again = await narthex(['keygen', 'demo-1', '--out', out])
    assert.equal(again.code, 1)
    assert.match(again.stderr, /already exists/)
  })
})
