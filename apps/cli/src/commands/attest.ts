import { readFile } from 'node:fs/promises'
import { type AttestedOutput, attestPaths } from '@narthex/builder'
import { parseSecretKey } from '@narthex/nix'
import { type Command, parseFlags, writeText } from '../command.js'
import { CommandFailedError, UsageError } from '../errors.js'
import { localSeeder } from '../local-seeder.js'

export const command: Command = {
  name: 'attest',
  summary: 'attest store paths already built: measure, sign, submit to the orchestrator',
  usage: `Usage: narthex attest --orchestrator URL --key FILE [--seed DIR] STORE_PATH...

For each output already in the local Nix store: serialise it as a NAR, compute its NarHash and chunk manifest
root, take References and Deriver from Nix and the derivation's output name from nix show-derivation, sign an
attestation with the builder key FILE (a Nix secret key, narthex keygen NAME) and submit it.

Prints one line per path: STORE_PATH NARHASH RESULT -> STATUS. Exits 1 if any attestation was refused.

Flags:
  --orchestrator URL   the orchestrator, e.g. http://127.0.0.1:7420
  --key FILE           the builder's Nix secret key
  --seed DIR           hand every accepted output to the running seeder of data directory DIR`,
  async run(args, io) {
    const { values, positionals } = parseFlags(args, {
      orchestrator: { type: 'string' },
      key: { type: 'string' },
      seed: { type: 'string' }
    })
    if (values.orchestrator === undefined) throw new UsageError('--orchestrator URL is required')
    if (values.key === undefined) throw new UsageError('--key FILE is required')
    if (positionals.length === 0) throw new UsageError('give at least one STORE_PATH')
    const key = parseSecretKey(await readFile(values.key, 'utf8'))
    const outputs = await attestPaths(positionals, {
      key,
      orchestrator: values.orchestrator,
      blocking: true,
      ...(values.seed !== undefined ? { seeder: localSeeder(values.seed) } : {})
    })
    return report(outputs, io.stdout)
  }
}

/** One line per output; exit status 1 when any attestation was refused. Shared with `narthex build`. */
export async function report(
  outputs: readonly AttestedOutput[],
  out: NodeJS.WritableStream
): Promise<number> {
  let refused = 0
  for (const o of outputs) {
    const r = o.result
    const what = 'error' in r ? `refused: ${r.error.name}: ${r.error.message}` : `${r.result} -> ${r.status}`
    if ('error' in r) refused++
    await writeText(
      out,
      `${o.outPath} ${o.narHash}${o.differsFromStore ? ' (rebuild differs)' : ''} ${what}\n`
    )
  }
  if (refused > 0) throw new CommandFailedError(`${refused} of ${outputs.length} attestations were refused`)
  return 0
}
