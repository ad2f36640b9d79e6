/**
 * The orchestrator's configuration: one schema (ORCHESTRATOR_CONFIG) declares every key of the configuration file
 * with its kind, default (from constants.ts and @narthex/consensus), the reason for the default, an example and
 * its flag. A file (`narthex orchestrator --config FILE`) is JSON with comments; unknown keys and wrong types are
 * an InvalidConfigError naming the key; relative paths are relative to the file's directory. Flags override the
 * file; `--trust` and `--p2p-listen` given on the command line replace the file's lists. docs/configuration.md and
 * docs/examples/orchestrator.jsonc are generated from the schema (`pnpm docs:config`).
 *
 * Inside the program the configuration is an `OrchestratorConfig`, whose names say what the values are
 * (`dataDir`, `keyFile`, `host` and `port`, `cachePriority`); `resolveConfig` fills it from a `ConfigInput`.
 */
import { dirname, isAbsolute, resolve } from 'node:path'
import {
  ConfigError,
  count,
  type ConfigInput as FileConfigInput,
  hostPort,
  invalid,
  type Kind,
  multiaddrs,
  oneOf,
  parseConfigText,
  parseHostPort,
  parseSetting,
  path,
  readConfigText,
  type Setting,
  setting
} from '@narthex/config'
import { type AfterAgreement, DEFAULT_AFTER_AGREEMENT, DEFAULT_QUORUM } from '@narthex/consensus'
import { DEFAULT_CACHE_PRIORITY, DEFAULT_HOST, DEFAULT_P2P_LISTEN, DEFAULT_PORT } from './constants.js'
import { InvalidConfigError } from './errors.js'

export interface TrustConfig {
  /** The builder's Nix public key, `name:base64`. */
  readonly key: string
  /** A revoked builder's attestations stop counting; its history stays visible. */
  readonly revoked: boolean
}

/** A trusted builder as written: its key, or `{ "key": ..., "revoked": true }`. */
export type TrustInput = string | { readonly key: string; readonly revoked?: boolean }

/** The trusted builders: `"NAME:PUBKEY"` or `{ "key": "NAME:PUBKEY", "revoked": true }` each. */
function trustList(): Kind<readonly TrustInput[], readonly TrustConfig[]> {
  const item = (v: unknown, i: number): TrustConfig => {
    if (typeof v === 'string' && v !== '') return { key: v, revoked: false }
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      return invalid(`item ${i} is ${JSON.stringify(v)}`)
    const o = v as Record<string, unknown>
    for (const k of Object.keys(o))
      if (k !== 'key' && k !== 'revoked') invalid(`item ${i} has the unknown key ${JSON.stringify(k)}`)
    if (typeof o.key !== 'string' || o.key === '') invalid(`item ${i} has no "key"`)
    if (o.revoked !== undefined && typeof o.revoked !== 'boolean')
      invalid(`item ${i}: "revoked" is not true or false`)
    return { key: o.key as string, revoked: o.revoked === true }
  }
  return {
    name: 'trust list',
    expected: 'an array of "NAME:PUBKEY" or { "key": "NAME:PUBKEY", "revoked": true }',
    parse: (v) => (Array.isArray(v) ? v.map(item) : invalid()),
    format: (list) => list.map((t) => (t.revoked ? { key: t.key, revoked: true } : t.key))
  }
}

/** Every key of the orchestrator's configuration file. */
export const ORCHESTRATOR_CONFIG = {
  data: setting(path(), {
    required: '--data DIR',
    description:
      'The data directory; the level database (attestations, agreements, the signed narinfos) is `DIR/db`. Back it up: it is the state of the network.',
    example: '/var/lib/narthex-orchestrator',
    flags: ['--data DIR']
  }),
  listen: setting(hostPort(), {
    default: { host: DEFAULT_HOST, port: DEFAULT_PORT },
    description:
      'HTTP address of the API, the narinfos and the dashboard; port 0 picks a free one. Loopback, so a fresh orchestrator is not exposed until its operator says so; 7420 is unassigned.',
    example: '0.0.0.0:7420',
    flags: ['--listen HOST:PORT']
  }),
  key: setting(path(), {
    required: '--key FILE',
    description:
      "The orchestrator's Nix secret key file (`narthex keygen NAME`); it signs the narinfo of every agreed output, and Nix clients trust its public key.",
    example: 'orchestrator.sec',
    flags: ['--key FILE']
  }),
  trust: setting(trustList(), {
    default: [],
    description:
      "The trusted builders' public keys; a revoked builder's attestations stop counting and its history stays visible. None by default: trust is the operator's decision.",
    example: [
      'builder-1:kNgy0eVuAXRLzALocazAhBvTgGBf/lMkZiZ2aypmzgA=',
      'builder-2:4OLB55VcSQvz/OZMEXBBPCE17wCsxY2+03UPQ64YoMk=',
      { key: 'builder-3:KEqsfupXE7kk1s6DpGYfKEcXiHcaYMs4tIlcJI88tss=', revoked: true }
    ],
    flags: ['--trust NAME:PUBKEY', '--revoke NAME']
  }),
  quorum: setting(count({ min: 1, max: 1000 }), {
    default: DEFAULT_QUORUM,
    description:
      'k: distinct trusted, unrevoked builders that must state the same output. Two: one builder alone is a single point of trust, more makes every output wait for more builds.',
    example: DEFAULT_QUORUM,
    flags: ['--quorum K']
  }),
  afterAgreement: setting(oneOf(['keep', 'withdraw'] as const), {
    default: DEFAULT_AFTER_AGREEMENT,
    description:
      'What a dissent after agreement does (docs/consensus.md). `keep` flags the output as contested: clients may have cached the signed narinfo for 30 days, so withdrawing protects only new ones.',
    flags: ['--after-agreement keep|withdraw']
  }),
  p2pListen: setting(multiaddrs(), {
    default: DEFAULT_P2P_LISTEN,
    description:
      'libp2p listen addresses of the DHT bootstrap node (empty: no libp2p node). Loopback with an OS-picked port suits a demo; a real network names a public address.',
    example: ['/ip4/0.0.0.0/tcp/4001'],
    flags: ['--p2p-listen MULTIADDR', '--no-p2p']
  }),
  priority: setting(count({ max: 1000 }), {
    default: DEFAULT_CACHE_PRIORITY,
    description:
      '`Priority` in /nix-cache-info; Nix tries lower first. 40, as cache.nixos.org: the orchestrator is not tried before a local cache (nix-serve, harmonia and the shim say 30).',
    flags: ['--priority N']
  })
}

