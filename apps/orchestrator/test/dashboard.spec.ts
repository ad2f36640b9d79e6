/**
 * The dashboard in a real browser (Debian's headless Chromium driven by playwright-core): the page loads with
 * nothing fetched from anywhere but the orchestrator, shows a dispute created here with each builder's NarHash
 * side by side and a copyable rebuild command, and updates live over SSE when a new attestation arrives.
 * With NARTHEX_UPDATE_SCREENSHOT=1 it also writes docs/dashboard.png.
 */
import assert from 'node:assert/strict'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { type Browser, chromium } from 'playwright-core'
import { REPO_ROOT } from '../../../test/util/index.js'
import { attest, type Harness, hashPartOf, post, startHarness, storePath } from './helpers.js'

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync'
]

describe('dashboard (headless Chromium)', function () {
  this.timeout(60_000)
  let h: Harness
  let browser: Browser
  afterEach(async () => {
    await browser?.close()
    await h?.stop()
  })

  it('shows a dispute side by side and updates live without reload', async () => {
    h = await startHarness({ quorum: 2, builders: 4 })
    const [b1, b2, b3, b4] = h.builders as [
      (typeof h.builders)[0],
      (typeof h.builders)[0],
      (typeof h.builders)[0],
      (typeof h.builders)[0]
    ]
    const submit = (a: unknown) => post(`${h.url}/api/v1/attestations`, a)
    const t = Date.now() - 600_000
    // Agreed outputs, a pending one, and a dispute (non-reproducible build: two different NarHashes).
    for (const [i, name] of [
      'hello-2.12.1',
      'openssl-3.0.13',
      'zlib-1.3.1',
      'python3-3.11.9',
      'coreutils-9.4'
    ].entries()) {
      await submit(attest(b1, name, 'a', t + i * 1000))
      await submit(attest(i % 2 === 0 ? b2 : b3, name, 'a', t + i * 1000 + 500))
    }
    await submit(attest(b2, 'curl-8.7.1', 'a', t + 9000))
    await submit(attest(b1, 'timestamped-1.0', 'built-at-1', t + 10_000))
    await submit(attest(b2, 'timestamped-1.0', 'built-at-2', t + 11_000))
    await submit(attest(b4, 'timestamped-1.0', 'built-at-1', t + 12_000))

    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS })
    const page = await browser.newPage({ viewport: { width: 1360, height: 860 } })
    const foreign: string[] = []
    page.on('request', (r) => {
      if (!r.url().startsWith(h.url) && !r.url().startsWith('data:')) foreign.push(r.url())
    })
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(String(e)))
    await page.goto(h.url)

    // The dispute is listed (the disputed tab is first) and the cards count it.
    const disputeHash = hashPartOf(storePath('timestamped-1.0'))
    const row = page.locator(`tr.row[data-hash="${disputeHash}"]`)
    await row.waitFor()
    assert.equal(await row.getAttribute('data-status'), 'disputed')
    assert.equal(await page.textContent('#c-disputed'), '1')
    assert.equal(await page.textContent('#c-agreed'), '5')
    await page.locator('#live[data-state="live"]').waitFor()

    // Expand it: each builder's NarHash side by side, the differing one marked, and a rebuild command.
    await row.click()
    const detail = page.locator(`tr.detail[data-detail-for="${disputeHash}"]`)
    await detail.locator('table.compare tbody tr').nth(2).waitFor()
    const builders = await detail
      .locator('table.compare tbody tr')
      .evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.builder))
    assert.deepEqual(builders, ['builder-1', 'builder-2', 'builder-4'])
    assert.equal(await detail.locator('.diff').count(), 2) // builder-2's NarHash and manifest root differ
    const cmd = await detail.locator('.cmd code').textContent()
    assert.equal(
      cmd,
      `narthex build --check --orchestrator ${h.url} --key ./builder.sec ${storePath('timestamped-1.0.drv')}`
    )

    // Live: a marker set now survives (no reload), and a new attestation shows up in the feed and the counts.
    // The open detail stays on screen through the refreshes (it used to be rebuilt empty and loaded again).
    // (a string, not a function: the test runner's transpiler would name the observer with a helper the page lacks)
    await page.evaluate(`
      window.marker = 42
      window.detailBlanked = false
      new MutationObserver(() => {
        const rows = document.querySelectorAll('tr.detail[data-detail-for="${disputeHash}"] table.compare tbody tr')
        if (rows.length !== 3) window.detailBlanked = true
      }).observe(document.getElementById('outputs'), { childList: true, subtree: true })
    `)
    await submit(attest(b3, 'curl-8.7.1', 'a'))
    await page.locator('#feed li.new', { hasText: 'curl-8.7.1' }).first().waitFor()
    await page.waitForFunction(() => document.getElementById('c-agreed')?.textContent === '6')
    assert.equal(await page.evaluate(() => (window as unknown as { marker: number }).marker), 42)
    assert.equal(
      await page.evaluate(() => (window as unknown as { detailBlanked: boolean }).detailBlanked),
      false,
      'the open detail was blanked by a live refresh'
    )
    // A second dispute arrives live too.
    await submit(attest(b1, 'racy-0.3', 'x'))
    await submit(attest(b4, 'racy-0.3', 'y'))
    await page.locator(`tr.row[data-hash="${hashPartOf(storePath('racy-0.3'))}"]`).waitFor()
    assert.equal(await page.textContent('#c-disputed'), '2')

    // Search by derivation.
    await page.fill('#search', 'openssl-3.0.13.drv')
    await page.waitForFunction(() => document.querySelectorAll('#outputs tr.row').length === 1)
    assert.equal(
      await page.locator('#outputs tr.row').getAttribute('data-hash'),
      hashPartOf(storePath('openssl-3.0.13'))
    )
    await page.click('#search-clear')
    await page.waitForFunction(() => document.querySelectorAll('#outputs tr.row').length === 2)

    assert.deepEqual(foreign, [], 'nothing is fetched from outside the orchestrator')
    assert.deepEqual(errors, [])

    await mkdir(join(REPO_ROOT, 'test-results'), { recursive: true })
    await page.locator(`tr.row[data-hash="${disputeHash}"]`).waitFor()
    const shot =
      process.env.NARTHEX_UPDATE_SCREENSHOT === '1'
        ? join(REPO_ROOT, 'docs/dashboard.png')
        : join(REPO_ROOT, 'test-results/dashboard.png')
    await page.screenshot({ path: shot, fullPage: false })
  })
})
