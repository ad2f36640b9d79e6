/**
 * @packageDocumentation
 *
 * The narthex shim: a standard Nix substituter on loopback. Narinfos come from the orchestrator (signed, passed
 * through unchanged, cached in memory and on disk); NAR bytes come from the swarm, each chunk checked against the
 * agreed manifest, or from an upstream HTTP cache checked against the agreed NarHash; many requests for one NAR
 * cause one fetch, and a NAR that cannot be delivered fails before any header is sent.
 *
 * @example
 * ```ts
 * import { createShim } from '@narthex/shim'
 * const shim = createShim({ data: '/var/lib/narthex-shim', orchestrator: 'http://orch:8080',
 *   upstream: ['https://cache.nixos.org'], listen: { host: '127.0.0.1', port: 37515 } })
 * await shim.start()
 * // nix-store -r /nix/store/... --option substituters shim.url --option trusted-public-keys 'orch-1:...'
 * await shim.stop()
 * ```
 */
import { NarthexShim, type Shim, type ShimInit } from './shim.js'

export type { ErrorRecord, FetchRecord } from './activity.js'
export {
  CONFIG_KEYS,
  type ConfigKey,
  isLoopbackAddress,
  type ListenAddress,
  loadShimConfig,
  parseConfigFile,
  parseListen,
  parseSize,
  type RawConfig,
  resolveConfig,
  SHIM_CONFIG,
  type ShimConfig
} from './config.js'
export { requestShimStatus, shimSocketPath } from './control.js'
export * from './errors.js'
export { OrchestratorClient } from './orchestrator.js'
export type { Shim, ShimInit, ShimStats, ShimStatus } from './shim.js'
export type { AgreedNarinfo, NarFetch, NarinfoSource, NarRequest, NarSource, Reseeder } from './sources.js'
export { SwarmSource, type SwarmSourceInit } from './swarm.js'
export { UpstreamSource } from './upstream.js'

/** Compose a shim; nothing listens or touches the disk until `start()`. */
export function createShim(init: ShimInit): Shim {
  return new NarthexShim(init)
}