/** The configuration file as written. */
export type OrchestratorFileConfig = FileConfigInput<typeof ORCHESTRATOR_CONFIG>

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

/** A configuration error of @narthex/config as the orchestrator's own InvalidConfigError (same message). */
function orchestratorError(err: unknown): unknown {
  return err instanceof ConfigError ? new InvalidConfigError(err.message, { cause: err }) : err
}

/** Parse one key with its schema entry, as an InvalidConfigError when it is not of its kind. */
function parseKey<In, Out>(key: string, spec: Setting<In, Out>, value: unknown, where?: string): Out {
  try {
    return parseSetting(key, spec, value, where)
  } catch (err) {
    throw orchestratorError(err)
  }
}

/** Parse `HOST:PORT` (`[v6]:PORT` for IPv6). */
export function parseListen(value: string): { host: string; port: number } {
  const address = parseHostPort(value)
  if (address === undefined)
    throw new InvalidConfigError(`listen address ${JSON.stringify(value)} is not HOST:PORT`)
  return address
}

/**
 * Parse a config file's text (JSON with comments) into a `ConfigInput`. Relative paths resolve against `baseDir`;
 * errors name `where` (the file).
 */
export function parseConfigFile(text: string, baseDir: string, where = 'config file'): ConfigInput {
  let file: OrchestratorFileConfig
  try {
    file = parseConfigText(ORCHESTRATOR_CONFIG, text, where)
  } catch (err) {
    throw orchestratorError(err)
  }
  const s = ORCHESTRATOR_CONFIG
  const at = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p))
  const out: ConfigInput = {}
  if (file.data !== undefined) out.dataDir = at(file.data)
  if (file.key !== undefined) out.keyFile = at(file.key)
  if (file.listen !== undefined) Object.assign(out, parseKey('listen', s.listen, file.listen, where))
  if (file.trust !== undefined) out.trust = parseKey('trust', s.trust, file.trust, where)
  if (file.quorum !== undefined) out.quorum = file.quorum
  if (file.afterAgreement !== undefined) out.afterAgreement = file.afterAgreement
  if (file.p2pListen !== undefined) out.p2pListen = parseKey('p2pListen', s.p2pListen, file.p2pListen, where)
  if (file.priority !== undefined) out.cachePriority = file.priority
  return out
}

/** Read a config file (`--config FILE`): relative paths in it are relative to its directory. */
export async function loadOrchestratorConfig(file: string): Promise<ConfigInput> {
  let text: string
  try {
    text = await readConfigText(file)
  } catch (err) {
    throw orchestratorError(err)
  }
  return parseConfigFile(text, dirname(resolve(file)), file)
}

/** Fill defaults and check the whole configuration; throws `InvalidConfigError`. */
export function resolveConfig(input: ConfigInput): OrchestratorConfig {
  const s = ORCHESTRATOR_CONFIG
  if (input.dataDir === undefined) throw new InvalidConfigError('no data directory (--data DIR or "data")')
  if (input.keyFile === undefined) throw new InvalidConfigError('no signing key file (--key FILE or "key")')
  const afterAgreement = parseKey(
    'afterAgreement',
    s.afterAgreement,
    input.afterAgreement ?? s.afterAgreement.default
  )
  const trust = input.trust ?? s.trust.default
  const quorum = parseKey('quorum', s.quorum, input.quorum ?? s.quorum.default)
  const active = trust.filter((t) => !t.revoked).length
  if (quorum > active) {
    throw new InvalidConfigError(
      `quorum ${quorum} needs at least ${quorum} trusted, unrevoked builders; ${active} configured (--trust NAME:PUBKEY)`
    )
  }
  const port = input.port ?? s.listen.default.port
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidConfigError(`port must be an integer from 0 to 65535`)
  return {
    dataDir: resolve(input.dataDir),
    host: input.host ?? s.listen.default.host,
    port,
    keyFile: resolve(input.keyFile),
    trust,
    quorum,
    afterAgreement,
    p2pListen: input.p2pListen ?? s.p2pListen.default,
    cachePriority: parseKey('priority', s.priority, input.cachePriority ?? s.priority.default)
  }
}
