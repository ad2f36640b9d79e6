/**
 * `narthex attest` and `narthex build` as library functions: find what to attest, measure it, sign, submit.
 */
import { access } from 'node:fs/promises'
import { resolve } from 'node:path'
import { type Attestation, signAttestation } from '@narthex/consensus'
import { parseStorePath, type SecretKey } from '@narthex/nix'
import createDebug from 'debug'
import { CHECK_SUFFIX } from './constants.js'
import { InvalidTargetError, NoDeriverError, StorePathCorruptError } from './errors.js'
import { measurePath } from './measure.js'
import {
  buildInputClosure,
  derivationOutputs,
  instantiate,
  type NixOptions,
  pathInfo,
  realise
} from './nix-cli.js'
import { OrchestratorClient, type SubmitResult } from './orchestrator-client.js'

const log = createDebug('narthex:builder')

/**
 * A local seeder the builder can hand each attested output to, so what it built is seeded at once. The seeder
 * (apps/seeder) implements this through its control socket: `narthex build|attest --seed DIR` (apps/cli local-seeder.ts).
 */
export interface LocalSeeder {
  /** Import a valid store path whose NAR must have these values; the seeder checks them itself. */
  importPath(
    path: string,
    expect: { readonly narHash: string; readonly narSize: number; readonly manifestRoot: string },
    opts?: { readonly signal?: AbortSignal }
  ): Promise<void>
}

export interface AttestInit {
  /** The builder's Nix secret key; its name is the builder name the orchestrator trusts. */
  readonly key: SecretKey
  /** The orchestrator's URL, or a client. */
  readonly orchestrator: string | OrchestratorClient
  /** Environment of the nix commands. */
  readonly nix?: NixOptions
  /** Optional: import every attested output into this seeder. */
  readonly seeder?: LocalSeeder
  readonly now?: () => number
  readonly signal?: AbortSignal
  /** Read store files with blocking system calls (see `MeasureOptions.blocking`); the CLI sets it. */
  readonly blocking?: boolean
  /** Called once per output when it has been measured (for progress output). */
  readonly onMeasured?: (o: MeasuredOutput) => void
}

/** An output measured and ready to attest. */
export interface MeasuredOutput {
  readonly outPath: string
  readonly drvPath: string
  readonly outputName: string
  readonly narHash: string
  readonly narSize: number
  readonly manifestRoot: string
  readonly references: readonly string[]
  readonly deriver: string | null
  /** True when this is a `--check` rebuild that differed from the registered output (measured from `<out>.check`). */
  readonly differsFromStore: boolean
}

export interface AttestedOutput extends MeasuredOutput {
  readonly attestation: Attestation
  readonly result: SubmitResult
}

function client(o: string | OrchestratorClient): OrchestratorClient {
  return typeof o === 'string' ? new OrchestratorClient(o) : o
}

/** The output name of `outPath` in `drvPath`'s outputs. */
function outputNameOf(outputs: Map<string, string> | undefined, outPath: string): string | undefined {
  for (const [name, path] of outputs ?? []) if (path === outPath) return name
  return undefined
}

/**
 * Measure valid store paths (the NAR through @narthex/nix, NarHash and manifest root through @narthex/content),
 * checked against what Nix registered, with Deriver and References from Nix and drvPath/output name from the
 * deriver's derivation. `known` gives the derivation for paths whose derivation the caller knows (a build).
 */
async function measureRegistered(
  paths: readonly string[],
  init: AttestInit,
  known: Map<string, { drvPath: string; outputName: string }> = new Map()
): Promise<MeasuredOutput[]> {
  const infos = await pathInfo(paths, init.nix)
  const derivers = [
    ...new Set(infos.flatMap((i) => (known.has(i.path) || i.deriver === null ? [] : [i.deriver])))
  ]
  const present: string[] = []
  for (const d of derivers) if (await exists(d)) present.push(d)
  const outputs = await derivationOutputs(present, init.nix)
  const measured: MeasuredOutput[] = []
  for (const info of infos) {
    let drv = known.get(info.path)
    if (drv === undefined) {
      if (info.deriver === null)
        throw new NoDeriverError(`Nix records no deriver for ${info.path}; cannot name its derivation`)
      const name = outputNameOf(outputs.get(info.deriver), info.path)
      if (name === undefined) {
        throw new NoDeriverError(
          `${info.path}: its deriver ${info.deriver} is not in the store (or does not list it)`
        )
      }
      drv = { drvPath: info.deriver, outputName: name }
    }
    const m = await measurePath(info.path, { blocking: init.blocking, signal: init.signal })
    if (m.narHash !== info.narHash || m.narSize !== info.narSize) {
      throw new StorePathCorruptError(
        `${info.path}: its NAR hashes to ${m.narHash} (${m.narSize} bytes) but Nix registered ${info.narHash} (${info.narSize} bytes); run nix-store --verify --check-contents`
      )
    }
    const out: MeasuredOutput = {
      outPath: info.path,
      drvPath: drv.drvPath,
      outputName: drv.outputName,
      narHash: m.narHash,
      narSize: m.narSize,
      manifestRoot: m.manifestRoot,
      references: info.references,
      deriver: info.deriver,
      differsFromStore: false
    }
    init.onMeasured?.(out)
    measured.push(out)
  }
  return measured
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false
  )
}

