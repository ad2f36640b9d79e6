import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { requestStatus, type SeederStatus } from '@narthex/seeder'
import { requestShimStatus, type ShimStatus } from '@narthex/shim'
import { type Command, parseFlags, writeText } from '../command.js'
import { NothingRunningError, UsageError } from '../errors.js'
import { formatBytes } from '../store-util.js'

/** Fetches and errors shown in the text form (the JSON form has all the program keeps). */
const SHOWN = 10

export const command: Command = {
  name: 'status',
  summary: 'show what the seeder or shim running on a data directory is doing',
  usage: `Usage: narthex status [--data DIR] [--json]

Finds what runs on the data directory DIR through its control sockets (DIR/seeder.sock for a seeder, DIR/shim.sock
for a shim; both are mode 0600, so only the directory's owner can ask) and prints, for each: peers (count and
ids), stored NARs and bytes, recent fetches (store path, size, where the bytes came from: which peers, the local
store, an upstream cache; how long; ok or the error), and recent errors. Exit status 1 when nothing runs there.

  --data DIR   the data directory of the seeder or shim (default: $NARTHEX_DATA)
  --json       print { "seeder": ..., "shim": ... } as JSON (the full status of each)`,
  async run(args, io) {
    const { values, positionals } = parseFlags(args, {
      data: { type: 'string', short: 'd' },
      json: { type: 'boolean' }
    })
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`)
    const dir = values.data ?? process.env.NARTHEX_DATA
    if (dir === undefined || dir === '') throw new UsageError('give the data directory with --data DIR')
    const [seeder, shim] = await Promise.all([
      existsSync(join(dir, 'seeder.sock'))
        ? (requestStatus(dir) as Promise<SeederStatus>).catch(notRunning)
        : undefined,
      existsSync(join(dir, 'shim.sock'))
        ? (requestShimStatus(dir) as Promise<ShimStatus>).catch(notRunning)
        : undefined
    ])
    if (seeder === undefined && shim === undefined)
      throw new NothingRunningError(
        `no seeder or shim is running on ${dir} (no answer on seeder.sock or shim.sock)`
      )
    if (values.json) {
      await writeText(
        io.stdout,
        `${JSON.stringify({ seeder: seeder ?? null, shim: shim ?? null }, null, 2)}\n`
      )
      return 0
    }
    const blocks: string[] = []
    if (seeder !== undefined) blocks.push(formatSeeder(seeder))
    if (shim !== undefined) blocks.push(formatShim(shim))
    await writeText(io.stdout, `${blocks.join('\n')}\n`)
    return 0
  }
}

/** A stale socket (the program was killed): treat as not running. */
function notRunning(err: Error): undefined {
  if (err.name === 'SeederNotRunningError' || err.name === 'ShimNotRunningError') return undefined
  throw err
}

function ago(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000))
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`
}

function peerLines(connected: number, ids: readonly string[] | undefined): string[] {
  const shown = (ids ?? []).slice(0, 5)
  return [
    `peers         ${connected} connected`,
    ...shown.map((id) => `                ${id}`),
    ...(connected > shown.length && shown.length > 0
      ? [`                ... and ${connected - shown.length} more`]
      : [])
  ]
}

function formatSeeder(st: SeederStatus): string {
  const lines = [
    'seeder',
    `peer id       ${st.peerId}`,
    ...peerLines(st.peers.connected, st.peers.ids),
    `NARs          ${st.nars.stored} stored (${formatBytes(st.disk.storedBytes)}${st.disk.quotaBytes !== null ? ` of ${formatBytes(st.disk.quotaBytes)}` : ''}), ${st.nars.published} published`,
    `uploaded      ${formatBytes(st.upload.bytesServed)} in ${st.upload.chunksServed} chunks`
  ]
  const fetches = st.recentFetches ?? []
  lines.push(`fetches       ${fetches.length === 0 ? 'none' : ''}`.trimEnd())
  for (const f of fetches.slice(0, SHOWN)) lines.push(`  ${ago(f.time).padEnd(8)} ${f.what} from ${f.from}`)
  const errors = st.recentErrors ?? []
  lines.push(`errors        ${errors.length === 0 ? 'none' : ''}`.trimEnd())
  for (const e of errors.slice(0, SHOWN)) lines.push(`  ${ago(e.time).padEnd(8)} ${e.what}: ${e.message}`)
  return lines.join('\n')
}

function formatShim(st: ShimStatus): string {
  const lines = [
    'shim',
    `url           ${st.url}`,
    ...peerLines(st.peers.connected, st.peers.ids),
    `NARs          ${st.nars.stored} stored (${formatBytes(st.nars.bytes)}); ${st.narinfos.cached} narinfos cached`,
    `fetches       ${st.fetches.fetches} started, ${st.fetches.fetchesFailed} failed, ${st.fetches.servedFromCache} served from the cache`,
    `in flight     ${st.fetches.inFlight} NARs, ${formatBytes(st.fetches.memoryBytes)} of them in memory`
  ]
  for (const f of st.recentFetches.slice(0, SHOWN)) {
    const from = Object.entries(f.bytesFrom)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${formatBytes(v)} ${k}`)
      .join(', ')
    lines.push(
      `  ${ago(f.started).padEnd(8)} ${f.ok ? 'ok    ' : 'FAILED'} ${f.storePath} ${formatBytes(f.narSize)} in ${(f.durationMs / 1000).toFixed(1)}s` +
        (from !== '' ? ` from ${from}` : '') +
        (f.error !== undefined ? ` (${f.error.name}: ${f.error.message})` : '')
    )
  }
  lines.push(`errors        ${st.recentErrors.length === 0 ? 'none' : ''}`.trimEnd())
  for (const e of st.recentErrors.slice(0, SHOWN))
    lines.push(`  ${ago(e.time).padEnd(8)} ${e.what}: ${e.name}: ${e.message}`)
  return lines.join('\n')
}
