/**
 * The seeder's configuration: one schema (SEEDER_CONFIG) declares every key with its kind, default (from
 * constants.ts), the reason for the default, an example and its flag. A configuration file
 * (`narthex seeder --config FILE`) is JSON with comments; unknown keys and wrong types are rejected with
 * InvalidSeederConfigError naming the key. Flags given on the command line override the file key by key.
 * docs/configuration.md and docs/examples/seeder.jsonc are generated from the schema (`pnpm docs:config`).
 */
import {
  boolean,
  type Config,
  ConfigError,
  type ConfigInput,
  checkConfig,
  count,
  hostPort,
  loadConfigFile,
  mergeConfig,
  multiaddrs,
  parseConfig,
  parseSize as parseSizeText,
  path,
  setting,
  size,
  strings,
  url
} from '@narthex/config'
import {
  DEFAULT_LISTEN,
  DEFAULT_MAX_PEERS,
  DEFAULT_METRICS_HOST,
  DEFAULT_QUOTA_BYTES,
  DEFAULT_REPAIR,
  DEFAULT_UPLOAD_BYTES_PER_SECOND
} from './constants.js'
import { InvalidSeederConfigError } from './errors.js'
import type { SeederInit } from './seeder.js'

/** Every key of the seeder's configuration. */
export const SEEDER_CONFIG = {
  data: setting(path(), {
    required: '--data DIR',
    description:
      'The data directory: the chunk store, the peer identity (so the peer id survives restarts), DHT records and the control socket `seeder.sock`.',
    example: '/var/lib/narthex-seeder',
    flags: ['--data DIR']
  }),
  listen: setting(multiaddrs(), {
    default: DEFAULT_LISTEN,
    description:
      'libp2p listen addresses. Every IPv4 interface on the conventional libp2p port 4001, so peers can reach the seeder once that port is open or forwarded.',
    example: ['/ip4/0.0.0.0/tcp/4001'],
    flags: ['--listen MULTIADDR']
  }),
  bootstrap: setting(multiaddrs(), {
    default: [],
    description:
      "Peers to join the DHT through, with `/p2p/<peer id>` (the orchestrator's: `GET /api/v1/p2p`). None by default: a network has no fixed address to assume.",
    example: ['/dns4/orchestrator.example/tcp/4001/p2p/12D3KooWRBhwfeP2Y9CDkFRBAZ1pmxUadH36TKuk3KtKm5XXP8mA'],
    flags: ['--bootstrap MULTIADDR']
  }),
  allowPrivate: setting(boolean(), {
    default: false,
    description:
      'Dial and keep private and loopback peer addresses. Off, because on the Internet such addresses lead nowhere (or into the wrong LAN); turn on for a LAN or a test.',
    flags: ['--allow-private']
  }),
  quota: setting(size(), {
    default: DEFAULT_QUOTA_BYTES,
    defaultText: 'none (no limit)',
    description:
      'Disk quota for chunks and manifests; least recently used unpinned NARs are evicted past it, and the mirror never fetches past it. No default: only the volunteer knows how much disk to give.',
    example: '50G',
    flags: ['--quota SIZE']
  }),
  uploadRate: setting(size(), {
    default: DEFAULT_UPLOAD_BYTES_PER_SECOND,
    defaultText: '`0` (no cap)',
    description:
      'Upload cap in bytes per second, shared by every peer (a token bucket with one second of burst). No cap by default; a volunteer on a home link sets one, e.g. `2M`.',
    example: '4M',
    flags: ['--upload-rate SIZE']
  }),
  maxPeers: setting(count(), {
    default: DEFAULT_MAX_PEERS,
    description:
      'Peers served at once (0: no cap); a peer beyond it is told BUSY and goes to another seeder. 64 downloaders keep a 2-core machine busy at the measured ~250 MB/s without starving any.',
    example: DEFAULT_MAX_PEERS,
    flags: ['--max-peers N']
  }),
  metrics: setting(hostPort({ defaultHost: DEFAULT_METRICS_HOST, barePort: true }), {
    defaultText: 'none (off)',
    description:
      'Serve Prometheus metrics at `http://HOST:PORT/metrics`; a port alone means 127.0.0.1, so numbers are not published by accident.',
    example: '127.0.0.1:9464',
    flags: ['--metrics HOST:PORT']
  }),
  orchestrator: setting(url(), {
    description:
      'Publish the NARs whose output this orchestrator agreed on; the mirror lists agreed outputs there. One of `orchestrator`, `trustedKeys` or `serveUnverified` is required, so nothing unvetted is published by default.',
    example: 'https://orchestrator.example',
    flags: ['--orchestrator URL']
  }),
  trustedKeys: setting(strings(), {
    default: [],
    description: 'Publish the NARs whose narinfo is signed by one of these Nix public keys (`name:base64`).',
    flags: ['--trusted-key KEY']
  }),
  serveUnverified: setting(boolean(), {
    default: false,
    description:
      'Publish everything in the store (the publication policy off), private store paths too. Off: a seeder publishes only what was agreed or signed.',
    flags: ['--serve-unverified']
  }),
  mirror: setting(boolean(), {
    default: false,
    description:
      'Fetch agreed NARs this seeder does not hold yet, fewest providers first (needs `orchestrator`). Off: a volunteer chooses to spend disk and bandwidth on it.',
    example: true,
    flags: ['--mirror']
  }),
  upstream: setting(url({ protocols: ['http:', 'https:', 'file:'] }), {
    description:
      'A binary cache (`http(s)://` or `file://`) the mirror falls back to when no peer has a NAR; its NarHash is checked against the agreed one. None by default: the network should serve itself.',
    example: 'https://cache.nixos.org',
    flags: ['--upstream URL']
  }),
  repair: setting(boolean(), {
    default: DEFAULT_REPAIR,
    description:
      'Re-fetch the chunks of damaged NARs from peers, each verified against the manifest it already holds. On: bit rot is repaired instead of shrinking what the seeder serves.',
    flags: ['--no-repair']
  })
}

