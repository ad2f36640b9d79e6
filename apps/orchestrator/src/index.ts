/**
 * @packageDocumentation
 *
 * The narthex orchestrator (`narthex orchestrator`): stores builders' signed attestations in level, decides k-of-n
 * agreement with @narthex/consensus, signs and serves the narinfo of every agreed output, serves its HTTP API
 * (docs/api.md) and dashboard, and runs a libp2p DHT bootstrap node.
 *
 * @example
 * ```ts
 * import { createOrchestrator, resolveConfig } from '@narthex/orchestrator'
 * const orchestrator = createOrchestrator({
 *   config: resolveConfig({ dataDir: './data', keyFile: './orchestrator.sec', quorum: 2, p2pListen: [],
 *     trust: [{ key: 'builder-1:...', revoked: false }, { key: 'builder-2:...', revoked: false }] })
 * })
 * await orchestrator.start()
 * console.log(orchestrator.url)
 * ```
 */
export {
  type ConfigInput,
  loadOrchestratorConfig,
  ORCHESTRATOR_CONFIG,
  type OrchestratorConfig,
  type OrchestratorFileConfig,
  parseConfigFile,
  parseListen,
  resolveConfig,
  type TrustConfig,
  type TrustInput
} from './config.js'
export * from './constants.js'
export * from './errors.js'
export type { OrchestratorEvent } from './events.js'
export type { P2PInfo } from './http/routes.js'
export {
  type BootstrapNode,
  type BootstrapNodeFactory,
  createOrchestrator,
  type Orchestrator,
  type OrchestratorInit
} from './orchestrator.js'
export type * from './views.js'
