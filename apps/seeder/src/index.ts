/**
 * @narthex/seeder: a long-running seeder. It serves the NARs of its store over `/narthex/nar/1.0.0`, announces
 * them in the DHT, re-hashes every chunk before it leaves the machine, publishes only what the policy allows
 * (agreed by the orchestrator or signed by a trusted key), takes imports through a control socket in its data
 * directory, and keeps to the volunteer's disk quota, upload cap and peer cap. See docs/seeder.md.
 *
 * @example
 * ```ts
 * import { createSeeder, requestImport } from '@narthex/seeder'
 *
 * const seeder = createSeeder({
 *   dataDir: '/var/lib/narthex-seeder',
 *   listen: ['/ip4/0.0.0.0/tcp/4001'],
 *   bootstrap: ['/dns4/boot.example/tcp/4001/p2p/12D3KooW...'],
 *   orchestrator: 'https://orchestrator.example',
 *   uploadBytesPerSecond: 4 * 1024 * 1024
 * })
 * await seeder.start()
 * console.log(seeder.multiaddrs)
 * // from another process:
 * await requestImport('/var/lib/narthex-seeder', { sources: ['/nix/store/...-hello-2.12'] })
 * await seeder.stop()
 * ```
 */
import { Seeder, type SeederInit } from './seeder.js'

export {
  checkSeederConfig,
  loadSeederConfig,
  mergeSeederConfig,
  parseSize,
  SEEDER_CONFIG,
  type SeederConfig,
  seederInitFromConfig
} from './config.js'
export * from './constants.js'
export { controlSocketPath, requestImport, requestStatus } from './control.js'
export * from './errors.js'
export type { ImportRequest } from './imports.js'
export { formatMetrics, type Metric } from './metrics.js'
export type { MirrorStats } from './mirror.js'
export type { PolicyReason } from './policy.js'
export type { CorruptReport, Seeder, SeederEvent, SeederInit, SeederStatus } from './seeder.js'

/** Create a seeder; call start() to run it and stop() to shut it down (announcer, node, store, in that order). */
export function createSeeder(init: SeederInit): Seeder {
  return new Seeder(init)
}
