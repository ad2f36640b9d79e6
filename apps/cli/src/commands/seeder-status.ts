import { requestStatus, type SeederStatus } from '@narthex/seeder'
import { type Command, parseFlags, writeText } from '../command.js'
import { UsageError } from '../errors.js'
import { formatBytes } from '../store-util.js'

export const command: Command = {
  name: 'seeder status',
  summary: 'show what the running seeder of a data directory is doing',
  usage: `Usage: narthex seeder status --data DIR [--json]

Asks the seeder running on DIR (through its control socket DIR/seeder.sock) for its status: peer id and
addresses, NARs stored and published, announcements, peers, bytes served, disk use, corrupt chunks, mirror.
Exit status 1 when no seeder runs there.

  --data DIR   the seeder's data directory (default: $NARTHEX_DATA)
  --json       print the status as JSON`,
  async run(args, io) {
    const { values, positionals } = parseFlags(args, {
      data: { type: 'string', short: 'd' },
      json: { type: 'boolean' }
    })
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`)
    const dir = values.data ?? process.env.NARTHEX_DATA
    if (dir === undefined || dir === '') throw new UsageError('give the data directory with --data DIR')
    const st = (await requestStatus(dir)) as SeederStatus
    if (values.json) {
      await writeText(io.stdout, `${JSON.stringify(st, null, 2)}\n`)
      return 0
    }
    const lines = [
      `peer id       ${st.peerId}`,
      ...st.multiaddrs.map((m, i) => `${i === 0 ? 'listening    ' : '             '} ${m}`),
      `policy        ${st.policy}`,
      `NARs          ${st.nars.stored} stored, ${st.nars.published} published`,
      `announcements ${st.announcements.announced} done, ${st.announcements.failed} failed, ${st.announcements.queued + st.announcements.inFlight} pending, ${st.announcements.withdrawn} withdrawn`,
      `peers         ${st.peers.connected} connected, ${st.peers.serving} being served (cap ${st.peers.max || 'none'}), ${st.peers.rejected} refused busy`,
      `uploaded      ${formatBytes(st.upload.bytesServed)} in ${st.upload.chunksServed} chunks (cap ${st.upload.bytesPerSecondCap > 0 ? `${formatBytes(st.upload.bytesPerSecondCap)}/s` : 'none'})`,
      `disk          ${formatBytes(st.disk.storedBytes)}${st.disk.quotaBytes !== null ? ` of ${formatBytes(st.disk.quotaBytes)}` : ''}`,
      `corrupt       ${st.corrupt.chunks} chunks quarantined; ${st.repairs.repaired} NARs repaired, ${st.repairs.failed} repairs failed`,
      ...(st.mirror !== null
        ? [
            `mirror        ${st.mirror.mirrored} fetched, ${st.mirror.failed} failed, ${st.mirror.skippedQuota} over quota, ${st.mirror.rounds} rounds`
          ]
        : []),
      ...(st.metrics !== null ? [`metrics       http://${st.metrics}/metrics`] : [])
    ]
    await writeText(io.stdout, `${lines.join('\n')}\n`)
    return 0
  }
}
