/**
 * docs/errors.md against the code: every error class exported by a package's or app's `src/errors.ts` has a row
 * in that module's section (the `## ` heading naming its path), and every row names a class of that module.
 * The section "## Messages a user can meet" (kept at the end of the page) is not part of this check.
 */
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { REPO_ROOT } from './util/index.js'

const MESSAGES_SECTION = '## Messages a user can meet'

/** Every `packages/<p>/src/errors.ts` and `apps/<a>/src/errors.ts`, as repository-relative paths. */
async function errorModules(): Promise<string[]> {
  const out: string[] = []
  for (const top of ['packages', 'apps']) {
    for (const name of (await readdir(join(REPO_ROOT, top))).sort()) {
      const rel = `${top}/${name}/src/errors.ts`
      if (
        await readFile(join(REPO_ROOT, rel)).then(
          () => true,
          () => false
        )
      )
        out.push(rel)
    }
  }
  return out
}

/** The `name` of every Error class a module exports. */
async function errorNames(rel: string): Promise<string[]> {
  const mod = (await import(pathToFileURL(join(REPO_ROOT, rel)).href)) as Record<string, unknown>
  const names: string[] = []
  for (const value of Object.values(mod)) {
    if (typeof value !== 'function' || !(value.prototype instanceof Error)) continue
    let name: string
    try {
      name = (new (value as new (m: string) => Error)('x') as Error).name
    } catch {
      name = value.name
    }
    names.push(name)
  }
  return names.sort()
}

/** Rows of docs/errors.md by the errors.ts path named in their section's heading. */
async function documented(): Promise<Map<string, string[]>> {
  let doc = await readFile(join(REPO_ROOT, 'docs/errors.md'), 'utf8')
  const cut = doc.indexOf(`\n${MESSAGES_SECTION}`)
  if (cut >= 0) doc = doc.slice(0, cut)
  const out = new Map<string, string[]>()
  for (const part of doc.split(/^## /m).slice(1)) {
    const heading = part.slice(0, part.indexOf('\n'))
    const path = /`((?:packages|apps)\/[\w-]+\/src\/errors\.ts)`/.exec(heading)?.[1]
    assert.ok(path !== undefined, `section "## ${heading}" names no errors.ts path`)
    assert.ok(!out.has(path), `two sections for ${path}`)
    const names = [...part.matchAll(/^\| `(\w+)` +\|/gm)].map((m) => m[1]!)
    out.set(path, names.sort())
  }
  return out
}

describe('docs/errors.md lists every error class', () => {
  it('has one section per errors.ts, with one row per exported error class and no other', async () => {
    const modules = await errorModules()
    assert.ok(modules.length >= 10, `found only ${modules.length} errors modules`)
    const doc = await documented()
    assert.deepEqual([...doc.keys()].sort(), [...modules].sort(), 'sections ≠ errors.ts modules')
    for (const rel of modules) {
      const names = await errorNames(rel)
      assert.ok(names.length > 0, `${rel} exports no error class`)
      const rows = doc.get(rel)!
      assert.deepEqual(
        rows.filter((n) => !names.includes(n)),
        [],
        `rows in the ${rel} section that name no class of it`
      )
      assert.deepEqual(
        names.filter((n) => !rows.includes(n)),
        [],
        `classes of ${rel} without a row in docs/errors.md`
      )
      assert.equal(new Set(rows).size, rows.length, `a class listed twice for ${rel}`)
    }
  })

  it('fills in the meaning and what to do for every row', async () => {
    let doc = await readFile(join(REPO_ROOT, 'docs/errors.md'), 'utf8')
    const cut = doc.indexOf(`\n${MESSAGES_SECTION}`)
    if (cut >= 0) doc = doc.slice(0, cut)
    for (const m of doc.matchAll(/^\| `(\w+)` +\|(.*)\|$/gm)) {
      const cells = m[2]!.split(/(?<!\\)\|/).map((c) => c.trim())
      assert.equal(cells.length, 2, `${m[1]}: expected "meaning | what to do"`)
      assert.ok(cells[0]!.length > 0 && cells[1]!.length > 0, `${m[1]}: empty cell`)
    }
  })
})
