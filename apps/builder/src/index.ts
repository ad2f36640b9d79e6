/**
 * @packageDocumentation
 *
 * The narthex builder (`narthex attest`, `narthex build`): for outputs in the local Nix store, compute the NAR
 * (@narthex/nix), NarHash and manifest root (@narthex/content), take References and Deriver from Nix, and the
 * derivation and output name from the deriver (`nix show-derivation`); sign an attestation with the builder's Nix
 * key (@narthex/consensus) and submit it to the orchestrator. `buildAndAttest` first builds with the real nix.
 *
 * @example
 * ```ts
 * import { attestPaths, buildAndAttest } from '@narthex/builder'
 * const key = parseSecretKey(await readFile('builder.sec', 'utf8'))
 * await attestPaths(['/nix/store/...-hello-2.12'], { key, orchestrator: 'http://127.0.0.1:7420' })
 * await buildAndAttest(['./hello.nix'], { key, orchestrator: 'http://127.0.0.1:7420', check: true })
 * ```
 */
export {
  type AttestedOutput,
  type AttestInit,
  attestPaths,
  type BuildInit,
  type BuildReport,
  buildAndAttest,
  type LocalSeeder,
  type MeasuredOutput
} from './attest.js'
export * from './constants.js'
export * from './errors.js'
export { type Measurement, measurePath } from './measure.js'
export type { NixOptions, PathInfo } from './nix-cli.js'
export { OrchestratorClient, type SubmitResult } from './orchestrator-client.js'
export { ReferenceScanner } from './references.js'
