import { readFile } from 'node:fs/promises'
import { createShim, parseConfigFile, type RawConfig, resolveConfig } from '@narthex/shim'
import { type Command, parseFlags } from '../command.js'
import { UsageError } from '../errors.js'

export const command: Command = {
  name: 'shim',
  summary: 'run the local Nix substituter (narinfos from the orchestrator, NARs from peers)',
  usage: `Usage: narthex shim --data DIR [--orchestrator URL] [--bootstrap MULTIADDR]... [--upstream URL]...
                    [--listen HOST:PORT] [--config FILE] [--quota SIZE] [--priority N]
                    [--orchestrator-key KEY]... [--no-seed] [--no-prefetch]
                    [--allow-non-loopback] [--allow-host NAME]...

Serves the Nix binary-cache protocol on loopback (default 127.0.0.1:37515). Point Nix at it:
  substituters = http://127.0.0.1:37515
  trusted-public-keys = <the orchestrator's public key>

  --data DIR             narinfo cache, NAR cache and temporary files (required)
  --orchestrator URL     where agreed, signed narinfos come from
  --orchestrator-key KEY refuse narinfos not signed by this public key (repeatable; default: Nix checks alone)
  --bootstrap MULTIADDR  a DHT bootstrap peer (repeatable)
  --upstream URL         an HTTP binary cache to fetch from when no peer has a NAR (repeatable, in order)
  --listen HOST:PORT     loopback only unless --allow-non-loopback
  --config FILE          JSON file with the same keys (docs/shim.md); flags win; unknown keys are rejected
  --quota SIZE           local NAR cache size, e.g. 20GiB (default 10GiB)
  --priority N           Priority in nix-cache-info (default 30; cache.nixos.org is 40)
  --no-seed              do not re-seed fetched NARs to the network
  --no-prefetch          do not fetch a path's closure when Nix asks for its narinfo
  --allow-host NAME      accept this Host name besides loopback names (repeatable)`,
  async run(args, io) {
    const { values, positionals } = parseFlags(args, {
      data: { type: 'string' },
      orchestrator: { type: 'string' },
      bootstrap: { type: 'string', multiple: true },
      upstream: { type: 'string', multiple: true },
      listen: { type: 'string' },
      config: { type: 'string' },
      quota: { type: 'string' },
      priority: { type: 'string' },
      'no-seed': { type: 'boolean' },
      'no-prefetch': { type: 'boolean' },
      'allow-non-loopback': { type: 'boolean' },
      'allow-host': { type: 'string', multiple: true },
      'orchestrator-key': { type: 'string', multiple: true }
    })
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`)
    const text = values.config === undefined ? undefined : await readFile(values.config, 'utf8')
    let file: RawConfig = {}
    try {
      if (text !== undefined) file = parseConfigFile(text, values.config)
    } catch (err) {
      throw new UsageError((err as Error).message)
    }
    const flags: RawConfig = {}
    if (values.data !== undefined) flags.data = values.data
    if (values.orchestrator !== undefined) flags.orchestrator = values.orchestrator
    if (values.bootstrap !== undefined) flags.bootstrap = values.bootstrap
    if (values.upstream !== undefined) flags.upstream = values.upstream
    if (values.listen !== undefined) flags.listen = values.listen
    if (values.quota !== undefined) flags.quota = values.quota
    if (values.priority !== undefined) {
      if (!/^\d+$/.test(values.priority)) throw new UsageError('--priority takes a number')
      flags.priority = Number(values.priority)
    }
    if (values['no-seed']) flags.seed = false
    if (values['no-prefetch']) flags.prefetch = false
    if (values['allow-non-loopback']) flags.allowNonLoopback = true
    if (values['allow-host'] !== undefined) flags.allowHosts = values['allow-host']
    if (values['orchestrator-key'] !== undefined) flags.orchestratorKeys = values['orchestrator-key']
    let config: ReturnType<typeof resolveConfig>
    try {
      config = resolveConfig({ ...file, ...flags })
    } catch (err) {
      throw new UsageError((err as Error).message)
    }
    if (config.bootstrap.length > 0) {
      // TODO(p2p): build the swarm NarSource and the re-seeder from @narthex/p2p once it lands.
      io.stderr.write('narthex shim: peer-to-peer fetching is not in this build yet; using upstreams only\n')
    }
    const shim = createShim({
      data: config.data,
      listen: config.listen,
      ...(config.orchestrator === undefined ? {} : { orchestrator: config.orchestrator }),
      upstream: config.upstream,
      seed: config.seed,
      prefetch: config.prefetch,
      quota: config.quota,
      priority: config.priority,
      allowHosts: config.allowHosts,
      orchestratorKeys: config.orchestratorKeys
    })
    await shim.start()
    io.stdout.write(`narthex shim listening on ${shim.url}\n`)
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve)
      process.once('SIGTERM', resolve)
    })
    await shim.stop()
    return 0
  }
}
