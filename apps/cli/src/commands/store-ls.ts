import { narCidFromNarHash } from '@narthex/content'
import { type Command, parseFlags, writeText } from '../command.js'
import { UsageError } from '../errors.js'
import { DATA_FLAG, DATA_HELP, formatBytes, withStore } from '../store-util.js'

export const command: Command = {
  name: 'store ls',
  summary: 'list the NARs in the store',
  usage: `Usage: narthex store ls --data DIR [--json]

Lists every NAR in the store: NarHash, size, chunks, flags (P pinned, D damaged) and the store paths whose narinfo
names it. With --json, one JSON array of objects with every field, including the NAR CID and the manifest root.

  --json       machine-readable output
${DATA_HELP}`,
  async run(args, io) {
    const { values, positionals } = parseFlags(args, { ...DATA_FLAG, json: { type: 'boolean' } })
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`)
    await withStore(values.data, async (store) => {
      const rows = []
      for await (const e of store.listNars()) {
        const storePaths: string[] = []
        for (const h of e.storePathHashes) {
          const info = await store.getNarinfo(h)
          if (info !== undefined) storePaths.push(info.storePath)
        }
        rows.push({ ...e, storePaths })
      }
      if (values.json) {
        const out = rows.map((r) => ({
          narHash: r.narHash,
          narCid: narCidFromNarHash(r.narHash).toString(),
          narSize: r.narSize,
          root: r.root.toString(),
          chunker: r.chunker,
          chunkCount: r.chunkCount,
          addedAt: new Date(r.addedAt).toISOString(),
          lastAccess: new Date(r.lastAccess).toISOString(),
          pinned: r.pinned,
          damaged: r.damaged,
          storePaths: r.storePaths
        }))
        await writeText(io.stdout, `${JSON.stringify(out, null, 2)}\n`)
        return
      }
      const stats = await store.stats()
      let text = ''
      for (const r of rows) {
        const flags = `${r.pinned ? 'P' : '-'}${r.damaged ? 'D' : '-'}`
        text += `${r.narHash}  ${formatBytes(r.narSize).padStart(10)}  ${String(r.chunkCount).padStart(6)} chunks  ${flags}  ${r.storePaths.join(' ')}\n`
      }
      text += `${rows.length} NARs, ${formatBytes(stats.storedBytes)} stored\n`
      await writeText(io.stdout, text)
    })
    return 0
  }
}
