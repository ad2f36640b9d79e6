import assert from 'node:assert/strict'
import { narthex } from './util/index.js'

const NAR_HASH = 'sha256:1b8m03r63zqhnjf7l5wnldhh7c134ap5vpj0850ymkq1iyzicy5s'

describe('narthex fetch: usage and failures', function () {
  this.timeout(60_000)

  it('exits 2 on usage errors', async () => {
    for (const args of [
      ['fetch', NAR_HASH],
      ['fetch', '--bootstrap', '/ip4/127.0.0.1/tcp/1'],
      ['fetch', '--bootstrap', '/ip4/127.0.0.1/tcp/1', 'sha256:nothash'],
      ['fetch', '--bootstrap', '/ip4/127.0.0.1/tcp/1', '--timeout', '0', NAR_HASH]
    ]) {
      const r = await narthex(args)
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
      assert.match(r.stderr, /Usage: narthex fetch/)
    }
  })

  it('exits 1 with a one-line reason when no peer can be reached in time', async () => {
    const r = await narthex(
      [
        'fetch',
        '--bootstrap',
        '/ip4/127.0.0.1/tcp/9/p2p/12D3KooWKji7SzoZwCvdEUTSzwdnf6YNS1wKj99ZaK15MyxmZKyX',
        '--allow-private',
        '--timeout',
        '3',
        NAR_HASH
      ],
      { timeoutMs: 30_000 }
    )
    assert.equal(r.code, 1, r.stderr)
    assert.equal(r.stdout.byteLength, 0)
    assert.match(r.stderr, /narthex fetch: /)
  })
})
