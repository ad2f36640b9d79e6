/**
 * The orchestrator's libp2p node: a DHT server that peers use as their bootstrap peer. Its multiaddrs are
 * published at `GET /api/v1/p2p`. Loaded lazily (libp2p is large) only when `p2pListen` is not empty.
 */

import { InvalidConfigError } from './errors.js'
import type { BootstrapNodeFactory } from './orchestrator.js'

// Wired to @narthex/p2p's node factory once that package is on main.
export const createBootstrapNode: BootstrapNodeFactory = async () => {
  throw new InvalidConfigError('this build has no libp2p node yet; run with --no-p2p')
}