/** The seeder's configuration as written (file or flags): any subset of the keys. */
export type SeederConfig = ConfigInput<typeof SEEDER_CONFIG>

/** A configuration error of @narthex/config as the seeder's own InvalidSeederConfigError (same message). */
function seederError(err: unknown): unknown {
  return err instanceof ConfigError ? new InvalidSeederConfigError(err.message, { cause: err }) : err
}

/** A size: a number of bytes, or text with a binary suffix K, M, G, T (`500M`, `20G`, `1.5GiB`). */
export function parseSize(value: number | string, what = 'size'): number {
  const bytes = parseSizeText(value)
  if (bytes === undefined)
    throw new InvalidSeederConfigError(
      `${what}: ${JSON.stringify(value)} is not a size (a non-negative number of bytes, or e.g. 500M, 20G)`
    )
  return bytes
}

/** Check a parsed JSON value against the schema (InvalidSeederConfigError naming the first bad key). */
export function checkSeederConfig(value: unknown, where?: string): SeederConfig {
  try {
    return checkConfig(SEEDER_CONFIG, value, where)
  } catch (err) {
    throw seederError(err)
  }
}

/** Read and check a configuration file (JSON with comments). */
export async function loadSeederConfig(path: string): Promise<SeederConfig> {
  try {
    return await loadConfigFile(SEEDER_CONFIG, path)
  } catch (err) {
    throw seederError(err)
  }
}

/** Later configurations override earlier ones, key by key (flags over the file). */
export function mergeSeederConfig(...configs: readonly SeederConfig[]): SeederConfig {
  return checkSeederConfig(mergeConfig(...configs))
}

/** The seeder's init from a configuration as written: checked, defaults filled. */
export function seederInitFromConfig(config: SeederConfig): SeederInit {
  let c: Config<typeof SEEDER_CONFIG>
  try {
    c = parseConfig(SEEDER_CONFIG, config)
  } catch (err) {
    throw seederError(err)
  }
  return {
    dataDir: c.data,
    listen: c.listen,
    bootstrap: c.bootstrap,
    allowPrivateAddresses: c.allowPrivate,
    ...(c.quota !== undefined ? { quotaBytes: c.quota } : {}),
    uploadBytesPerSecond: c.uploadRate,
    maxPeers: c.maxPeers,
    ...(config.metrics !== undefined ? { metrics: config.metrics } : {}),
    ...(c.orchestrator !== undefined ? { orchestrator: c.orchestrator } : {}),
    trustedKeys: c.trustedKeys,
    serveUnverified: c.serveUnverified,
    mirror: c.mirror,
    ...(c.upstream !== undefined ? { upstream: c.upstream } : {}),
    repair: c.repair
  }
}
