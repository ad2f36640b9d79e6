import {
  createSeeder,
  InvalidSeederConfigError,
  loadSeederConfig,
  mergeSeederConfig,
  type SeederConfig,
  type SeederEvent,
  seederInitFromConfig
} from '@narthex/seeder'
import { type Command, parseFlags, writeText } from '../command.js'
import { UsageError } from '../errors.js'
import { listenForStop } from '../stop-signal.js'

export const command: Command = {
  name: 'seeder',
  summary: 'run a seeder: serve and announce the NARs of a store',
  usage: `Usage: narthex seeder --data DIR [--listen MULTIADDR...] [--bootstrap MULTIADDR...] [--config FILE]
                      [--orchestrator URL] [--trusted-key KEY...] [--serve-unverified] [--mirror]
                      [--quota SIZE] [--upload-rate SIZE] [--max-peers N] [--metrics HOST:PORT] ...

Runs until SIGINT or SIGTERM. Serves the NARs of the store in DIR to peers, announces them in the DHT, and takes
imports from \`narthex seed add --data DIR\` through the control socket DIR/seeder.sock. Prints one line
"narthex seeder listening <multiaddr>" per listen address (with /p2p/<peer id>) on stdout once it is ready;
the log goes to stderr. See docs/seeder.md.

  --data DIR             data directory: store, peer identity, DHT records, control socket
  --config FILE          configuration file, JSON with comments (docs/configuration.md); flags override it
  --listen MULTIADDR     listen address (default /ip4/0.0.0.0/tcp/4001); repeat for more
  --announce MULTIADDR   public address to advertise besides the listen ones (NAT: the router's IP
                         and forwarded port, or /dns4/NAME/tcp/PORT); repeat for more
  --bootstrap MULTIADDR  a bootstrap peer (/ip4/.../tcp/.../p2p/<peer id>); repeat for more
  --allow-private        dial private and loopback addresses (LANs, tests); off by default
Publication policy (one of these is required):
  --orchestrator URL     publish NARs whose output the orchestrator at URL agreed on
  --trusted-key KEY      publish NARs whose narinfo is signed by KEY (name:base64); repeat for more
  --serve-unverified     publish everything in the store (private store paths too)
Volunteer controls:
  --quota SIZE           disk quota, e.g. 50G (least recently used NARs are evicted past it)
  --upload-rate SIZE     upload cap per second, e.g. 4M (default: none)
  --max-peers N          peers served at once (default 64; 0 = no cap)
  --metrics HOST:PORT    Prometheus metrics at http://HOST:PORT/metrics (PORT alone: 127.0.0.1)
Mirror and repair:
  --mirror               fetch agreed NARs not held yet, fewest providers first (needs --orchestrator)
  --upstream URL         binary cache the mirror falls back to when no peer has a NAR
  --no-repair            do not re-fetch chunks of damaged NARs from peers`,
  async run(args, io) {
    const { values, positionals } = parseFlags(args, {
      data: { type: 'string', short: 'd' },
      config: { type: 'string' },
      listen: { type: 'string', multiple: true },
      announce: { type: 'string', multiple: true },
      bootstrap: { type: 'string', multiple: true },
      'allow-private': { type: 'boolean' },
      orchestrator: { type: 'string' },
      'trusted-key': { type: 'string', multiple: true },
      'serve-unverified': { type: 'boolean' },
      quota: { type: 'string' },
      'upload-rate': { type: 'string' },
      'max-peers': { type: 'string' },
      metrics: { type: 'string' },
      mirror: { type: 'boolean' },
      upstream: { type: 'string' },
      'no-repair': { type: 'boolean' }
    })
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`)
    const maxPeers = values['max-peers'] === undefined ? undefined : Number(values['max-peers'])
    if (maxPeers !== undefined && !(Number.isSafeInteger(maxPeers) && maxPeers >= 0))
      throw new UsageError('--max-peers must be a non-negative integer')
    const flags: SeederConfig = {
      ...(values.data !== undefined ? { data: values.data } : {}),
      ...(values.listen !== undefined ? { listen: values.listen } : {}),
      ...(values.announce !== undefined ? { announce: values.announce } : {}),
      ...(values.bootstrap !== undefined ? { bootstrap: values.bootstrap } : {}),
      ...(values['allow-private'] ? { allowPrivate: true } : {}),
      ...(values.orchestrator !== undefined ? { orchestrator: values.orchestrator } : {}),
      ...(values['trusted-key'] !== undefined ? { trustedKeys: values['trusted-key'] } : {}),
      ...(values['serve-unverified'] ? { serveUnverified: true } : {}),
      ...(values.quota !== undefined ? { quota: values.quota } : {}),
      ...(values['upload-rate'] !== undefined ? { uploadRate: values['upload-rate'] } : {}),
      ...(maxPeers !== undefined ? { maxPeers } : {}),
      ...(values.metrics !== undefined ? { metrics: values.metrics } : {}),
      ...(values.mirror ? { mirror: true } : {}),
      ...(values.upstream !== undefined ? { upstream: values.upstream } : {}),
      ...(values['no-repair'] ? { repair: false } : {})
    }
    let init: ReturnType<typeof seederInitFromConfig>
    try {
      const file = values.config !== undefined ? await loadSeederConfig(values.config) : {}
      init = seederInitFromConfig(mergeSeederConfig(file, flags))
    } catch (err) {
      if (err instanceof InvalidSeederConfigError) throw new UsageError(err.message)
      throw err
    }
    const log = io.log
    // Listen before starting: a SIGTERM right after the "listening" line (or during start) stops cleanly.
    const stop = listenForStop()
    let seeder: ReturnType<typeof createSeeder>
    try {
      seeder = createSeeder({
        ...init,
        onEvent: (e) => {
          const [level, msg] = describe(e)
          log[level](msg, { event: e.type })
        }
      })
      await seeder.start()
    } catch (err) {
      stop.dispose()
      if (err instanceof InvalidSeederConfigError) throw new UsageError(err.message)
      throw err
    }
    const st = await seeder.status()
    log.info(`peer id ${st.peerId}; data ${init.dataDir}; publishing ${st.policy}`, {
      peerId: st.peerId,
      data: init.dataDir,
      policy: st.policy
    })
    log.info(`control socket ${seeder.controlSocket}`)
    if (seeder.metricsAddress !== undefined)
      log.info(`metrics at http://${seeder.metricsAddress.host}:${seeder.metricsAddress.port}/metrics`)
    for (const m of seeder.multiaddrs) log.debug(`listening ${m}`)
    await writeText(io.stdout, seeder.multiaddrs.map((m) => `narthex seeder listening ${m}\n`).join(''))

    const signal = await stop.received
    log.info(`${signal}: stopping`)
    await seeder.stop()
    log.info('stopped')
    return 0
  }
}

