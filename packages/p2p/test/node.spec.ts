import assert from 'node:assert/strict'
import { multiaddr } from '@multiformats/multiaddr'
import { tempDir, waitFor } from '../../../test/util/index.js'
import { Announcer, createNode, isPrivateMultiaddr, type NarthexNode } from '../src/index.js'
import { loopbackNode, pseudoRandomBytes, rawCid } from './util.js'

describe('node factory', function () {
  this.timeout(30_000)
  let nodes: NarthexNode[] = []
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
  })

  it('classifies private, loopback and public addresses', () => {
    for (const a of [
      '/ip4/127.0.0.1/tcp/1',
      '/ip4/10.1.2.3/tcp/1',
      '/ip4/192.168.0.9/tcp/1',
      '/ip6/::1/tcp/1'
    ]) {
      assert.equal(isPrivateMultiaddr(multiaddr(a)), true, a)
    }
    for (const a of ['/ip4/1.1.1.1/tcp/1', '/dns4/example.org/tcp/1']) {
      assert.equal(isPrivateMultiaddr(multiaddr(a)), false, a)
    }
  })

  it('in production configuration refuses to dial a private address unless it is a configured bootstrap peer', async () => {
    const target = await loopbackNode()
    nodes.push(target)
    const addr = target.getMultiaddrs()[0]!
    const production = await createNode()
    nodes.push(production)
    await assert.rejects(production.dial(addr))
    const told = await createNode({ bootstrap: [addr.toString()] })
    nodes.push(told)
    await waitFor('bootstrap connection', () => told.getConnections().length > 0)
    assert.ok(told.getConnections()[0]!.remotePeer.equals(target.peerId))
  })

  it('keeps its peer identity in the data directory across restarts', async () => {
    const dir = await tempDir()
    try {
      const a = await createNode({ dataDir: dir.path })
      const id = a.peerId.toString()
      await a.stop()
      const b = await createNode({ dataDir: dir.path })
      nodes.push(b)
      assert.equal(b.peerId.toString(), id)
    } finally {
      await dir.cleanup()
    }
  })

  it('advertises an announce address (NAT: a forwarded port) to the peers it meets, beside its listen addresses', async () => {
    const announced = '/dns4/seeder.example.org/tcp/4001'
    const seeder = await loopbackNode({ announce: [announced], dhtServer: true })
    nodes.push(seeder)
    const own = seeder.getMultiaddrs().map((m) => m.toString())
    assert.ok(own.includes(`${announced}/p2p/${seeder.peerId}`), own.join(' '))
    assert.ok(
      own.some((m) => m.startsWith('/ip4/127.0.0.1/tcp/')),
      'listen addresses kept'
    )
    const peer = await loopbackNode({ bootstrap: [seeder.getMultiaddrs()[0]!.toString()] })
    nodes.push(peer)
    await waitFor('identify told the peer the announced address', async () => {
      const known = await peer.peerStore.get(seeder.peerId).catch(() => undefined)
      return known?.addresses.some((a) => a.multiaddr.toString() === announced) === true
    })
    await assert.rejects(createNode({ announce: ['nonsense'] }), { name: 'InvalidNodeConfigError' })
  })

  it("rejects 'tls' and 'libp2p-tls' offered together (one protocol id) with InvalidNodeConfigError", async () => {
    await assert.rejects(createNode({ encryption: ['tls', 'libp2p-tls'] }), {
      name: 'InvalidNodeConfigError'
    })
  })

  it("a node offering 'libp2p-tls' (@libp2p/tls) and one offering 'tls' (socket-level) connect over /tls/1.0.0", async () => {
    const a = await loopbackNode({ encryption: ['libp2p-tls'] })
    const b = await loopbackNode({ encryption: ['tls'] })
    nodes.push(a, b)
    const connection = await b.dial(a.getMultiaddrs()[0]!)
    assert.equal(connection.encryption, '/tls/1.0.0')
    // a protocol negotiated through the encrypted connection
    const stream = await b.dialProtocol(a.peerId, '/ipfs/ping/1.0.0')
    await stream.close()
  })

  it('rejects a malformed bootstrap address with InvalidNodeConfigError', async () => {
    await assert.rejects(createNode({ bootstrap: ['not a multiaddr'] }), { name: 'InvalidNodeConfigError' })
  })

  it('the announcer retries an announcement nobody acknowledges and reports it failed', async () => {
    const lone = await loopbackNode({ dhtServer: true, allowQueryWithZeroPeers: true })
    nodes.push(lone)
    const announcer = new Announcer({ node: lone }, { maxAttempts: 3, retryBaseMs: 10, minAcks: 1 })
    const outcomes: Array<{ ok: boolean; attempts: number; acks: number }> = []
    announcer.onOutcome((o) => outcomes.push({ ok: o.ok, attempts: o.attempts, acks: o.acks }))
    announcer.start()
    announcer.announce(rawCid(pseudoRandomBytes(32, 5)))
    await announcer.onIdle()
    announcer.stop()
    assert.deepEqual(outcomes, [{ ok: false, attempts: 3, acks: 0 }])
    assert.equal(announcer.stats.failed, 1)
    assert.equal(announcer.stats.retries, 2)
  })

  it('the announcer picks up again, after a restart, what a stop interrupted mid-sweep', async () => {
    // No peers: a walk waits for one until its deadline, so the sweep is still in flight when stop() comes.
    const lone = await loopbackNode({ dhtServer: true })
    nodes.push(lone)
    const announcer = new Announcer(
      { node: lone },
      { walkTimeoutMs: 300, maxAttempts: 1, checkIntervalMs: 50 }
    )
    const outcomes: boolean[] = []
    announcer.onOutcome((o) => outcomes.push(o.ok))
    announcer.start()
    announcer.announce(rawCid(pseudoRandomBytes(32, 6)))
    await waitFor('the sweep in flight', () => announcer.stats.inFlight === 1)
    announcer.stop()
    await announcer.onIdle()
    assert.deepEqual(outcomes, [])
    announcer.start()
    await waitFor('an outcome after the restart', () => outcomes.length > 0, 10_000)
    announcer.stop()
    assert.deepEqual(outcomes, [false])
    assert.equal(announcer.holds(rawCid(pseudoRandomBytes(32, 6))), true)
  })
})
