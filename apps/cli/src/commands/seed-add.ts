import { realpathSync } from 'node:fs'
import { resolve } from 'node:path'
import { ControlRequestError, requestImport } from '@narthex/seeder'
import { type Command, parseFlags } from '../command.js'
import { UsageError } from '../errors.js'
import { importReporter } from '../store-util.js'

const isCacheUrl = (s: string) => /^(file|https?):\/\//.test(s)

export const command: Command = {
  name: 'seed add',
  summary: 'hand store paths or a binary cache to the running seeder',
  usage: `Usage: narthex seed add --data DIR [--closure] PATH|CACHE_URL...

Asks the seeder running on DIR (through its control socket DIR/seeder.sock) to import NARs into its store; it
publishes them at once if its policy allows (see narthex seeder --help). A source is:
  /nix/store/<hash>-<name>            a path in the local Nix store
  file:///DIR                         every path in a binary cache directory (as made by nix copy --to)
  file:///DIR/<hash>.narinfo          one path from a binary cache directory
  http(s)://HOST/PATH/<hash>.narinfo  one path from an HTTP binary cache
Each NAR is checked against its NarHash and NarSize before it is committed. Exit status 1 when no seeder runs
on DIR or an import failed (what was imported before it stays).

  --data DIR   the seeder's data directory (default: $NARTHEX_DATA)
  --closure    also import everything the paths refer to, transitively`,
  async run(args, io) {
    const { values, positionals } = parseFlags(args, {
      data: { type: 'string', short: 'd' },
      closure: { type: 'boolean' }
    })
    const dir = values.data ?? process.env.NARTHEX_DATA
    if (dir === undefined || dir === '') throw new UsageError('give the data directory with --data DIR')
    if (positionals.length === 0) throw new UsageError('give at least one PATH or CACHE_URL')
    const sources = positionals.map((p) => {
      if (isCacheUrl(p)) return p
      if (p.includes('://'))
        throw new UsageError(`${JSON.stringify(p)}: only file://, http:// and https:// caches`)
      if (p.startsWith('/nix/store/')) return p
      // A relative path or a symlink (e.g. ./result) names a store path: the seeder needs the store path itself.
      try {
        return realpathSync(resolve(p))
      } catch {
        throw new UsageError(`${JSON.stringify(p)} does not exist`)
      }
    })
    const reporter = importReporter(io)
    try {
      await requestImport(dir, { sources, ...(values.closure ? { closure: true } : {}) }, reporter.onEvent)
    } catch (err) {
      if (err instanceof ControlRequestError && err.remoteName === 'InvalidImportSourceError')
        throw new UsageError(err.message)
      throw err
    } finally {
      reporter.finish()
    }
    return 0
  }
}
