import assert from 'node:assert/strict'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createStore } from '@narthex/store'
import { NARTHEX_BIN, narthex, nixBuild, nixEnv, runOk, tempDir } from './util/index.js'

const EXPR = `
let
  mk = name: script: derivation { inherit name; builder = "/bin/sh"; args = ["-c" script];
    PATH = "/usr/bin:/bin"; system = builtins.currentSystem; };
  dep = mk "narthex-cli-dep" "echo dep > $out";
in mk "narthex-cli-app" ''
  mkdir $out; echo \${dep} > $out/ref
  i=0; while [ $i -lt 4000 ]; do echo "narthex store cli test line $i"; i=$((i+1)); done > $out/data
''
`

describe('narthex store (CLI)', function () {
  this.timeout(120_000)
  let work: { path: string; cleanup: () => Promise<void> }
  let env: NodeJS.ProcessEnv
  let app: string
  let data: string

  before(async () => {
    work = await tempDir('narthex-store-cli-')
    env = nixEnv(join(work.path, 'cache-home'))
    ;[app] = await nixBuild(work.path, EXPR, env)
  })
  after(() => work.cleanup())
  beforeEach(() => {
    data = join(work.path, `data-${Math.random().toString(36).slice(2)}`)
  })

  const ls = async () => {
    const r = await narthex(['store', 'ls', '--json', '--data', data], { env })
    assert.equal(r.code, 0, r.stderr)
    return JSON.parse(r.stdout.toString()) as Array<{
      narHash: string
      storePaths: string[]
      damaged: boolean
    }>
  }

  it('imports a closure, lists it, writes NARs back byte for byte, verifies and collects', async () => {
    const imp = await narthex(['store', 'import', '--data', data, '--closure', app!], { env })
    assert.equal(imp.code, 0, imp.stderr)
    // Not a terminal: one plain line per path, no progress bar escapes.
    assert.equal(imp.stderr.match(/^imported /gm)?.length, 2)
    assert.ok(!imp.stderr.includes(String.fromCharCode(27)))
    const listed = await ls()
    assert.equal(listed.length, 2)
    assert.ok(listed.some((e) => e.storePaths.includes(app!)))
    const dump = (await runOk('nix-store', ['--dump', app!], { env })).stdout
    const cat = await narthex(['store', 'cat', '--data', data, app!], { env })
    assert.equal(cat.code, 0, cat.stderr)
    assert.ok(cat.stdout.equals(dump))
    const byHash = listed.find((e) => e.storePaths.includes(app!))!.narHash
    assert.ok((await narthex(['store', 'cat', '--data', data, byHash], { env })).stdout.equals(dump))

    assert.equal((await narthex(['store', 'verify', '--data', data], { env })).code, 0)
    // Rot one chunk: verify reports it, exits 1, and the NAR is withdrawn.
    const chunkFile = (await readdir(join(data, 'chunks'), { recursive: true })).find((f) => f.includes('/'))!
    const chunk = chunkFile.split('/')[1]!
    await writeFile(join(data, 'chunks', chunkFile), 'rotten')
    const v = await narthex(['store', 'verify', '--data', data], { env })
    assert.equal(v.code, 1)
    assert.match(v.stdout.toString(), new RegExp(`corrupt  ${chunk}`))
    assert.equal((await ls()).filter((e) => e.damaged).length, 1)

    const gc = await narthex(['store', 'gc', '--data', data, '--max-size', '0'], { env })
    assert.equal(gc.code, 0, gc.stderr)
    assert.deepEqual(await ls(), [])
  })

  it('fails with a clear message and leaves the store unchanged on bad input', async () => {
    assert.equal((await narthex(['store', 'import', '--data', data, app!], { env })).code, 0)
    const before = await ls()
    const unreachable = await narthex(['store', 'import', '--data', data, 'http://127.0.0.1:9/x.narinfo'], {
      env
    })
    assert.equal(unreachable.code, 1)
    assert.match(unreachable.stderr, /unreachable/)
    const invalid = await narthex(
      ['store', 'import', '--data', data, '/nix/store/00000000000000000000000000000000-x'],
      {
        env
      }
    )
    assert.equal(invalid.code, 1)
    const usage = await narthex(['store', 'gc', '--data', data, '--max-size', 'lots'], { env })
    assert.equal(usage.code, 2)
    assert.deepEqual(await ls(), before)
  })

  it('a reader that goes away early (| head -c 10) ends store ls with a one-line EPIPE error, not a crash', async () => {
    // ~400 bytes of --json per NAR: 300 NARs are more than a pipe holds, so a write is still queued when head exits
    const store = createStore({ dir: data, fsync: false })
    await store.start()
    try {
      for (let i = 0; i < 300; i++) {
        await store.importNar(
          (async function* () {
            yield new TextEncoder().encode(`not really a NAR, number ${i}`)
          })()
        )
      }
    } finally {
      await store.stop()
    }
    const stderrFile = join(work.path, 'epipe.stderr')
    const script = `${JSON.stringify(process.execPath)} ${JSON.stringify(NARTHEX_BIN)} store ls --json --data ${JSON.stringify(data)} 2>${JSON.stringify(stderrFile)} | head -c 10 >/dev/null; echo \${PIPESTATUS[0]}`
    for (let i = 0; i < 3; i++) {
      const r = await runOk('bash', ['-c', script], { env })
      const stderr = await readFile(stderrFile, 'utf8')
      assert.doesNotMatch(stderr, /Unhandled 'error' event|node:events/, stderr)
      assert.ok(
        r.stdout.toString().trim() === '0' || /^narthex store ls: write EPIPE\n$/.test(stderr),
        `exit ${r.stdout.toString().trim()}: ${stderr}`
      )
    }
  })

  it('says the data directory is in use when another process holds it', async () => {
    const store = createStore({ dir: data })
    await store.start()
    try {
      const r = await narthex(['store', 'ls', '--data', data], { env })
      assert.equal(r.code, 1)
      assert.match(r.stderr, /is in use by another process/)
    } finally {
      await store.stop()
    }
  })
})
