import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { narCidFromNarHash } from '@narthex/content'
import { chunkSinkFromStore, createNode, type DownloadProgress, NarDownload } from '@narthex/p2p'
import { createStore } from '@narthex/store'
import { type Command, parseFlags } from '../command.js'
import { UsageError } from '../errors.js'
import { createProgress } from '../progress.js'
import { formatBytes } from '../store-util.js'

const MiB = 1024 * 1024

export const command: Command = {
  name: 'fetch',
  summary: 'download one NAR from the swarm to stdout',
  usage: `Usage: narthex fetch --bootstrap MULTIADDR... [--manifest-root CID] [--nar-size N] [--data DIR]
                     [--allow-private] [--timeout SECONDS] NARHASH > file.nar

Finds peers holding the NAR (peers reached through the bootstrap nodes first, then the DHT), fetches its chunks
from several at once, checks each, and writes the NAR to stdout in order. Progress goes to stderr; the exit
status is 1 when the NAR cannot be completed.

  --bootstrap MULTIADDR  a bootstrap peer (/ip4/.../tcp/.../p2p/<peer id>); repeat for more
  --manifest-root CID    the trusted manifest root (from an agreement): every chunk is checked against it.
                         Without it the whole NarHash is checked at the end.
  --nar-size N           the NarSize, when known (checked against the manifest)
  --data DIR             keep fetched chunks in the store at DIR (a second run resumes); default: a temporary
                         store, removed afterwards
  --allow-private        dial private and loopback addresses (LANs, tests); off by default
  --timeout SECONDS      give up after this long (default 600)`,
  async run(args, io) {
    const { values, positionals } = parseFlags(args, {
      bootstrap: { type: 'string', multiple: true },
      'manifest-root': { type: 'string' },
      'nar-size': { type: 'string' },
      data: { type: 'string' },
      'allow-private': { type: 'boolean' },
      timeout: { type: 'string' }
    })
    if (positionals.length !== 1) throw new UsageError('expected exactly one NARHASH (e.g. sha256:1b8m...)')
    const narHash = positionals[0]!
    try {
      narCidFromNarHash(narHash)
    } catch (err) {
      throw new UsageError(`not a NarHash: ${narHash} (${(err as Error).message})`)
    }
    const bootstrap = values.bootstrap ?? []
    if (bootstrap.length === 0) throw new UsageError('at least one --bootstrap MULTIADDR is needed')
    const manifestRoot = values['manifest-root']
    const narSize = values['nar-size'] === undefined ? undefined : Number(values['nar-size'])
    if (narSize !== undefined && !(Number.isSafeInteger(narSize) && narSize >= 0)) {
      throw new UsageError('--nar-size must be a non-negative integer')
    }
    const timeoutS = values.timeout === undefined ? 600 : Number(values.timeout)
    if (!(timeoutS > 0)) throw new UsageError('--timeout must be a positive number of seconds')

    const tempDir = values.data === undefined ? await mkdtemp(join(tmpdir(), 'narthex-fetch-')) : undefined
    const store = createStore({ dir: values.data ?? join(tempDir!, 'store') })
    await store.start()
    const node = await createNode({ bootstrap, allowPrivateAddresses: values['allow-private'] ?? false })
    const started = Date.now()
    let last: DownloadProgress | undefined
    const progress = createProgress({ stream: io.stderr, label: 'fetch', quiet: io.quiet })
    progress.update({ name: 'looking for peers' })
    try {
      const download = new NarDownload({ node, sink: chunkSinkFromStore(store) }, narHash, {
        ...(manifestRoot !== undefined ? { manifestRoot } : {}),
        ...(narSize !== undefined ? { narSize } : {}),
        signal: AbortSignal.timeout(timeoutS * 1000),
        onProgress: (p) => {
          last = p
          progress.update({
            bytes: p.bytes,
            totalBytes: p.narSize,
            name: `${p.peers} peers${p.local > 0 ? `, ${formatBytes(p.local)} already local` : ''}`
          })
        }
      })
      for await (const bytes of download.bytes()) {
        if (!io.stdout.write(bytes)) await once(io.stdout, 'drain')
      }
      progress.finish()
      report(io.stderr, last, started)
      return 0
    } catch (err) {
      progress.finish()
      if (last === undefined)
        io.log.info(`no peer delivered the NAR in ${((Date.now() - started) / 1000).toFixed(0)} s`)
      throw err
    } finally {
      await Promise.resolve(node.stop()).catch(() => {})
      await store.stop().catch(() => {})
      if (tempDir !== undefined) await rm(tempDir, { recursive: true, force: true })
    }
  }
}

/** The summary line once the NAR is complete. */
function report(out: NodeJS.WritableStream, p: DownloadProgress | undefined, started: number): void {
  const s = (Date.now() - started) / 1000
  if (p === undefined) return
  const rate = p.bytes / MiB / Math.max(s, 0.001)
  out.write(
    `narthex fetch: done, ${(p.bytes / MiB).toFixed(1)} of ${(p.narSize / MiB).toFixed(1)} MiB` +
      ` (${rate.toFixed(1)} MiB/s, ${(p.local / MiB).toFixed(1)} MiB already local) from ${p.peers} peers\n`
  )
}
