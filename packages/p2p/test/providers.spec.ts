import assert from 'node:assert/strict'
import { waitFor } from '../../../test/util/index.js'
import { NAR_PROTOCOL } from '../src/constants.js'
import { findProviders, type NarthexNode } from '../src/index.js'
import { loopbackNode, pseudoRandomBytes, rawCid } from './util.js'

describe('findProviders among connected peers', function () {
  this.timeout(30_000)
  let nodes: NarthexNode[] = []
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.stop()))
    nodes = []
  })

  async function connected(client: NarthexNode): Promise<string[]> {
    const found: string[] = []
    for await (const p of findProviders(client, rawCid(pseudoRandomBytes(32, 7)), { connectedOnly: true }))
      found.push(p.toString())
    return found.sort()
  }

  it('yields the peers that speak the fetch protocol, as identify reports it and as it changes', async () => {
    const [client, seeder, other] = await Promise.all([loopbackNode(), loopbackNode(), loopbackNode()])
    nodes = [client!, seeder!, other!]
    await seeder!.handle(NAR_PROTOCOL, (stream) => void stream.close())
    const identified = (id: string) =>
      new Promise<void>((resolve) =>
        client!.addEventListener('peer:identify', (evt) => {
          if (evt.detail.peerId.toString() === id) resolve()
        })
      )
    // Asked once before anything is connected, so the client listens from the start.
    assert.deepEqual(await connected(client!), [])
    const both = Promise.all([identified(seeder!.peerId.toString()), identified(other!.peerId.toString())])
    await client!.dial(seeder!.getMultiaddrs()[0]!)
    await client!.dial(other!.getMultiaddrs()[0]!)
    await both
    assert.deepEqual(await connected(client!), [seeder!.peerId.toString()])

    // The other node starts serving NARs. Without identify push, a stream negotiated for the protocol is what tells
    // the client (libp2p merges it into the peer store, whose update event the client follows).
    await other!.handle(NAR_PROTOCOL, (stream) => void stream.close())
    const stream = await client!.dialProtocol(other!.peerId, NAR_PROTOCOL)
    await stream.close()
    await waitFor('the client to learn the new protocol', async () => (await connected(client!)).length === 2)
    assert.deepEqual(await connected(client!), [seeder!.peerId.toString(), other!.peerId.toString()].sort())
  })
})
