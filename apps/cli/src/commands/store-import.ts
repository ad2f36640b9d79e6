import { importFromBinaryCache, importStorePaths } from '@narthex/store'
import { type Command, parseFlags } from '../command.js'
import { UsageError } from '../errors.js'
import { DATA_FLAG, DATA_HELP, importReporter, withStore } from '../store-util.js'

const isCacheUrl = (s: string) => /^(file|https?):\/\//.test(s)

export const command: Command = {
  name: 'store import',
  summary: 'import store paths from the local Nix store or a binary cache',
  usage: `Usage: narthex store import --data DIR [--closure] SOURCE...
       narthex store import --data DIR [--closure] --from CACHE_URL STORE_PATH...

Imports NARs into the store, checking each against the NarHash and NarSize it is supposed to have before anything
is committed. A SOURCE is:
  /nix/store/<hash>-<name>            a path in the local Nix store (path info from the Nix database)
  file:///DIR                         every path in a binary cache directory (as made by nix copy --to)
  file:///DIR/<hash>.narinfo          one path from a binary cache directory
  http(s)://HOST/PATH/<hash>.narinfo  one path from an HTTP binary cache
With --from, the STORE_PATHs are fetched from that binary cache instead of the local Nix store. Compressed
NARs (xz, bzip2, zstd, gzip, br) are decompressed on the way in; the narinfo is kept with its signatures.

  --closure    also import everything the paths refer to, transitively
  --from URL   fetch the store paths from this binary cache
${DATA_HELP}`,
  async run(args, io) {
    const { values, positionals } = parseFlags(args, {
      ...DATA_FLAG,
      closure: { type: 'boolean' },
      from: { type: 'string' }
    })
    if (positionals.length === 0 && values.from === undefined)
      throw new UsageError('give at least one SOURCE')
    const closure = values.closure === true
    const reporter = importReporter(io)
    const opts = { closure, onEvent: reporter.onEvent }
    try {
      await withStore(values.data, async (store) => {
        if (values.from !== undefined) {
          if (positionals.some(isCacheUrl)) throw new UsageError('with --from, give store paths, not URLs')
          await importFromBinaryCache(store, values.from, positionals, opts)
          return
        }
        const local = positionals.filter((p) => !isCacheUrl(p))
        for (const p of local) {
          if (!p.startsWith('/'))
            throw new UsageError(`${JSON.stringify(p)} is neither a store path nor a cache URL`)
        }
        if (local.length > 0) await importStorePaths(store, local, opts)
        for (const url of positionals.filter(isCacheUrl)) {
          const m = /^(.*)\/([^/]+)\.narinfo$/.exec(url)
          if (m) await importFromBinaryCache(store, m[1]!, [m[2]!], opts)
          else await importFromBinaryCache(store, url, [], opts)
        }
      })
    } finally {
      reporter.finish()
    }
    return 0
  }
}
