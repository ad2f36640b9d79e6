import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { REPO_ROOT } from '../../../test/util/index.js'
import { ROUTES } from '../src/http/routes.js'
import { DEFAULT_CACHE_PRIORITY, DEFAULT_PORT, HTTP_STATUS_BY_ERROR } from '../src/index.js'

describe('docs match the code', () => {
  it('docs/api.md lists every error name with its status, and no other', async () => {
    const doc = await readFile(join(REPO_ROOT, 'docs/api.md'), 'utf8')
    const rows = new Map(
      [...doc.matchAll(/^\| `(\w+Error)` +\| +(\d{3}) \|/gm)].map((m) => [m[1]!, Number(m[2])])
    )
    assert.deepEqual(Object.fromEntries(rows), { ...HTTP_STATUS_BY_ERROR })
  })

  it('docs/api.md documents every route under a heading with its method and path', async () => {
    const doc = await readFile(join(REPO_ROOT, 'docs/api.md'), 'utf8')
    const headings = doc.split('\n').filter((l) => l.startsWith('### '))
    for (const r of ROUTES) {
      const wanted = `\`${r.method} ${r.doc}\``
      assert.ok(
        headings.some((h) => h.includes(wanted)),
        `no heading with ${wanted}`
      )
    }
  })

  it('docs/configuration.md states the defaults of constants.ts', async () => {
    const doc = await readFile(join(REPO_ROOT, 'docs/configuration.md'), 'utf8')
    assert.match(doc, new RegExp(`127\\.0\\.0\\.1:${DEFAULT_PORT}`))
    assert.match(doc, new RegExp(`Priority.*${DEFAULT_CACHE_PRIORITY}`))
  })
})
