/**
 * @packageDocumentation
 *
 * Typed configuration for narthex's programs. Each program declares its keys once, in a schema: the kind of
 * value (string, strings, boolean, count, size, url, multiaddrs, host:port...), the default (from the program's
 * constants.ts), a description that says why the default is what it is, an example, and the flags that set it.
 * From the schema come:
 * - the TypeScript types (`ConfigInput<S>` as written, `Config<S>` parsed with defaults), so types and schema
 *   cannot drift;
 * - the checker: unknown keys are an `UnknownConfigKeyError` naming the key and listing the known ones, a value of
 *   the wrong kind a `ConfigTypeError` naming the key and what it must be;
 * - docs/configuration.md and the commented example files in docs/examples/ (`pnpm docs:config`).
 *
 * Configuration files are JSON with `//` and `/* *\/` comments and trailing commas (JSONC); the comment stripper
 * knows strings, so URLs survive.
 *
 * @example
 * ```ts
 * import { count, loadConfigFile, mergeConfig, parseConfig, setting, size } from '@narthex/config'
 * const SCHEMA = {
 *   quota: setting(size(), { default: 10 * 2 ** 30, description: 'Disk quota. 10G fits a desktop closure.' }),
 *   maxPeers: setting(count(), { default: 64, description: 'Peers served at once.', flags: ['--max-peers N'] })
 * }
 * const file = await loadConfigFile(SCHEMA, 'seeder.jsonc') // { quota: '20G' }
 * const config = parseConfig(SCHEMA, mergeConfig(file, { maxPeers: 8 })) // { quota: 21474836480, maxPeers: 8 }
 * ```
 */

export { MAX_CONFIG_FILE_BYTES } from './constants.js'
export {
  ConfigError,
  ConfigFileError,
  ConfigSyntaxError,
  ConfigTypeError,
  MissingConfigKeyError,
  UnknownConfigKeyError
} from './errors.js'
export {
  type ExampleOptions,
  formatDefault,
  formatExample,
  formatJsonInline,
  formatReference,
  formatTable,
  wrap
} from './format.js'
export { lineColumn, parseJsonc, stripComments } from './jsonc.js'
export {
  boolean,
  count,
  type HostPort,
  type HostPortOptions,
  hostPort,
  type InOf,
  invalid,
  type Kind,
  type ListOptions,
  multiaddrs,
  type OutOf,
  oneOf,
  parseHostPort,
  path,
  size,
  string,
  strings,
  url,
  urls
} from './kind.js'
export { loadConfigFile, parseConfigText, readConfigText } from './load.js'
export {
  type Config,
  type ConfigInput,
  checkConfig,
  mergeConfig,
  parseConfig,
  parseSetting,
  type Schema,
  type Setting,
  setting
} from './schema.js'
export { formatSize, parseSize } from './size.js'
