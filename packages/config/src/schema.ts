/**
 * A configuration schema: every key declared once, with its kind, its default (taken from the program's
 * constants), a description that says why the default is what it is, an example, and the flags that set it. The
 * TypeScript types of a configuration are derived from the schema, so the two cannot drift apart; the reference
 * (docs/configuration.md) and the example files are generated from it.
 */
import { ConfigSyntaxError, ConfigTypeError, MissingConfigKeyError, UnknownConfigKeyError } from './errors.js'
import type { InOf, Kind, OutOf } from './kind.js'

export interface Setting<In, Out> {
  readonly kind: Kind<In, Out>
  /** One to three sentences: what the key does, and why its default is what it is. */
  readonly description: string
  /** The value when the key is not given (from the program's constants.ts). */
  readonly default?: Out
  /** How the reference states the default when it is not a plain value ("none: no limit", "DIR/store"). */
  readonly defaultText?: string
  /** The program cannot run without this key; the text says where else it may come from (`--data DIR`). */
  readonly required?: string
  /** A realistic value, written in the example file; keys without one are shown there commented out. */
  readonly example?: In
  /** The command-line flags that set this key (`--quota SIZE`), for the reference. */
  readonly flags?: readonly string[]
}

/** Declare one key: `setting(size(), { default: DEFAULT_QUOTA_BYTES, description: '...' })`. */
export function setting<In, Out, const S extends Omit<Setting<In, Out>, 'kind'>>(
  kind: Kind<In, Out>,
  spec: S
): S & { readonly kind: Kind<In, Out> } {
  return { ...spec, kind }
}

// biome-ignore lint/suspicious/noExplicitAny: a schema holds settings of every kind
export type Schema = { readonly [key: string]: Setting<any, any> }

type KindOf<S> = S extends { readonly kind: infer K } ? K : never

/** A configuration as written (a file or flags): any subset of the keys, in their written types. */
export type ConfigInput<S extends Schema> = { -readonly [K in keyof S]?: InOf<KindOf<S[K]>> }

/** A parsed configuration: keys with a default or required are always present; the others may be undefined. */
export type Config<S extends Schema> = {
  readonly [K in keyof S]: S[K] extends { readonly required: string }
    ? OutOf<KindOf<S[K]>>
    : S[K] extends { readonly default: infer D }
      ? undefined extends D
        ? OutOf<KindOf<S[K]>> | undefined
        : OutOf<KindOf<S[K]>>
      : OutOf<KindOf<S[K]>> | undefined
}

function describeValue(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

/** Parse one key's value with its kind; a `ConfigTypeError` names the key and the expected kind. */
export function parseSetting<In, Out>(
  key: string,
  spec: Setting<In, Out>,
  value: unknown,
  where?: string
): Out {
  try {
    return spec.kind.parse(value)
  } catch (err) {
    const detail = (err as Error).message
    throw new ConfigTypeError(
      key,
      spec.kind.expected,
      detail === '' ? `not ${describeValue(value)}` : detail,
      where
    )
  }
}

function checkObject(value: unknown, where?: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigSyntaxError(
      `${where ?? 'the configuration'} must be one JSON object, not ${describeValue(value)}`
    )
  }
  return value as Record<string, unknown>
}

/**
 * Check a configuration as written against the schema: it must be an object, every key known
 * (`UnknownConfigKeyError` lists the known ones), every value of its kind (`ConfigTypeError`). Keys set to
 * `undefined` count as absent. Returns the same object, typed.
 */
export function checkConfig<S extends Schema>(schema: S, value: unknown, where?: string): ConfigInput<S> {
  const o = checkObject(value, where)
  for (const [key, v] of Object.entries(o)) {
    const spec = Object.hasOwn(schema, key) ? schema[key] : undefined
    if (spec === undefined) throw new UnknownConfigKeyError(key, Object.keys(schema), where)
    if (v !== undefined) parseSetting(key, spec, v, where)
  }
  return o as ConfigInput<S>
}

/**
 * Check and parse a configuration as written, filling every default: the value the program runs with. A required
 * key that is missing is a `MissingConfigKeyError`.
 */
export function parseConfig<S extends Schema>(schema: S, value: unknown, where?: string): Config<S> {
  const o = checkConfig(schema, value, where) as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const [key, spec] of Object.entries(schema)) {
    const v = o[key]
    if (v !== undefined) out[key] = parseSetting(key, spec, v, where)
    else if (spec.required !== undefined) throw new MissingConfigKeyError(key, spec.required)
    else out[key] = spec.default
  }
  return out as Config<S>
}

/** Later configurations override earlier ones key by key (flags over the file); `undefined` values are skipped. */
export function mergeConfig<S extends Schema>(...configs: readonly ConfigInput<S>[]): ConfigInput<S> {
  const out: Record<string, unknown> = {}
  for (const c of configs) for (const [k, v] of Object.entries(c)) if (v !== undefined) out[k] = v
  return out as ConfigInput<S>
}
