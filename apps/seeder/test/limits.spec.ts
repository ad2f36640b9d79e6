import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { REPO_ROOT } from '../../../test/util/index.js'
import * as constants from '../src/constants.js'

describe('docs/limits.md (seeder)', () => {
  it('documents every constant of the seeder', async () => {
    const doc = await readFile(join(REPO_ROOT, 'docs/limits.md'), 'utf8')
    const missing = Object.keys(constants).filter((name) => !doc.includes(`\`${name}\``))
    assert.deepEqual(missing, [])
  })
})
