import { type Command, parseFlags, writeText } from '../command.js'
import { UsageError } from '../errors.js'
import { DATA_FLAG, DATA_HELP, formatBytes, withStore } from '../store-util.js'

export const command: Command = {
  name: 'store verify',
  summary: 're-hash every stored chunk; quarantine and report what is corrupt',
  usage: `Usage: narthex store verify --data DIR

Re-hashes every chunk against its id and checks that every NAR's manifest and chunks are present. Corrupt chunks
are moved to quarantine/ and the NARs using them are marked damaged (not served until repaired). Exits 1 if
anything was wrong.

${DATA_HELP}`,
  async run(args, io) {
    const { values, positionals } = parseFlags(args, DATA_FLAG)
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`)
    const report = await withStore(values.data, (store) => store.verify())
    let text = `checked ${report.chunksChecked} chunks (${formatBytes(report.bytesChecked)}): ${report.corrupt.length} corrupt, ${report.missing.length} missing\n`
    for (const c of report.corrupt) text += `corrupt  ${c} (quarantined)\n`
    for (const c of report.missing) text += `missing  ${c}\n`
    for (const h of report.damagedNars) text += `damaged  ${h}\n`
    await writeText(io.stdout, text)
    return report.corrupt.length + report.missing.length + report.damagedNars.length > 0 ? 1 : 0
  }
}
