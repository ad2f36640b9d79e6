import assert from 'node:assert/strict'
import { request } from 'node:http'
import { join } from 'node:path'
import {
  fingerprint,
  formatPublicKey,
  generateSecretKey,
  parseNarinfo,
  parsePublicKey,
  verifyDetached,
  verifyNarinfo
} from '@narthex/nix'
import { waitFor } from '../../../test/util/index.js'
import { createOrchestrator, resolveConfig } from '../src/index.js'
import { attest, get, type Harness, hashPartOf, type Json, post, startHarness, storePath } from './helpers.js'

describe('orchestrator HTTP API', () => {
  let h: Harness
  afterEach(async () => {
    await h?.stop()
  })

  it('agrees at k = 2 and serves a narinfo signed by its key, with the manifest root', async () => {
    h = await startHarness({ quorum: 2 })
    const [b1, b2] = h.builders
    const a1 = attest(b1!, 'hello')
    const r1 = await post(`${h.url}/api/v1/attestations`, a1)
    assert.equal(r1.status, 201)
    assert.equal(r1.json.result, 'accepted')
    assert.equal(r1.json.output.status, 'pending')
    const hp = hashPartOf(a1.outPath)
    assert.equal((await get(`${h.url}/${hp}.narinfo`)).status, 404)

    const r2 = await post(`${h.url}/api/v1/attestations`, attest(b2!, 'hello'))
    assert.equal(r2.status, 201)
    assert.equal(r2.json.output.status, 'agreed')
    assert.equal(r2.json.output.served, true)

    const res = await fetch(`${h.url}/${hp}.narinfo`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'text/x-nix-narinfo')
    assert.equal(res.headers.get('x-narthex-manifest-root'), a1.manifestRoot)
    const text = await res.text()
    const fields = Object.fromEntries(
      text
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(': ') + 2)])
    )
    assert.equal(fields.StorePath, a1.outPath)
    assert.equal(fields.URL, `nar/${a1.narHash.slice('sha256:'.length)}.nar`)
    assert.equal(fields.Compression, 'none')
    assert.equal(fields.NarHash, a1.narHash)
    assert.equal(fields.NarSize, String(a1.narSize))
    assert.equal(fields.References, a1.references.map((r) => r.slice('/nix/store/'.length)).join(' '))
    assert.equal(fields.Deriver, a1.deriver!.slice('/nix/store/'.length))
    const fp = fingerprint({
      storePath: a1.outPath,
      narHash: a1.narHash,
      narSize: a1.narSize,
      references: a1.references
    })
    assert.ok(verifyDetached(fp, fields.Sig!, [h.key.publicKey]))
    assert.ok(verifyNarinfo(parseNarinfo(text), [h.key.publicKey]))

    const agreement = await get(`${h.url}/api/v1/agreements/${hp}`)
    assert.equal(agreement.status, 200)
    assert.equal(agreement.json.agreement.manifestRoot, a1.manifestRoot)
    assert.deepEqual(agreement.json.agreement.builders, ['builder-1', 'builder-2'])
    assert.equal(agreement.json.narinfo, text)
    assert.equal(agreement.json.attestations.length, 2)
    assert.deepEqual(parsePublicKey(agreement.json.orchestratorKey).key, h.key.publicKey.key)
  })

  it('is idempotent: the same attestation twice is accepted once', async () => {
    h = await startHarness()
    const a = attest(h.builders[0]!, 'x')
    assert.equal((await post(`${h.url}/api/v1/attestations`, a)).status, 201)
    const again = await post(`${h.url}/api/v1/attestations`, a)
    assert.equal(again.status, 200)
    assert.equal(again.json.result, 'duplicate')
    const out = await get(`${h.url}/api/v1/outputs/${hashPartOf(a.outPath)}`)
    assert.equal(out.json.attestationList.length, 1)
  })

  it('shows a dispute with each claim and serves no narinfo for it', async () => {
    h = await startHarness()
    const [b1, b2, b3] = h.builders
    await post(`${h.url}/api/v1/attestations`, attest(b1!, 'nondet', 'one'))
    await post(`${h.url}/api/v1/attestations`, attest(b2!, 'nondet', 'two'))
    const r = await post(`${h.url}/api/v1/attestations`, attest(b3!, 'nondet', 'one'))
    assert.equal(r.json.output.status, 'disputed')
    const hp = hashPartOf(storePath('nondet'))
    assert.equal((await get(`${h.url}/${hp}.narinfo`)).status, 404)
    assert.equal((await get(`${h.url}/api/v1/agreements/${hp}`)).status, 404)
    const o = await get(`${h.url}/api/v1/outputs/${hp}`)
    assert.equal(o.json.status, 'disputed')
    assert.equal(o.json.claimList.length, 2)
    assert.deepEqual(
      o.json.claimList.map((c: { supporters: string[] }) => c.supporters.length).sort(),
      [1, 2]
    )
    const list = await get(`${h.url}/api/v1/outputs?status=disputed`)
    assert.equal(list.json.total, 1)
    assert.equal(list.json.outputs[0].outPath, storePath('nondet'))
  })

  it('answers queries by derivation, search, builders, summary, recent attestations', async () => {
    h = await startHarness()
    const [b1, b2] = h.builders
    await post(`${h.url}/api/v1/attestations`, attest(b1!, 'pkg'))
    await post(`${h.url}/api/v1/attestations`, attest(b2!, 'pkg'))
    await post(`${h.url}/api/v1/attestations`, attest(b1!, 'other'))
    const drv = storePath('pkg.drv').slice('/nix/store/'.length)
    const byDrv = await get(`${h.url}/api/v1/drvs/${drv}`)
    assert.equal(byDrv.status, 200)
    assert.equal(byDrv.json.outputs[0].outPath, storePath('pkg'))
    assert.deepEqual(byDrv.json.outputs[0].outputNames, ['out'])
    assert.equal((await get(`${h.url}/api/v1/drvs/${storePath('none.drv').slice(11)}`)).status, 404)
    const search = await get(`${h.url}/api/v1/outputs?q=${encodeURIComponent('pkg.drv')}`)
    assert.equal(search.json.total, 1)
    const builders = await get(`${h.url}/api/v1/builders`)
    const b = builders.json.builders.find((x: { name: string }) => x.name === 'builder-1')
    assert.equal(b.attestations, 2)
    assert.equal(b.agreements, 1)
    const summary = await get(`${h.url}/api/v1/summary`)
    assert.deepEqual(summary.json.outputs, { pending: 1, agreed: 1, disputed: 0, total: 2 })
    assert.equal(summary.json.agreementRate, 1)
    const recent = await get(`${h.url}/api/v1/attestations?limit=2`)
    assert.deepEqual(
      recent.json.attestations.map((a: { outPath: string }) => a.outPath),
      [storePath('other'), storePath('pkg')]
    )
  })

  it('accepts a batch and reports each item', async () => {
    h = await startHarness()
    const [b1, b2] = h.builders
    const stranger = attest(generateSecretKey('stranger'), 'q')
    const r = await post(`${h.url}/api/v1/attestations`, [
      attest(b1!, 'q'),
      attest(b2!, 'q'),
      stranger,
      attest(b1!, 'q')
    ])
    assert.equal(r.status, 200)
    assert.deepEqual(
      r.json.results.map((x: { result?: string; error?: { name: string } }) => x.result ?? x.error!.name),
      ['accepted', 'accepted', 'UnknownBuilderError', 'duplicate']
    )
    assert.equal((await get(`${h.url}/${hashPartOf(storePath('q'))}.narinfo`)).status, 200)
  })

  it('maps client mistakes to 4xx with a stable error name and no internals', async () => {
    h = await startHarness()
    const [b1] = h.builders
    const url = `${h.url}/api/v1/attestations`
    const stranger = generateSecretKey('stranger')
    const cases: [string, () => Promise<{ status: number; json: Json }>, number, string][] = [
      ['invalid JSON', () => post(url, '{"v":'), 400, 'InvalidJsonError'],
      [
        'a malformed attestation',
        () => post(url, { ...attest(b1!, 'e'), narSize: -1 }),
        400,
        'InvalidAttestationError'
      ],
      [
        'a wrong content type',
        () => post(url, '{}', { 'content-type': 'text/plain' }),
        415,
        'UnsupportedMediaTypeError'
      ],
      ['an unknown builder', () => post(url, attest(stranger, 'e')), 403, 'UnknownBuilderError'],
      [
        'a bad signature',
        () => post(url, { ...attest(b1!, 'e'), time: 5 }),
        403,
        'AttestationSignatureError'
      ],
      [
        'a time in the future',
        () => post(url, attest(b1!, 'e', 'a', Date.now() + 3_600_000)),
        400,
        'AttestationFromFutureError'
      ],
      ['a too large body', () => post(url, `[${'1,'.repeat(3_000_000)}1]`), 413, 'BodyTooLargeError'],
      ['an unknown route', () => get(`${h.url}/api/v1/nope`), 404, 'NotFoundError'],
      ['a traversal attempt', () => get(`${h.url}/assets/..%2f..%2fpackage.json`), 404, 'NotFoundError'],
      ['an unknown query parameter', () => get(`${h.url}/api/v1/outputs?x=1`), 400, 'InvalidRequestError'],
      ['a bad status filter', () => get(`${h.url}/api/v1/outputs?status=maybe`), 400, 'InvalidRequestError'],
      ['a bad limit', () => get(`${h.url}/api/v1/outputs?limit=0`), 400, 'InvalidRequestError'],
      ['an unknown output', () => get(`${h.url}/api/v1/outputs/${'0'.repeat(32)}`), 404, 'NotFoundError']
    ]
    for (const [what, send, status, name] of cases) {
      const r = await send()
      assert.equal(r.status, status, what)
      assert.equal(r.json.error.name, name, what)
      assert.doesNotMatch(JSON.stringify(r.json), /\/tmp\/|at .*\.ts:|node_modules/, what)
    }
    const del = await fetch(url, { method: 'DELETE' })
    assert.equal(del.status, 405)
    assert.equal(del.headers.get('allow'), 'POST, GET, HEAD')
    assert.equal((await del.json()).error.name, 'MethodNotAllowedError')
  })

  it('answers 431 to oversized headers', async () => {
    h = await startHarness()
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${h.url}/healthz`, { headers: { 'x-big': 'a'.repeat(20_000) } }, (res) => {
        res.resume()
        resolve(res.statusCode!)
      })
      req.on('error', reject)
      req.end()
    })
    assert.equal(status, 431)
  })

  it('serves nix-cache-info, health and Prometheus metrics', async () => {
    h = await startHarness()
    const info = await fetch(`${h.url}/nix-cache-info`)
    assert.equal(await info.text(), 'StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 40\n')
    assert.deepEqual((await get(`${h.url}/healthz`)).json, { status: 'ok' })
    await post(`${h.url}/api/v1/attestations`, attest(h.builders[0]!, 'm'))
    await fetch(`${h.url}/${'1'.repeat(32)}.narinfo`)
    const metrics = await (await fetch(`${h.url}/metrics`)).text()
    assert.match(metrics, /^narthex_attestations_total\{result="accepted"\} 1$/m)
    assert.match(metrics, /^narthex_narinfo_requests_total\{result="miss"\} 1$/m)
    assert.match(metrics, /^narthex_outputs\{status="pending"\} 1$/m)
  })

  it('streams events over SSE, and replays missed ones after Last-Event-ID', async () => {
    h = await startHarness()
    const [b1, b2] = h.builders
    const ac = new AbortController()
    const res = await fetch(`${h.url}/api/v1/events`, { signal: ac.signal })
    assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8')
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
    let received = ''
    const pump = (async () => {
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }))
        if (done) return
        received += value
      }
    })()
    await post(`${h.url}/api/v1/attestations`, attest(b1!, 's'))
    await post(`${h.url}/api/v1/attestations`, attest(b2!, 's'))
    await waitFor(
      'agreement event',
      () => received.includes('event: output') && received.includes('"status":"agreed"')
    )
    assert.match(received, /id: 1\nevent: attestation\ndata: \{"seq":1,"builder":"builder-1"/)
    ac.abort()
    await pump
    // Resume after event 1: events 2.. are replayed.
    const ac2 = new AbortController()
    const again = await fetch(`${h.url}/api/v1/events`, {
      headers: { 'last-event-id': '1' },
      signal: ac2.signal
    })
    const r2 = again.body!.pipeThrough(new TextDecoderStream()).getReader()
    let text = ''
    while (!text.includes('event: output')) text += (await r2.read()).value
    assert.doesNotMatch(text, /^id: 1$/m)
    assert.match(text, /^id: 2$/m)
    ac2.abort()
  })

  it('applies the policy to a late dissenter: keep serves it as contested, withdraw stops serving it', async () => {
    for (const afterAgreement of ['keep', 'withdraw'] as const) {
      h = await startHarness({ afterAgreement })
      const [b1, b2, b3] = h.builders
      await post(`${h.url}/api/v1/attestations`, attest(b1!, 'late'))
      await post(`${h.url}/api/v1/attestations`, attest(b2!, 'late'))
      const hp = hashPartOf(storePath('late'))
      assert.equal((await fetch(`${h.url}/${hp}.narinfo`)).status, 200)
      const r = await post(`${h.url}/api/v1/attestations`, attest(b3!, 'late', 'dissent'))
      const o = (await get(`${h.url}/api/v1/outputs/${hp}`)).json
      if (afterAgreement === 'keep') {
        assert.equal(r.json.output.status, 'agreed')
        assert.equal(o.contested, true)
        assert.deepEqual(o.dissenters, ['builder-3'])
        assert.equal((await fetch(`${h.url}/${hp}.narinfo`)).status, 200)
      } else {
        assert.equal(r.json.output.status, 'disputed')
        assert.equal(o.served, false)
        assert.equal(o.agreement.narHash, attest(b1!, 'late').narHash)
        assert.equal((await fetch(`${h.url}/${hp}.narinfo`)).status, 404)
        assert.equal((await get(`${h.url}/api/v1/agreements/${hp}`)).status, 404)
      }
      await h.stop()
    }
    h = await startHarness()
  })

  it('revoking the dissenter at restart turns a dispute into an agreement, written before serving', async () => {
    h = await startHarness()
    const [b1, b2, b3] = h.builders
    await post(`${h.url}/api/v1/attestations`, attest(b1!, 'rv'))
    await post(`${h.url}/api/v1/attestations`, attest(b3!, 'rv', 'evil'))
    await post(`${h.url}/api/v1/attestations`, attest(b2!, 'rv'))
    const hp = hashPartOf(storePath('rv'))
    assert.equal((await get(`${h.url}/api/v1/outputs/${hp}`)).json.status, 'disputed')
    await h.restart({ revoked: ['builder-3'] })
    assert.equal((await fetch(`${h.orchestrator.url}/${hp}.narinfo`)).status, 200)
    const builders = (await get(`${h.orchestrator.url}/api/v1/builders`)).json.builders
    assert.equal(builders.find((b: { name: string }) => b.name === 'builder-3').revoked, true)
    assert.equal(
      (await post(`${h.orchestrator.url}/api/v1/attestations`, attest(b3!, 'other'))).json.error.name,
      'BuilderRevokedError'
    )
    // The agreement reached at start is durable: still there after another restart without the revocation.
    await h.restart({ revoked: [] })
    assert.equal((await fetch(`${h.orchestrator.url}/${hp}.narinfo`)).status, 200)
  })

  it('keeps everything across a restart', async () => {
    h = await startHarness()
    const [b1, b2, b3] = h.builders
    await post(`${h.url}/api/v1/attestations`, attest(b1!, 'r'))
    await post(`${h.url}/api/v1/attestations`, attest(b2!, 'r'))
    await post(`${h.url}/api/v1/attestations`, attest(b3!, 'd', 'x'))
    await post(`${h.url}/api/v1/attestations`, attest(b1!, 'd', 'y'))
    const hp = hashPartOf(storePath('r'))
    const before = await (await fetch(`${h.url}/${hp}.narinfo`)).text()
    const summaryBefore = (await get(`${h.url}/api/v1/summary`)).json
    await h.restart()
    assert.equal(await (await fetch(`${h.orchestrator.url}/${hp}.narinfo`)).text(), before)
    const summaryAfter = (await get(`${h.orchestrator.url}/api/v1/summary`)).json
    assert.deepEqual(summaryAfter.outputs, summaryBefore.outputs)
    assert.equal(summaryAfter.attestations, 4)
    const next = await post(`${h.orchestrator.url}/api/v1/attestations`, attest(b3!, 'r'))
    assert.equal(next.json.seq, 5)
    assert.equal(
      (await post(`${h.orchestrator.url}/api/v1/attestations`, attest(b1!, 'r'))).json.result,
      'duplicate'
    )
  })

  it('fails to start cleanly when the port is taken or the data directory is in use', async () => {
    h = await startHarness()
    const config = {
      ...resolveConfig({
        dataDir: join(h.dir, 'other'),
        keyFile: join(h.dir, 'orchestrator.sec'),
        quorum: 1,
        trust: [{ key: formatPublicKey(h.builders[0]!.publicKey), revoked: false }],
        p2pListen: []
      }),
      port: h.orchestrator.port
    }
    await assert.rejects(createOrchestrator({ config }).start(), { code: 'EADDRINUSE' })
    // The failed start released its database: a second start on the same directory works.
    const again = createOrchestrator({ config: { ...config, port: 0 } })
    await again.start()
    await again.stop()
    const sameDir = createOrchestrator({ config: { ...config, dataDir: join(h.dir, 'data'), port: 0 } })
    await assert.rejects(sameDir.start(), { name: 'InvalidConfigError', message: /another orchestrator/ })
  })

  it('serves the dashboard and its assets with a strict CSP', async () => {
    h = await startHarness()
    const page = await fetch(`${h.url}/`)
    assert.equal(page.status, 200)
    assert.match(page.headers.get('content-security-policy')!, /default-src 'none'/)
    const html = await page.text()
    const links = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!)
    assert.ok(links.includes('/assets/app.js') && links.includes('/assets/style.css'))
    for (const link of links) {
      assert.ok(link.startsWith('/'), `${link} is served by the orchestrator`)
      assert.equal((await fetch(`${h.url}${link}`)).status, 200, link)
    }
  })
})