/** Sign measured outputs, submit them, and hand accepted ones to the seeder. */
async function signAndSubmit(
  measured: readonly MeasuredOutput[],
  init: AttestInit
): Promise<AttestedOutput[]> {
  const now = init.now ?? Date.now
  const attestations = measured.map((m) =>
    signAttestation(init.key, {
      drvPath: m.drvPath,
      outputName: m.outputName,
      outPath: m.outPath,
      narHash: m.narHash,
      narSize: m.narSize,
      references: m.references,
      deriver: m.deriver,
      manifestRoot: m.manifestRoot,
      time: now()
    })
  )
  const results = await client(init.orchestrator).submit(attestations, { signal: init.signal })
  const attested = measured.map((m, i) => ({ ...m, attestation: attestations[i]!, result: results[i]! }))
  if (init.seeder !== undefined) {
    for (const a of attested) {
      if ('error' in a.result || a.differsFromStore) continue
      await init.seeder.importPath(
        a.outPath,
        { narHash: a.narHash, narSize: a.narSize, manifestRoot: a.manifestRoot },
        { signal: init.signal }
      )
    }
  }
  return attested
}

/**
 * `narthex attest`: attest outputs already in the local Nix store. Throws `NotInStoreError`, `NoDeriverError`,
 * `StorePathCorruptError`, `NixCommandError`, `OrchestratorUnreachableError`, `OrchestratorRejectedError`; a
 * per-attestation refusal (unknown key, ...) is in the result instead.
 */
export async function attestPaths(paths: readonly string[], init: AttestInit): Promise<AttestedOutput[]> {
  for (const p of paths) parseStorePath(p)
  const measured = await measureRegistered([...new Set(paths)], init)
  return signAndSubmit(measured, init)
}

export interface BuildInit extends AttestInit {
  /** Rebuild outputs that already exist (`nix-store --realise --check`) and attest the rebuild. */
  readonly check?: boolean
}

export interface BuildReport {
  readonly drvPaths: readonly string[]
  readonly outputs: readonly AttestedOutput[]
  /** With `check`: Nix found a rebuild that differs from the registered output. */
  readonly nonDeterministic: boolean
}

/** Resolve build targets: `.drv` store paths as they are, `.nix` files through nix-instantiate. */
async function derivationsOf(targets: readonly string[], init: AttestInit): Promise<string[]> {
  const drvs: string[] = []
  for (const t of targets) {
    if (t.startsWith('/nix/store/') || t.endsWith('.drv')) {
      try {
        parseStorePath(t)
      } catch (err) {
        throw new InvalidTargetError(`${t}: ${(err as Error).message}`)
      }
      if (!t.endsWith('.drv'))
        throw new InvalidTargetError(`${t} is a store path but not a derivation (.drv)`)
      drvs.push(t)
    } else if (t.endsWith('.nix')) {
      const file = resolve(t)
      if (!(await exists(file))) throw new InvalidTargetError(`${t}: no such file`)
      drvs.push(...(await instantiate(file, init.nix)))
    } else {
      throw new InvalidTargetError(`${t} is neither a .nix file nor a .drv store path`)
    }
  }
  return [...new Set(drvs)]
}

/**
 * `narthex build`: build with the real nix (or with `check`, rebuild what exists), then attest every output of
 * every derivation. A `--check` rebuild that differs from the registered output is attested as what this builder
 * got (measured from `<out>.check`, references scanned as Nix scans them), so the orchestrator sees the dispute.
 */
export async function buildAndAttest(targets: readonly string[], init: BuildInit): Promise<BuildReport> {
  const drvPaths = await derivationsOf(targets, init)
  if (drvPaths.length === 0) throw new InvalidTargetError('the targets evaluate to no derivation')
  const built = await realise(drvPaths, { ...init.nix, check: init.check === true })
  const outputs = await derivationOutputs(drvPaths, init.nix)
  const registered: string[] = []
  const known = new Map<string, { drvPath: string; outputName: string }>()
  const rebuilt: MeasuredOutput[] = []
  let closure: string[] | null = null
  for (const drvPath of drvPaths) {
    for (const [outputName, outPath] of outputs.get(drvPath) ?? []) {
      const checkPath = outPath + CHECK_SUFFIX
      if (init.check === true && built.nonDeterministic && (await exists(checkPath))) {
        closure ??= await buildInputClosure(drvPaths, init.nix)
        const candidates = new Set([...closure, ...[...(outputs.get(drvPath) ?? new Map()).values()]])
        const m = await measurePath(checkPath, {
          scanFor: candidates,
          blocking: init.blocking,
          signal: init.signal
        })
        const info = {
          outPath,
          drvPath,
          outputName,
          narHash: m.narHash,
          narSize: m.narSize,
          manifestRoot: m.manifestRoot
        }
        const out: MeasuredOutput = {
          ...info,
          references: m.references ?? [],
          deriver: drvPath,
          differsFromStore: true
        }
        log('%s: the rebuild differs from the registered output (%s)', outPath, m.narHash)
        init.onMeasured?.(out)
        rebuilt.push(out)
      } else {
        registered.push(outPath)
        known.set(outPath, { drvPath, outputName })
      }
    }
  }
  const measured = [...(await measureRegistered(registered, init, known)), ...rebuilt]
  return { drvPaths, outputs: await signAndSubmit(measured, init), nonDeterministic: built.nonDeterministic }
}