/** A seeder event as a log level and line. */
function describe(e: SeederEvent): ['info' | 'warn', string] {
  switch (e.type) {
    case 'published':
      return ['info', `publishing ${e.narHash} (${e.reason})`]
    case 'not-published':
      return ['info', `not publishing ${e.narHash} (${e.reason})`]
    case 'announced':
      return e.ok
        ? ['info', `announced ${e.narHash} (${e.acks} acks)`]
        : ['warn', `announcing ${e.narHash} failed; will retry`]
    case 'withdrawn':
      return ['info', `withdrew ${e.narHash} (${e.reason})`]
    case 'corrupt-chunk':
      return [
        'warn',
        `CORRUPT chunk ${e.cid} (${e.reason}) quarantined; damaged: ${e.narHashes.join(' ') || 'none'}`
      ]
    case 'repaired':
      return ['info', `repaired ${e.narHash} from peers`]
    case 'repair-failed':
      return ['warn', `repair of ${e.narHash} failed: ${e.error}`]
    case 'mirrored':
      return ['info', `mirrored ${e.storePath} from ${e.from}`]
    case 'mirror-failed':
      return ['warn', `mirroring ${e.storePath} failed: ${e.error}`]
    case 'imported':
      return ['info', `imported ${e.storePath}`]
  }
}
