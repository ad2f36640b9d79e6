/**
 * The shim's configuration: typed, every key checked, unknown keys rejected. The same keys come from a JSON
 * config file (`narthex shim --config FILE`) or from flags; flags win. Defaults and their reasons are in
 * constants.ts; docs/shim.md has a commented example.
 *
 * ```json
 * {
 *   "listen": "127.0.0.1:37515",          // loopback unless allowNonLoopback
 *   "orchestrator": "http://orchestrator.example:8080",
 *   "bootstrap": ["/ip4/10.0.0.1/tcp/4001/p2p/12D3Koo..."],
 *   "data": "/var/lib/narthex-shim",
 *   "upstream": ["https://cache.nixos.org"],
 *   "seed": true, "prefetch": true, "quota": "20GiB", "priority": 30,
 *   "allowNonLoopback": false, "allowHosts": [],
 *   "orchestratorKeys": ["narthex-1:<base64 public key>"]  // refuse narinfos not signed by these
 * }
 * ```
 */
import { isIP } from 'node:net'
import { formatPublicKey, parsePublicKey } from '@narthex/nix'
import { parseSize as parseStoreSize } from '@narthex/store'
import {
  DEFAULT_LISTEN_HOST,
  DEFAULT_LISTEN_PORT,
  DEFAULT_PRIORITY,
  DEFAULT_QUOTA_BYTES
} from './constants.js'
import { InvalidConfigError } from './errors.js'

export interface ListenAddress {
  readonly host: string
  /** 0 picks a free port (tests). */
  readonly port: number
}

export interface ShimConfig {
  readonly listen: ListenAddress
  /** Base URL of the orchestrator serving signed narinfos and agreement records. */
  readonly orchestrator?: string
  /** Multiaddrs of DHT bootstrap peers. */
  readonly bootstrap: readonly string[]
  /** Directory for the narinfo cache, the NAR cache and temporary files. */
  readonly data: string
  /** HTTP binary caches tried, in order, when no peer has a NAR. */
  readonly upstream: readonly string[]
  /** Re-seed what the shim fetched (default true). */
  readonly seed: boolean
  /** Fetch the closure of a path when Nix asks for its narinfo (default true). */
  readonly prefetch: boolean
  /** Local NAR cache quota in bytes. */
  readonly quota: number
  /** `Priority` stated in nix-cache-info. */
  readonly priority: number
  /** Permit a listen address that is not loopback (default false). */
  readonly allowNonLoopback: boolean
  /** Extra `Host` names accepted besides loopback names (for a shim deliberately shared on a LAN). */
  readonly allowHosts: readonly string[]
  /** Public keys (`name:base64`) the orchestrator's narinfos must be signed with; empty: not checked. */
  readonly orchestratorKeys: readonly string[]
  /** libp2p listen multiaddrs, so peers can dial this shim to fetch what it re-seeds (default none). */
  readonly p2pListen: readonly string[]
  /** Dial private and loopback peer addresses (LANs, tests; default false). */
  readonly allowPrivate: boolean
}

/** Every key a config file may have (in JSON). */
export const CONFIG_KEYS = [
  'listen',
  'orchestrator',
  'bootstrap',
  'data',
  'upstream',
  'seed',
  'prefetch',
  'quota',
  'priority',
  'allowNonLoopback',
  'allowHosts',
  'orchestratorKeys',
  'p2pListen',
  'allowPrivate'
] as const

export type ConfigKey = (typeof CONFIG_KEYS)[number]
/** Configuration as written (file or flags): any subset of keys, values still unchecked. */
export type RawConfig = Partial<Record<ConfigKey, unknown>>

/** Parse `host:port`, `[v6]:port` or `:port`. */
export function parseListen(text: string): ListenAddress {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text)
  if (m === null) throw new InvalidConfigError(`listen address ${JSON.stringify(text)} is not HOST:PORT`)
  const host = m[1] ?? (m[2] === '' ? DEFAULT_LISTEN_HOST : m[2]!)
  const port = Number(m[3])
  if (port > 65535) throw new InvalidConfigError(`port ${port} is out of range`)
  if (m[1] !== undefined && isIP(host) !== 6) throw new InvalidConfigError(`${host} is not an IPv6 address`)
  return { host, port }
}

export function isLoopbackAddress(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true
  return isIP(host) === 4 && host.startsWith('127.')
}

