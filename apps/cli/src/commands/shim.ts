import { join } from 'node:path'
import { narCidFromNarHash } from '@narthex/content'
import { Announcer, chunkSourceFromStore, createNode, FetchServer } from '@narthex/p2p'
import {
  createShim,
  loadShimConfig,
  type RawConfig,
  resolveConfig,
  type ShimConfig,
  SwarmSource
} from '@narthex/shim'
import { createStore, type NarEntry, type Store } from '@narthex/store'
import { type Command, parseFlags, writeText } from '../command.js'
import { UsageError } from '../errors.js'
import { listenForStop } from '../stop-signal.js'

export const command: Command = {
  name: 'shim',
  summary: 'run the local Nix substituter (narinfos from the orchestrator, NARs from peers)',
  usage: `Usage: narthex shim --data DIR [--orchestrator URL] [--bootstrap MULTIADDR]... [--upstream URL]...
                    [--listen HOST:PORT] [--config FILE] [--quota SIZE] [--priority N]
                    [--orchestrator-key KEY]... [--no-seed] [--no-prefetch]
                    [--allow-non-loopback] [--allow-host NAME]... [--p2p-listen MULTIADDR]... [--allow-private]

Serves the Nix binary-cache protocol on loopback (default 127.0.0.1:37515). Point Nix at it:
  substituters = http://127.0.0.1:37515
  trusted-public-keys = <the orchestrator's public key>

  --data DIR             narinfo cache, NAR cache and temporary files (required)
  --orchestrator URL     where agreed, signed narinfos come from
  --orchestrator-key KEY refuse narinfos not signed by this public key (repeatable; default: Nix checks alone)
  --bootstrap MULTIADDR  a DHT bootstrap peer (repeatable)
  --upstream URL         an HTTP binary cache to fetch from when no peer has a NAR (repeatable, in order)
  --listen HOST:PORT     loopback only unless --allow-non-loopback
  --config FILE          configuration file, JSON with comments (docs/configuration.md); flags win;
                         unknown keys are rejected
  --quota SIZE           local NAR cache size, e.g. 20GiB (default 10GiB)
  --priority N           Priority in nix-cache-info (default 30; cache.nixos.org is 40)
  --no-seed              do not re-seed fetched NARs to the network
  --no-prefetch          do not fetch a path's closure when Nix asks for its narinfo
  --allow-host NAME      accept this Host name besides loopback names (repeatable)
  --p2p-listen MULTIADDR libp2p listen address, so peers can fetch what this shim re-seeds (repeatable)
  --allow-private        dial private and loopback peer addresses (LANs, tests)`,
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
      'orchestrator-key': { type: 'string', multiple: true },
      'p2p-listen': { type: 'string', multiple: true },
      'allow-private': { type: 'boolean' }
    })
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`)
    let file: RawConfig = {}
    try {
      if (values.config !== undefined) file = await loadShimConfig(values.config)
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
    if (values['p2p-listen'] !== undefined) flags.p2pListen = values['p2p-listen']
    if (values['allow-private']) flags.allowPrivate = true
    let config: ReturnType<typeof resolveConfig>
    try {
      config = resolveConfig({ ...file, ...flags })
    } catch (err) {
      throw new UsageError((err as Error).message)
    }
    // Listen before starting: a SIGTERM during start stops cleanly once started.
    const stop = listenForStop()
    // One chunk store: the shim's NAR cache, the swarm downloader's sink, and what the fetch server serves.
    const store = createStore({ dir: join(config.data, 'store'), maxSize: config.quota })
    await store.start()
    const p2p = config.bootstrap.length > 0 ? await startP2p(config, store) : undefined
    const shim = createShim({
      data: config.data,
      listen: config.listen,
      store,
      ...(p2p === undefined ? {} : { swarm: p2p.swarm }),
      ...(config.orchestrator === undefined ? {} : { orchestrator: config.orchestrator }),
      upstream: config.upstream,
      seed: config.seed,
      prefetch: config.prefetch,
      priority: config.priority,
      allowHosts: config.allowHosts,
      orchestratorKeys: config.orchestratorKeys,
      ...(p2p === undefined ? {} : { peers: p2p.peers })
    })
    try {
      await shim.start()
    } catch (err) {
      stop.dispose()
      await p2p?.stop().catch(() => {})
      await store.stop().catch(() => {})
      throw err
    }
    const log = io.log
    log.info(
      `data ${config.data}; control socket ${join(config.data, 'shim.sock')} (narthex status --data DIR)`,
      {
        data: config.data
      }
    )
    log.info(
      `NARs from ${[...(p2p === undefined ? [] : ['the swarm']), ...config.upstream].join(', ') || 'nowhere (no --bootstrap or --upstream)'}; narinfos from ${config.orchestrator ?? 'nowhere (no --orchestrator)'}`,
      { orchestrator: config.orchestrator, upstream: config.upstream, swarm: p2p !== undefined }
    )
    await writeText(io.stdout, `narthex shim listening on ${shim.url}\n`)
    const signal = await stop.received
    log.info(`${signal}: stopping`)
    await shim.stop()
    await p2p?.stop()
    await store.stop()
    log.info('stopped')
    return 0
  }
}

/**
 * The peer-to-peer side: a libp2p node bootstrapped into the DHT, the swarm downloader as the shim's first NAR
 * source and, when re-seeding is on, the fetch server (peers fetch chunks from this shim's store) and the
 * announcer (the NARs in the store are announced in the DHT, if this node has listen addresses).
 */
async function startP2p(config: ShimConfig, store: Store) {
  const node = await createNode({
    dataDir: join(config.data, 'p2p'),
    bootstrap: config.bootstrap,
    listen: config.p2pListen,
    allowPrivateAddresses: config.allowPrivate,
    dhtServer: config.seed && config.p2pListen.length > 0
  })
  const swarm = new SwarmSource({ node, store })
  let server: FetchServer | undefined
  let announcer: Announcer | undefined
  const onAdded = (e: CustomEvent<NarEntry>) => announcer?.announce(narCidFromNarHash(e.detail.narHash))
  if (config.seed) {
    server = new FetchServer({ node, source: chunkSourceFromStore(store) })
    await server.start()
    if (config.p2pListen.length > 0) {
      announcer = new Announcer({ node })
      announcer.start()
      store.addEventListener('nar:added', onAdded)
      for await (const nar of store.listNars())
        if (!nar.damaged) announcer.announce(narCidFromNarHash(nar.narHash))
    }
  }
  return {
    swarm,
    peers: () => [...new Set(node.getConnections().map((c) => c.remotePeer.toString()))],
    async stop() {
      store.removeEventListener('nar:added', onAdded)
      announcer?.stop()
      await server?.stop()
      await swarm.stop()
      await node.stop()
    }
  }
}
