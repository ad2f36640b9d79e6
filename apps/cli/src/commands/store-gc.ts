import { type Command, parseFlags, writeText } from '../command.js'
import { UsageError } from '../errors.js'
import { DATA_FLAG, DATA_HELP, formatBytes, parseSize, withStore } from '../store-util.js'

export const command: Command = {
  name: 'store gc',
  summary: 'evict least recently used NARs to fit a size; remove leftovers',
  usage: `Usage: narthex store gc --data DIR [--max-size SIZE]

Removes chunk and manifest files no NAR references (leftovers of interrupted imports and downloads older than an
hour), then, with --max-size, evicts the least recently used unpinned NARs until the store takes at most SIZE
(bytes, or with a K, M, G, T suffix: 500M, 20G).

  --max-size SIZE   the quota to evict down to
${DATA_HELP}`,
  async run(args, io) {
    const { values, positionals } = parseFlags(args, { ...DATA_FLAG, 'max-size': { type: 'string' } })
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`)
    const maxSize = values['max-size'] === undefined ? undefined : parseSize(values['max-size'])
    const { report, stats } = await withStore(values.data, async (store) => ({
      report: await store.gc({ maxSize }),
      stats: await store.stats()
    }))
    let text = `evicted ${report.evicted.length} NARs, removed ${report.chunksRemoved} chunks, freed ${formatBytes(report.bytesFreed)}\n`
    for (const h of report.evicted) text += `evicted  ${h}\n`
    text += `${stats.nars} NARs, ${formatBytes(stats.storedBytes)} stored\n`
    await writeText(io.stdout, text)
    return 0
  }
}
