/**
 * The orchestrator's configuration: typed, every default from constants.ts, unknown keys rejected.
 *
 * A JSON config file (`narthex orchestrator --config FILE`) has these keys, all optional except `data` and `key`
 * (which may come from flags instead); relative paths are relative to the file's directory:
 * ```json
 * {
 *   "data": "/var/lib/narthex-orchestrator",
 *   "listen": "127.0.0.1:7420",
 *   "key": "orchestrator.sec",
 *   "trust": ["builder-1:<base64 public key>", { "key": "builder-2:<base64>", "revoked": true }],
 *   "quorum": 2,
 *   "afterAgreement": "keep",
 *   "p2pListen": ["/ip4/127.0.0.1/tcp/0"],
 *   "priority": 40
 * }
 * ```
 * Flags override the file; `--trust` and `--p2p-listen` given on the command line replace the file's lists.
 */
import { isAbsolute, resolve } from 'node:path'
import { type AfterAgreement, DEFAULT_AFTER_AGREEMENT, DEFAULT_QUORUM } from '@narthex/consensus'
import { DEFAULT_CACHE_PRIORITY, DEFAULT_HOST, DEFAULT_P2P_LISTEN, DEFAULT_PORT } from './constants.js'
import { InvalidConfigError } from './errors.js'

export interface TrustConfig {
  /** The builder's Nix public key, `name:base64`. */
  readonly key: string
  /** A revoked builder's attestations stop counting; its history stays visible. */
  readonly revoked: boolean
}

export interface OrchestratorConfig {
  /** Directory of the level database (created if missing). */
  readonly dataDir: string
  /** HTTP listen host (default 127.0.0.1). */
  readonly host: string
  /** HTTP listen port; 0 lets the OS pick (default 7420). */
  readonly port: number
  /** The orchestrator's Nix secret key file; it signs the narinfos of agreed outputs. */
  readonly keyFile: string
  /** Trusted builders. */
  readonly trust: readonly TrustConfig[]
  /** k: distinct trusted builders that must agree (default 2). */
  readonly quorum: number
  /** What a dissent after agreement does: `keep` (default) or `withdraw`; see docs/consensus.md. */
  readonly afterAgreement: AfterAgreement
  /** libp2p listen multiaddrs of the DHT bootstrap node; empty: no libp2p node. */
  readonly p2pListen: readonly string[]
  /** `Priority` in /nix-cache-info (default 40). */
  readonly cachePriority: number
}

/** What flags or a file may set; missing values take defaults in `resolveConfig`. */
export type ConfigInput = { -readonly [K in keyof OrchestratorConfig]?: OrchestratorConfig[K] }

const FILE_KEYS = new Set([
  'data',
  'listen',
  'key',
  'trust',
  'quorum',
  'afterAgreement',
  'p2pListen',
  'priority'
])

/** Parse `HOST:PORT` (`[v6]:PORT` for IPv6). */
export function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(value)
  const port = m === null ? Number.NaN : Number(m[3])
  if (m === null || port > 65535) {
    throw new InvalidConfigError(`listen address ${JSON.stringify(value)} is not HOST:PORT`)
  }
  return { host: (m[1] ?? m[2])!, port }
}

function expectString(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length === 0)
    throw new InvalidConfigError(`${what} must be a non-empty string`)
  return v
}

function expectInteger(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new InvalidConfigError(`${what} must be an integer from ${min} to ${max}`)
  }
  return v
}

function parseTrustItem(v: unknown, i: number): TrustConfig {
  if (typeof v === 'string') return { key: v, revoked: false }
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const o = v as Record<string, unknown>
    for (const k of Object.keys(o)) {
      if (k !== 'key' && k !== 'revoked')
        throw new InvalidConfigError(`trust[${i}]: unknown key ${JSON.stringify(k)}`)
    }
    if (o.revoked !== undefined && typeof o.revoked !== 'boolean') {
      throw new InvalidConfigError(`trust[${i}].revoked must be true or false`)
    }
    return { key: expectString(o.key, `trust[${i}].key`), revoked: o.revoked === true }
  }
  throw new InvalidConfigError(`trust[${i}] must be "NAME:PUBKEY" or { "key": ..., "revoked": ... }`)
}

/** Parse a config file's text. Relative paths resolve against `baseDir`. */
export function parseConfigFile(text: string, baseDir: string): ConfigInput {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new InvalidConfigError(`config file is not valid JSON: ${(err as Error).message}`)
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new InvalidConfigError('config file must hold a JSON object')
  }
  const o = json as Record<string, unknown>
  for (const k of Object.keys(o)) {
    if (!FILE_KEYS.has(k)) throw new InvalidConfigError(`unknown config key ${JSON.stringify(k)}`)
  }
  const out: ConfigInput = {}
  const path = (v: unknown, what: string): string => {
    const s = expectString(v, what)
    return isAbsolute(s) ? s : resolve(baseDir, s)
  }
  if (o.data !== undefined) out.dataDir = path(o.data, 'data')
  if (o.key !== undefined) out.keyFile = path(o.key, 'key')
  if (o.listen !== undefined) Object.assign(out, parseListen(expectString(o.listen, 'listen')))
  if (o.trust !== undefined) {
    if (!Array.isArray(o.trust)) throw new InvalidConfigError('trust must be an array')
    out.trust = o.trust.map(parseTrustItem)
  }
  if (o.quorum !== undefined) out.quorum = expectInteger(o.quorum, 'quorum', 1, 1000)
  if (o.afterAgreement !== undefined) out.afterAgreement = o.afterAgreement as AfterAgreement
  if (o.p2pListen !== undefined) {
    if (!Array.isArray(o.p2pListen)) throw new InvalidConfigError('p2pListen must be an array of multiaddrs')
    out.p2pListen = o.p2pListen.map((a, i) => expectString(a, `p2pListen[${i}]`))
  }
  if (o.priority !== undefined) out.cachePriority = expectInteger(o.priority, 'priority', 0, 1000)
  return out
}

/** Fill defaults and check the whole configuration; throws `InvalidConfigError`. */
export function resolveConfig(input: ConfigInput): OrchestratorConfig {
  if (input.dataDir === undefined) throw new InvalidConfigError('no data directory (--data DIR or "data")')
  if (input.keyFile === undefined) throw new InvalidConfigError('no signing key file (--key FILE or "key")')
  const afterAgreement = input.afterAgreement ?? DEFAULT_AFTER_AGREEMENT
  if (afterAgreement !== 'keep' && afterAgreement !== 'withdraw') {
    throw new InvalidConfigError(`afterAgreement must be "keep" or "withdraw"`)
  }
  const trust = input.trust ?? []
  const quorum = expectInteger(input.quorum ?? DEFAULT_QUORUM, 'quorum', 1, 1000)
  const active = trust.filter((t) => !t.revoked).length
  if (quorum > active) {
    throw new InvalidConfigError(
      `quorum ${quorum} needs at least ${quorum} trusted, unrevoked builders; ${active} configured (--trust NAME:PUBKEY)`
    )
  }
  return {
    dataDir: resolve(input.dataDir),
    host: input.host ?? DEFAULT_HOST,
    port: expectInteger(input.port ?? DEFAULT_PORT, 'port', 0, 65535),
    keyFile: resolve(input.keyFile),
    trust,
    quorum,
    afterAgreement,
    p2pListen: input.p2pListen ?? DEFAULT_P2P_LISTEN,
    cachePriority: expectInteger(input.cachePriority ?? DEFAULT_CACHE_PRIORITY, 'priority', 0, 1000)
  }
}