/** Parse `123`, `10G`, `10GiB`, `512M`, `512MiB` (binary units) into bytes. */
export function parseSize(value: unknown): number {
  const bytes = parseStoreSize(value)
  if (bytes === undefined)
    throw new InvalidConfigError(`size ${JSON.stringify(value)} is not a byte count like 10GiB`)
  return bytes
}

function httpUrl(key: string, value: unknown): string {
  if (typeof value !== 'string') throw new InvalidConfigError(`${key} must be a URL string`)
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new InvalidConfigError(`${key} ${JSON.stringify(value)} is not a URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidConfigError(`${key} ${JSON.stringify(value)} must be http: or https:`)
  }
  if (url.search !== '' || url.hash !== '')
    throw new InvalidConfigError(`${key} must have no query or fragment`)
  return url.href.replace(/\/+$/, '')
}

function stringList(key: string, value: unknown): string[] {
  const list = typeof value === 'string' ? [value] : value
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) {
    throw new InvalidConfigError(`${key} must be a list of strings`)
  }
  return list as string[]
}

function bool(key: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new InvalidConfigError(`${key} must be true or false`)
  return value
}

/** Reject keys that are not in CONFIG_KEYS. */
export function checkKeys(raw: Record<string, unknown>, where: string): RawConfig {
  for (const key of Object.keys(raw)) {
    if (!(CONFIG_KEYS as readonly string[]).includes(key)) {
      throw new InvalidConfigError(`${where}: unknown key ${JSON.stringify(key)}`)
    }
  }
  return raw as RawConfig
}

/** Parse a JSON config file's text; unknown keys are an error. */
export function parseConfigFile(text: string, where = 'config file'): RawConfig {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (err) {
    throw new InvalidConfigError(`${where} is not JSON: ${(err as Error).message}`)
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new InvalidConfigError(`${where} must be a JSON object`)
  }
  return checkKeys(raw as Record<string, unknown>, where)
}

/** Check and complete a raw configuration (file values overlaid by flags). */
export function resolveConfig(raw: RawConfig): ShimConfig {
  checkKeys(raw as Record<string, unknown>, 'configuration')
  if (typeof raw.data !== 'string' || raw.data === '') {
    throw new InvalidConfigError('data (the shim data directory) is required')
  }
  const listen =
    raw.listen === undefined
      ? { host: DEFAULT_LISTEN_HOST, port: DEFAULT_LISTEN_PORT }
      : typeof raw.listen === 'string'
        ? parseListen(raw.listen)
        : (() => {
            throw new InvalidConfigError('listen must be "HOST:PORT"')
          })()
  const allowNonLoopback =
    raw.allowNonLoopback === undefined ? false : bool('allowNonLoopback', raw.allowNonLoopback)
  if (!allowNonLoopback && !isLoopbackAddress(listen.host)) {
    throw new InvalidConfigError(
      `listen address ${listen.host} is not loopback; set allowNonLoopback to serve other machines`
    )
  }
  const priority = raw.priority === undefined ? DEFAULT_PRIORITY : raw.priority
  if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0 || priority > 1000) {
    throw new InvalidConfigError('priority must be an integer 0..1000')
  }
  return {
    listen,
    ...(raw.orchestrator === undefined ? {} : { orchestrator: httpUrl('orchestrator', raw.orchestrator) }),
    bootstrap: raw.bootstrap === undefined ? [] : stringList('bootstrap', raw.bootstrap),
    data: raw.data,
    upstream:
      raw.upstream === undefined
        ? []
        : stringList('upstream', raw.upstream).map((u) => httpUrl('upstream', u)),
    seed: raw.seed === undefined ? true : bool('seed', raw.seed),
    prefetch: raw.prefetch === undefined ? true : bool('prefetch', raw.prefetch),
    quota: raw.quota === undefined ? DEFAULT_QUOTA_BYTES : parseSize(raw.quota),
    priority,
    allowNonLoopback,
    orchestratorKeys: (raw.orchestratorKeys === undefined
      ? []
      : stringList('orchestratorKeys', raw.orchestratorKeys)
    ).map((k) => {
      try {
        return formatPublicKey(parsePublicKey(k))
      } catch (err) {
        throw new InvalidConfigError(`orchestratorKeys: ${(err as Error).message}`)
      }
    }),
    p2pListen: raw.p2pListen === undefined ? [] : stringList('p2pListen', raw.p2pListen),
    allowPrivate: raw.allowPrivate === undefined ? false : bool('allowPrivate', raw.allowPrivate),
    allowHosts:
      raw.allowHosts === undefined ? [] : stringList('allowHosts', raw.allowHosts).map((h) => h.toLowerCase())
  }
}
