/**
 * The shim's configuration: one schema (SHIM_CONFIG) declares every key with its kind, default (from
 * constants.ts), the reason for the default, an example and its flag. The same keys come from a configuration file
 * (`narthex shim --config FILE`, JSON with comments) or from flags; flags win. Unknown keys and wrong types are an
 * InvalidConfigError naming the key. docs/configuration.md and docs/examples/shim.jsonc are generated from the
 * schema (`pnpm docs:config`).
 */
import { isIP } from 'node:net'
import {
  boolean,
  type Config,
  ConfigError,
  type ConfigInput,
  count,
  type HostPort,
  hostPort,
  invalid,
  type Kind,
  loadConfigFile,
  multiaddrs,
  parseConfig,
  parseConfigText,
  parseHostPort,
  parseSize as parseSizeText,
  path,
  setting,
  size,
  strings,
  url,
  urls
} from '@narthex/config'
import { formatPublicKey, parsePublicKey } from '@narthex/nix'
import {
  DEFAULT_LISTEN_HOST,
  DEFAULT_LISTEN_PORT,
  DEFAULT_PREFETCH,
  DEFAULT_PRIORITY,
  DEFAULT_QUOTA_BYTES,
  DEFAULT_SEED
} from './constants.js'
import { InvalidConfigError } from './errors.js'

export type ListenAddress = HostPort

/** Nix public keys (`name:base64`), written back in canonical form. */
function publicKeys(): Kind<string | readonly string[], readonly string[]> {
  const base = strings({ orOne: true })
  return {
    ...base,
    name: 'public keys',
    expected: 'an array of Nix public keys ("name:base64")',
    parse: (v) =>
      base.parse(v).map((k) => {
        try {
          return formatPublicKey(parsePublicKey(k))
        } catch (err) {
          return invalid(`${JSON.stringify(k)}: ${(err as Error).message}`)
        }
      })
  }
}

/** Host names, compared without case. */
function hostNames(): Kind<string | readonly string[], readonly string[]> {
  const base = strings({ orOne: true })
  return {
    ...base,
    name: 'host names',
    expected: 'an array of host names, or one',
    parse: (v) => base.parse(v).map((h) => h.toLowerCase())
  }
}

/** Every key of the shim's configuration. */
export const SHIM_CONFIG = {
  data: setting(path(), {
    required: '--data DIR',
    description:
      'The data directory: the narinfo cache, the NAR cache (a chunk store) and temporary files. The shim keeps what it fetched there across restarts.',
    example: '/var/lib/narthex-shim',
    flags: ['--data DIR']
  }),
  listen: setting(hostPort({ defaultHost: DEFAULT_LISTEN_HOST }), {
    default: { host: DEFAULT_LISTEN_HOST, port: DEFAULT_LISTEN_PORT },
    description:
      'Where Nix reaches the shim. Loopback, because the shim is a substituter for this machine (another address needs `allowNonLoopback`); port 37515 is unassigned and easy to write in nix.conf.',
    example: `${DEFAULT_LISTEN_HOST}:${DEFAULT_LISTEN_PORT}`,
    flags: ['--listen HOST:PORT']
  }),
  orchestrator: setting(url(), {
    description:
      'The orchestrator that serves signed narinfos of agreed outputs. None by default: without it the shim serves only what `upstream` caches have.',
    example: 'https://orchestrator.example',
    flags: ['--orchestrator URL']
  }),
  orchestratorKeys: setting(publicKeys(), {
    default: [],
    description:
      "Refuse narinfos not signed by one of these public keys. Empty by default: Nix checks signatures against its own `trusted-public-keys` anyway; this also keeps an impostor's narinfos out of the shim's cache.",
    example: ['narthex-1:gvW4UcamOP7deTAFbOFRrQaF9ZA1f6MOEIJPPsvTDJ4='],
    flags: ['--orchestrator-key KEY']
  }),
  bootstrap: setting(multiaddrs({ orOne: true }), {
    default: [],
    description:
      'DHT bootstrap peers (multiaddrs with `/p2p/<peer id>`). None by default; without any the shim fetches NARs from `upstream` caches only.',
    example: ['/dns4/orchestrator.example/tcp/4001/p2p/12D3KooWRBhwfeP2Y9CDkFRBAZ1pmxUadH36TKuk3KtKm5XXP8mA'],
    flags: ['--bootstrap MULTIADDR']
  }),
  upstream: setting(urls({ orOne: true }), {
    default: [],
    description:
      'HTTP binary caches tried in order when no peer has a NAR; what they send is checked against the agreed NarHash. None by default, so a shim uses the network unless told to fall back.',
    example: ['https://cache.nixos.org'],
    flags: ['--upstream URL']
  }),
  seed: setting(boolean(), {
    default: DEFAULT_SEED,
    description:
      'Re-seed what the shim fetched to other peers. On, because every machine that serves what it fetched makes the network stronger.',
    flags: ['--no-seed']
  }),
  prefetch: setting(boolean(), {
    default: DEFAULT_PREFETCH,
    description:
      "Fetch a path's closure when Nix asks for its narinfo. On, because Nix asks for every narinfo first and the NARs after: fetching early hides the network's latency.",
    flags: ['--no-prefetch']
  }),
  quota: setting(size(), {
    default: DEFAULT_QUOTA_BYTES,
    description:
      'Size of the local NAR cache; least recently used NARs are evicted past it. 10G holds a desktop closure and stays small on a laptop disk.',
    example: '20G',
    flags: ['--quota SIZE']
  }),
  priority: setting(count({ max: 1000 }), {
    default: DEFAULT_PRIORITY,
    description:
      '`Priority` in nix-cache-info; Nix tries lower first. 30 puts the shim before cache.nixos.org (40), as nix-serve and harmonia do.',
    flags: ['--priority N']
  }),
  allowNonLoopback: setting(boolean(), {
    default: false,
    description:
      'Permit a `listen` address that is not loopback. Off: a shim open to the network would serve (and fetch) for anyone who reaches it.',
    flags: ['--allow-non-loopback']
  }),
  allowHosts: setting(hostNames(), {
    default: [],
    description:
      '`Host` names accepted besides loopback names, for a shim deliberately shared on a LAN. Empty: other names are refused, which defeats DNS rebinding.',
    flags: ['--allow-host NAME']
  }),
  p2pListen: setting(multiaddrs({ orOne: true }), {
    default: [],
    description:
      'libp2p listen addresses, so peers can dial this shim to fetch what it re-seeds. None by default: a laptop behind NAT still re-seeds over the connections it opens.',
    example: ['/ip4/0.0.0.0/tcp/4002'],
    flags: ['--p2p-listen MULTIADDR']
  }),
  allowPrivate: setting(boolean(), {
    default: false,
    description:
      'Dial private and loopback peer addresses. Off, because on the Internet such addresses lead nowhere; turn on for a LAN or a test.',
    flags: ['--allow-private']
  })
}

