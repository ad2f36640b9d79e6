/**
 * The seeder's configuration file (`narthex seeder --config FILE`): one JSON object. Unknown keys and wrong types
 * are rejected with InvalidSeederConfigError naming the key. Flags given on the command line override the file.
 * Every key is optional except `data` (which a `--data` flag may give instead).
 *
 * ```json
 * {
 *   "data": "/var/lib/narthex-seeder",          // the data directory (store, identity, control socket)
 *   "listen": ["/ip4/0.0.0.0/tcp/4001"],         // default DEFAULT_LISTEN
 *   "bootstrap": ["/dns4/boot.example/tcp/4001/p2p/12D3KooW..."],
 *   "allowPrivate": false,                       // dial private/loopback addresses (LANs, tests)
 *   "quota": "50G",                              // disk quota (bytes or K/M/G/T); default none
 *   "uploadRate": "4M",                          // upload cap per second (bytes or K/M/G); default none
 *   "maxPeers": 64,                              // peers served at once; default DEFAULT_MAX_PEERS
 *   "metrics": "127.0.0.1:9464",                 // Prometheus listener; default none
 *   "orchestrator": "https://orchestrator.example",
 *   "trustedKeys": ["narthex-1:base64..."],
 *   "serveUnverified": false,                    // publish everything (turns the policy off)
 *   "mirror": false,                             // fetch agreed NARs not held yet (needs orchestrator)
 *   "upstream": "https://cache.nixos.org",       // binary cache the mirror falls back to
 *   "repair": true                               // re-fetch chunks of damaged NARs from peers
 * }
 * ```
 * (Comments are for the reader: the file itself is plain JSON.)
 */
import { readFile } from 'node:fs/promises'
import { parseSize as parseStoreSize } from '@narthex/store'
import { InvalidSeederConfigError } from './errors.js'
import type { SeederInit } from './seeder.js'

export interface SeederConfig {
  readonly data?: string
  readonly listen?: readonly string[]
  readonly bootstrap?: readonly string[]
  readonly allowPrivate?: boolean
  readonly quota?: number | string
  readonly uploadRate?: number | string
  readonly maxPeers?: number
  readonly metrics?: string
  readonly orchestrator?: string
  readonly trustedKeys?: readonly string[]
  readonly serveUnverified?: boolean
  readonly mirror?: boolean
  readonly upstream?: string
  readonly repair?: boolean
}

type Kind = 'string' | 'strings' | 'boolean' | 'size' | 'count'

const KEYS: Readonly<Record<keyof SeederConfig, Kind>> = {
  data: 'string',
  listen: 'strings',
  bootstrap: 'strings',
  allowPrivate: 'boolean',
  quota: 'size',
  uploadRate: 'size',
  maxPeers: 'count',
  metrics: 'string',
  orchestrator: 'string',
  trustedKeys: 'strings',
  serveUnverified: 'boolean',
  mirror: 'boolean',
  upstream: 'string',
  repair: 'boolean'
}

/** A size: a number of bytes, or text with a binary suffix K, M, G, T (`500M`, `20G`, `1.5GiB`). */
export function parseSize(value: number | string, what = 'size'): number {
  const bytes = parseStoreSize(value)
  if (bytes === undefined)
    throw new InvalidSeederConfigError(
      `${what}: ${JSON.stringify(value)} is not a size (a non-negative number of bytes, or e.g. 500M, 20G)`
    )
  return bytes
}

/** Check a parsed JSON value against the schema (InvalidSeederConfigError naming the first bad key). */
export function checkSeederConfig(value: unknown): SeederConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InvalidSeederConfigError('the configuration must be a JSON object')
  for (const [key, v] of Object.entries(value)) {
    const kind = KEYS[key as keyof SeederConfig]
    if (kind === undefined)
      throw new InvalidSeederConfigError(
        `unknown key ${JSON.stringify(key)} (known: ${Object.keys(KEYS).join(', ')})`
      )
    const ok =
      kind === 'string'
        ? typeof v === 'string' && v !== ''
        : kind === 'strings'
          ? Array.isArray(v) && v.every((s) => typeof s === 'string' && s !== '')
          : kind === 'boolean'
            ? typeof v === 'boolean'
            : kind === 'count'
              ? Number.isSafeInteger(v) && (v as number) >= 0
              : typeof v === 'number' || typeof v === 'string'
    if (!ok) throw new InvalidSeederConfigError(`${key} must be ${describe(kind)}`)
    if (kind === 'size') parseSize(v as number | string, key)
  }
  return value as SeederConfig
}

function describe(kind: Kind): string {
  switch (kind) {
    case 'string':
      return 'a non-empty string'
    case 'strings':
      return 'an array of non-empty strings'
    case 'boolean':
      return 'true or false'
    case 'count':
      return 'a non-negative integer'
    case 'size':
      return 'a size (bytes, or text like "20G")'
  }
}

/** Read and check a configuration file. */
export async function loadSeederConfig(path: string): Promise<SeederConfig> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new InvalidSeederConfigError(
      `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`
    )
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new InvalidSeederConfigError(`${path} is not JSON: ${(err as Error).message}`)
  }
  return checkSeederConfig(value)
}

/** Later configurations override earlier ones, key by key (flags over the file). */
export function mergeSeederConfig(...configs: readonly SeederConfig[]): SeederConfig {
  const out: Record<string, unknown> = {}
  for (const c of configs) {
    for (const [k, v] of Object.entries(c)) if (v !== undefined) out[k] = v
  }
  return checkSeederConfig(out)
}

/** The seeder's init from a checked configuration. */
export function seederInitFromConfig(config: SeederConfig): SeederInit {
  if (config.data === undefined)
    throw new InvalidSeederConfigError('give the data directory (--data DIR or "data")')
  const c = config
  return {
    dataDir: c.data!,
    ...(c.listen !== undefined ? { listen: c.listen } : {}),
    ...(c.bootstrap !== undefined ? { bootstrap: c.bootstrap } : {}),
    ...(c.allowPrivate !== undefined ? { allowPrivateAddresses: c.allowPrivate } : {}),
    ...(c.quota !== undefined ? { quotaBytes: parseSize(c.quota, 'quota') } : {}),
    ...(c.uploadRate !== undefined ? { uploadBytesPerSecond: parseSize(c.uploadRate, 'uploadRate') } : {}),
    ...(c.maxPeers !== undefined ? { maxPeers: c.maxPeers } : {}),
    ...(c.metrics !== undefined ? { metrics: c.metrics } : {}),
    ...(c.orchestrator !== undefined ? { orchestrator: c.orchestrator } : {}),
    ...(c.trustedKeys !== undefined ? { trustedKeys: c.trustedKeys } : {}),
    ...(c.serveUnverified !== undefined ? { serveUnverified: c.serveUnverified } : {}),
    ...(c.mirror !== undefined ? { mirror: c.mirror } : {}),
    ...(c.upstream !== undefined ? { upstream: c.upstream } : {}),
    ...(c.repair !== undefined ? { repair: c.repair } : {})
  }
}
