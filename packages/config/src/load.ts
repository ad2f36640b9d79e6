/** Reading a configuration file: JSON with comments (jsonc.ts), one object, checked against a schema. */
import { open } from 'node:fs/promises'
import { MAX_CONFIG_FILE_BYTES } from './constants.js'
import { ConfigFileError, ConfigSyntaxError } from './errors.js'
import { parseJsonc } from './jsonc.js'
import { type ConfigInput, checkConfig, type Schema } from './schema.js'

/** Read a file's text; a missing, unreadable or oversized file is a `ConfigFileError` naming it. */
export async function readConfigText(path: string): Promise<string> {
  let file: Awaited<ReturnType<typeof open>> | undefined
  try {
    file = await open(path, 'r')
    const { size, isFile } = await file.stat().then((s) => ({ size: s.size, isFile: s.isFile() }))
    if (!isFile) throw new ConfigFileError(`cannot read ${path}: not a regular file`)
    if (size > MAX_CONFIG_FILE_BYTES)
      throw new ConfigFileError(`cannot read ${path}: ${size} bytes is larger than ${MAX_CONFIG_FILE_BYTES}`)
    return await file.readFile('utf8')
  } catch (err) {
    if (err instanceof ConfigFileError) throw err
    const code = (err as NodeJS.ErrnoException).code
    throw new ConfigFileError(`cannot read ${path}: ${code ?? (err as Error).message}`, { cause: err })
  } finally {
    await file?.close()
  }
}

/**
 * Parse a configuration file's text (JSONC) against a schema. Errors name `where` (the file): a
 * `ConfigSyntaxError` with line and column, `UnknownConfigKeyError`, `ConfigTypeError`.
 */
export function parseConfigText<S extends Schema>(schema: S, text: string, where: string): ConfigInput<S> {
  let value: unknown
  try {
    value = parseJsonc(text)
  } catch (err) {
    if (err instanceof ConfigSyntaxError)
      throw new ConfigSyntaxError(`${where}: ${err.message}`, err.line, err.column)
    throw err
  }
  return checkConfig(schema, value, where)
}

/** Read and check a configuration file (`--config FILE`). */
export async function loadConfigFile<S extends Schema>(schema: S, path: string): Promise<ConfigInput<S>> {
  return parseConfigText(schema, await readConfigText(path), path)
}
