import { buildAndAttest } from '@narthex/builder'
import { type Command, checkHttpUrl, parseFlags, writeText } from '../command.js'
import { UsageError } from '../errors.js'
import { readSecretKeyFile } from '../key-file.js'
import { localSeeder } from '../local-seeder.js'
import { measureProgress, report } from './attest.js'

export const command: Command = {
  name: 'build',
  summary: 'build with nix (or rebuild with --check) and attest every output',
  usage: `Usage: narthex build --orchestrator URL --key FILE [--check] [--seed DIR] (FILE.nix | DRV)...

Builds each target with the real nix (nix-instantiate for a .nix file, then nix-store --realise), then attests
every output of every derivation as narthex attest does.

With --check, outputs that already exist are rebuilt (nix-store --realise --check) and the rebuild is attested:
when it differs from the registered output (a non-deterministic build), what this builder got is attested, so
the orchestrator shows the dispute.

Flags:
  --orchestrator URL   the orchestrator, e.g. http://127.0.0.1:7420
  --key FILE           the builder's Nix secret key
  --seed DIR           hand every accepted output to the running seeder of data directory DIR
  --check              rebuild outputs that already exist and attest the rebuild`,
  async run(args, io) {
    const { values, positionals } = parseFlags(args, {
      orchestrator: { type: 'string' },
      key: { type: 'string' },
      seed: { type: 'string' },
      check: { type: 'boolean' }
    })
    if (values.orchestrator === undefined) throw new UsageError('--orchestrator URL is required')
    checkHttpUrl('--orchestrator', values.orchestrator)
    if (values.key === undefined) throw new UsageError('--key FILE is required')
    if (positionals.length === 0) throw new UsageError('give at least one FILE.nix or DRV')
    const key = await readSecretKeyFile(values.key)
    const progress = measureProgress(io, 'build', `building ${positionals.length} target(s) with nix`)
    let result: Awaited<ReturnType<typeof buildAndAttest>>
    try {
      result = await buildAndAttest(positionals, {
        key,
        orchestrator: values.orchestrator,
        check: values.check === true,
        blocking: true,
        onMeasured: progress.onMeasured,
        ...(values.seed !== undefined ? { seeder: localSeeder(values.seed) } : {})
      })
    } finally {
      progress.finish()
    }
    if (result.nonDeterministic) {
      await writeText(
        io.stderr,
        'narthex build: the rebuild differs from the registered output (not reproducible)\n'
      )
    }
    return report(result.outputs, io.stdout)
  }
}