/** Every key a config file may have. */
export const CONFIG_KEYS = Object.keys(SHIM_CONFIG) as readonly ConfigKey[]

export type ConfigKey = keyof typeof SHIM_CONFIG
/** Configuration as written (file or flags): any subset of keys, values still unchecked. */
export type RawConfig = Partial<Record<ConfigKey, unknown>>
/** The checked configuration, every default filled. */
export type ShimConfig = Config<typeof SHIM_CONFIG>

/** A configuration error of @narthex/config as the shim's own InvalidConfigError (same message). */
function shimError(err: unknown): unknown {
  return err instanceof ConfigError ? new InvalidConfigError(err.message, { cause: err }) : err
}

/** Parse `host:port`, `[v6]:port` or `:port`. */
export function parseListen(text: string): ListenAddress {
  const address = parseHostPort(text, { defaultHost: DEFAULT_LISTEN_HOST })
  if (address === undefined)
    throw new InvalidConfigError(`listen address ${JSON.stringify(text)} is not HOST:PORT`)
  return address
}

export function isLoopbackAddress(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true
  return isIP(host) === 4 && host.startsWith('127.')
}

/** Parse `123`, `10G`, `10GiB`, `512M`, `512MiB` (binary units) into bytes. */
export function parseSize(value: unknown): number {
  const bytes = parseSizeText(value)
  if (bytes === undefined)
    throw new InvalidConfigError(`size ${JSON.stringify(value)} is not a byte count like 10GiB`)
  return bytes
}

/** Parse a config file's text (JSON with comments); unknown keys are an error. */
export function parseConfigFile(text: string, where = 'config file'): RawConfig {
  try {
    return parseConfigText(SHIM_CONFIG, text, where) as RawConfig
  } catch (err) {
    throw shimError(err)
  }
}

/** Read and check a config file (`--config FILE`). */
export async function loadShimConfig(path: string): Promise<RawConfig> {
  try {
    return (await loadConfigFile(SHIM_CONFIG, path)) as RawConfig
  } catch (err) {
    throw shimError(err)
  }
}

/** Check and complete a raw configuration (file values overlaid by flags). */
export function resolveConfig(raw: RawConfig | ConfigInput<typeof SHIM_CONFIG>): ShimConfig {
  let config: ShimConfig
  try {
    config = parseConfig(SHIM_CONFIG, raw)
  } catch (err) {
    throw shimError(err)
  }
  if (!config.allowNonLoopback && !isLoopbackAddress(config.listen.host)) {
    throw new InvalidConfigError(
      `listen address ${config.listen.host} is not loopback; set allowNonLoopback to serve other machines`
    )
  }
  return config
}
