/**
 * The orchestrator's libp2p node as a DHT bootstrap peer: it publishes its multiaddrs at /api/v1/p2p, two other
 * nodes that only know it find each other's provider records through it, and its peer id survives a restart.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { formatPublicKey, formatSecretKey, generateSecretKey } from '@narthex/nix'
import { createNode } from '@narthex/p2p'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { NARTHEX_BIN, tempDir, waitFor } from '../../../test/util/index.js'
import { createOrchestrator, type Orchestrator, resolveConfig } from '../src/index.js'

async function peer(bootstrap: string) {
  // Nodes as seeders make them; the orchestrator's node must interoperate with them.
  const node = await createNode({
    listen: ['/ip4/127.0.0.1/tcp/0'],
    dhtServer: true,
    allowPrivateAddresses: true
  })
  await node.dial(multiaddr(bootstrap))
  return node
}

describe('orchestrator libp2p bootstrap node', function () {
  this.timeout(60_000)
  let dir: { path: string; cleanup: () => Promise<void> }
  let orchestrator: Orchestrator | undefined
  const nodes: Awaited<ReturnType<typeof peer>>[] = []
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.stop()
    await orchestrator?.stop()
    await dir?.cleanup()
  })

  it('publishes its multiaddrs, bootstraps a DHT between two peers, and keeps its peer id', async () => {
    dir = await tempDir('narthex-p2p-')
    await writeFile(join(dir.path, 'o.sec'), formatSecretKey(generateSecretKey('p2p-orch')))
    const config = resolveConfig({
      dataDir: join(dir.path, 'data'),
      keyFile: join(dir.path, 'o.sec'),
      port: 0,
      quorum: 1,
      trust: [{ key: formatPublicKey(generateSecretKey('p2p-b').publicKey), revoked: false }],
      p2pListen: ['/ip4/127.0.0.1/tcp/0']
    })
    orchestrator = createOrchestrator({ config })
    await orchestrator.start()
    const info = (await (await fetch(`${orchestrator.url}/api/v1/p2p`)).json()) as {
      peerId: string
      multiaddrs: string[]
      protocol: string
    }
    assert.equal(info.protocol, '/narthex/kad/1.0.0')
    assert.ok(info.multiaddrs.length > 0)
    const addr = info.multiaddrs.find((a) => a.startsWith('/ip4/127.0.0.1/tcp/'))!
    assert.ok(addr.endsWith(`/p2p/${info.peerId}`))
    const summary = (await (await fetch(`${orchestrator.url}/api/v1/summary`)).json()) as {
      p2p: { peerId: string }
    }
    assert.equal(summary.p2p.peerId, info.peerId)

    // Two peers that know only the orchestrator: one provides, the other finds it through the DHT.
    const a = await peer(addr)
    nodes.push(a)
    const b = await peer(addr)
    nodes.push(b)
    const cid = CID.create(1, 0x55, Digest.create(0x12, new Uint8Array(32).fill(7)))
    await waitFor(
      'a provider record to be stored',
      async () => {
        for await (const _ of a.services.dht.provide(cid, { signal: AbortSignal.timeout(5000) })) {
          // drain the query events
        }
        return true
      },
      20_000
    )
    const found = await waitFor(
      'b to find a as a provider',
      async () => {
        for await (const e of b.services.dht.findProviders(cid, { signal: AbortSignal.timeout(5000) })) {
          if (e.name === 'PROVIDER' && e.providers.some((p) => p.id.equals(a.peerId))) return true
        }
        return false
      },
      20_000
    )
    assert.ok(found)

    // Same identity after a restart.
    await orchestrator.stop()
    orchestrator = createOrchestrator({ config })
    await orchestrator.start()
    assert.equal(orchestrator.p2p()!.peerId, info.peerId)
  })

  it('narthex orchestrator prints its peer id and bootstrap multiaddrs (libp2p is on by default)', async () => {
    dir = await tempDir('narthex-p2p-cli-')
    await writeFile(join(dir.path, 'o.sec'), formatSecretKey(generateSecretKey('p2p-orch')))
    const child = spawn(
      process.execPath,
      [
        NARTHEX_BIN,
        'orchestrator',
        '--data',
        join(dir.path, 'data'),
        '--key',
        join(dir.path, 'o.sec'),
        '--listen',
        '127.0.0.1:0',
        '--quorum',
        '1',
        '--trust',
        formatPublicKey(generateSecretKey('b').publicKey)
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] }
    )
    try {
      let out = ''
      child.stdout!.setEncoding('utf8').on('data', (d: string) => {
        out += d
      })
      await waitFor(
        'the bootstrap line',
        () => /bootstrap \/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3KooW/.test(out),
        20_000
      )
      assert.match(out, /^narthex orchestrator: libp2p peer 12D3KooW\w+$/m)
    } finally {
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      })
    }
  })
})
