import {
  type ConfigInput,
  createOrchestrator,
  InvalidConfigError,
  loadOrchestratorConfig,
  parseListen,
  resolveConfig
} from '@narthex/orchestrator'
import { type Command, parseFlags, writeText } from '../command.js'
import { UsageError } from '../errors.js'
import { listenForStop } from '../stop-signal.js'

export const command: Command = {
  name: 'orchestrator',
  summary: 'run the orchestrator: k-of-n agreement, signed narinfos, dashboard, DHT bootstrap',
  usage: `Usage: narthex orchestrator --data DIR --key FILE --trust NAME:PUBKEY... [flags]
       narthex orchestrator --config FILE [flags]

Stores builders' signed attestations, agrees on an output when --quorum distinct trusted builders state the same
NarHash, NarSize, References and manifest root, and serves the narinfo of every agreed output signed with --key.
The dashboard is at http://HOST:PORT/.

Flags:
  --config FILE          configuration file, JSON with comments (docs/configuration.md); flags override it.
                         Unknown keys are an error; relative paths are relative to the file.
  --data DIR             data directory (level database)
  --listen HOST:PORT     HTTP address (default 127.0.0.1:7420; port 0 picks one)
  --key FILE             the orchestrator's Nix secret key (narthex keygen NAME)
  --trust NAME:PUBKEY    a trusted builder's public key; repeat for each builder
  --revoke NAME          treat this trusted builder as revoked; repeatable
  --quorum K             distinct trusted builders that must agree (default 2)
  --after-agreement keep|withdraw
                         what a dissent after agreement does (default keep; see docs/consensus.md)
  --p2p-listen MULTIADDR libp2p listen address of the DHT bootstrap node; repeatable
                         (default /ip4/127.0.0.1/tcp/0)
  --no-p2p               run no libp2p node
  --priority N           Priority in /nix-cache-info (default 40)

Prints "listening on URL" when ready; stops cleanly on SIGINT or SIGTERM.`,
  async run(args, io) {
    const { values, positionals } = parseFlags(args, {
      config: { type: 'string' },
      data: { type: 'string' },
      listen: { type: 'string' },
      key: { type: 'string' },
      trust: { type: 'string', multiple: true },
      revoke: { type: 'string', multiple: true },
      quorum: { type: 'string' },
      'after-agreement': { type: 'string' },
      'p2p-listen': { type: 'string', multiple: true },
      'no-p2p': { type: 'boolean' },
      priority: { type: 'string' }
    })
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`)
    let input: ConfigInput = {}
    if (values.config !== undefined) input = await asUsage(() => loadOrchestratorConfig(values.config!))
    if (values.data !== undefined) input.dataDir = values.data
    if (values.key !== undefined) input.keyFile = values.key
    if (values.listen !== undefined) Object.assign(input, parseListen(values.listen))
    if (values.trust !== undefined) input.trust = values.trust.map((key) => ({ key, revoked: false }))
    for (const name of values.revoke ?? []) {
      const list = input.trust ?? []
      const i = list.findIndex((t) => t.key.startsWith(`${name}:`))
      if (i < 0) throw new UsageError(`--revoke ${name}: no trusted key has that name`)
      input.trust = list.map((t, j) => (j === i ? { ...t, revoked: true } : t))
    }
    if (values.quorum !== undefined) {
      if (!/^\d+$/.test(values.quorum)) throw new UsageError('--quorum must be a positive integer')
      input.quorum = Number(values.quorum)
    }
    if (values['after-agreement'] !== undefined) {
      const v = values['after-agreement']
      if (v !== 'keep' && v !== 'withdraw') throw new UsageError('--after-agreement must be keep or withdraw')
      input.afterAgreement = v
    }
    if (values['p2p-listen'] !== undefined) input.p2pListen = values['p2p-listen']
    if (values['no-p2p'] === true) input.p2pListen = []
    if (values.priority !== undefined) {
      if (!/^\d+$/.test(values.priority)) throw new UsageError('--priority must be a non-negative integer')
      input.cachePriority = Number(values.priority)
    }
    const config = await asUsage(() => resolveConfig(input))
    const orchestrator = createOrchestrator({ config })
    // Listen before starting: a SIGTERM right after the "listening" line (or during start) stops cleanly.
    const stop = listenForStop()
    try {
      await orchestrator.start()
    } catch (err) {
      stop.dispose()
      throw err
    }
    await writeText(io.stdout, `narthex orchestrator: listening on ${orchestrator.url}\n`)
    const p2p = orchestrator.p2p()
    if (p2p !== null) {
      await writeText(io.stdout, `narthex orchestrator: libp2p peer ${p2p.peerId}\n`)
      for (const a of p2p.multiaddrs) await writeText(io.stdout, `narthex orchestrator: bootstrap ${a}\n`)
    }
    io.log.info(
      `data ${config.dataDir}; quorum ${config.quorum} of ${config.trust.length} trusted builders; dashboard ${orchestrator.url}/`,
      { data: config.dataDir, quorum: config.quorum, builders: config.trust.length }
    )
    const signal = await stop.received
    io.log.info(`${signal}: stopping`)
    await orchestrator.stop()
    io.log.info('stopped')
    return 0
  }
}

/**
 * A configuration mistake is a usage error (exit 2), as for the seeder and the shim: the systemd units do not
 * restart a program that cannot start until someone edits its configuration.
 */
async function asUsage<T>(work: () => T | Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (err) {
    if (err instanceof InvalidConfigError) throw new UsageError(err.message)
    throw err
  }
}
