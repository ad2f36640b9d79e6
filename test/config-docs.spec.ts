/**
 * The configuration reference and the example configs are generated from the schemas (`pnpm docs:config`): the
 * committed files must be exactly what the code generates now, every example must load through the program's own
 * loader, and every flag the reference names must be one the command really has.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parsePublicKey } from '@narthex/nix'
import { loadOrchestratorConfig, resolveConfig as resolveOrchestratorConfig } from '@narthex/orchestrator'
import { loadSeederConfig, seederInitFromConfig } from '@narthex/seeder'
import { loadShimConfig, resolveConfig as resolveShimConfig } from '@narthex/shim'
import { command as orchestratorCommand } from '../apps/cli/src/commands/orchestrator.js'
import { command as seederCommand } from '../apps/cli/src/commands/seeder.js'
import { command as shimCommand } from '../apps/cli/src/commands/shim.js'
import { configDocs, PROGRAMS, REPO_ROOT } from '../scripts/gen-config-docs.js'

const example = (name: string) => join(REPO_ROOT, 'docs/examples', `${name}.jsonc`)

describe('configuration reference (docs/configuration.md, docs/examples/)', () => {
  for (const [file, text] of configDocs()) {
    it(`${file} is what the schemas generate`, async () => {
      const committed = await readFile(join(REPO_ROOT, file), 'utf8').catch(() => '')
      assert.ok(
        committed === text,
        `${file} differs from the schemas: run \`pnpm docs:config\` and commit it`
      )
    })
  }

  it('the orchestrator example loads and resolves, with well-formed trusted keys', async () => {
    const input = await loadOrchestratorConfig(example('orchestrator'))
    const config = resolveOrchestratorConfig(input)
    assert.ok(config.trust.length > 0)
    for (const t of config.trust) parsePublicKey(t.key)
    assert.equal(config.keyFile, join(REPO_ROOT, 'docs/examples/orchestrator.sec'))
  })

  it('the seeder example loads and makes a seeder init', async () => {
    const init = seederInitFromConfig(await loadSeederConfig(example('seeder')))
    assert.equal(init.dataDir, '/var/lib/narthex-seeder')
    assert.equal(init.quotaBytes, 50 * 2 ** 30)
  })

  it('the shim example loads and resolves', async () => {
    const config = resolveShimConfig(await loadShimConfig(example('shim')))
    assert.equal(config.data, '/var/lib/narthex-shim')
    assert.deepEqual(config.upstream, ['https://cache.nixos.org'])
  })

  const commands = { orchestrator: orchestratorCommand, seeder: seederCommand, shim: shimCommand }
  for (const p of PROGRAMS) {
    it(`every flag the ${p.name} reference names is in \`narthex ${p.name} --help\``, () => {
      const usage = commands[p.name].usage
      assert.match(usage, /--config FILE/)
      for (const [key, spec] of Object.entries(p.schema)) {
        assert.ok((spec.flags ?? []).length > 0, `${p.name} ${key} names no flag`)
        for (const flag of spec.flags ?? [])
          assert.ok(usage.includes(flag), `${p.name} ${key}: ${flag} is not in the usage text`)
      }
    })
  }
})
