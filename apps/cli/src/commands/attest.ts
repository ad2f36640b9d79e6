import { type AttestedOutput, attestPaths, type MeasuredOutput } from '@narthex/builder'
import { type Command, type CommandIo, checkHttpUrl, parseFlags, writeText } from '../command.js'
import { CommandFailedError, UsageError } from '../errors.js'
import { readSecretKeyFile } from '../key-file.js'
import { localSeeder } from '../local-seeder.js'
import { createProgress } from '../progress.js'

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
    checkHttpUrl('--orchestrator', values.orchestrator)
    if (values.key === undefined) throw new UsageError('--key FILE is required')
    if (positionals.length === 0) throw new UsageError('give at least one STORE_PATH')
    const key = await readSecretKeyFile(values.key)
    const progress = measureProgress(io, 'attest', 'measuring')
    let outputs: readonly AttestedOutput[]
    try {
      outputs = await attestPaths(positionals, {
        key,
        orchestrator: values.orchestrator,
        blocking: true,
        onMeasured: progress.onMeasured,
        ...(values.seed !== undefined ? { seeder: localSeeder(values.seed) } : {})
      })
    } finally {
      progress.finish()
    }
    return report(outputs, io.stdout)
  }
}

/**
 * Progress of a build or an attestation on stderr: the phase and the time it has taken, then each output measured
 * (count and NAR bytes). Shared with `narthex build`.
 */
export function measureProgress(
  io: CommandIo,
  label: string,
  phase: string
): { onMeasured: (o: MeasuredOutput) => void; finish: () => void } {
  const progress = createProgress({ stream: io.stderr, label, quiet: io.quiet })
  let items = 0
  let bytes = 0
  progress.update({ name: phase })
  // The phase text has no bytes to move it: redraw each second so the elapsed time shows it is alive.
  const tick = setInterval(() => progress.update({}), 1000)
  return {
    onMeasured(o) {
      items++
      bytes += o.narSize
      progress.update({ items, bytes, name: `measured ${o.outPath.slice(o.outPath.lastIndexOf('/') + 1)}` })
    },
    finish() {
      clearInterval(tick)
      progress.finish()
    }
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
