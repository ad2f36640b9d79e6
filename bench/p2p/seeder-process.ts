/**
 * A benchmark server process. Reads a file, then serves its bytes one of three ways and prints one JSON line
 * with its address on stdout; exits when stdin closes.
 *
 *   node --import tsx --conditions source bench/p2p/seeder-process.ts MODE FILE [OPTIONS_JSON]
 *
 * MODE: libp2p (the fetch protocol, the file ingested as a NAR into memory), tcp (the raw bytes on every
 * connection), http (node:http, GET / returns the bytes), helia (Helia 7 + @helia/unixfs over bitswap).
 */
import '../../apps/cli/src/polyfill.js'
import { readFile } from 'node:fs/promises'
import { createServer as createHttpServer } from 'node:http'
import { createServer as createTcpServer } from 'node:net'
import { ingestNar, narCidFromNarHash } from '@narthex/content'
import { type ChunkSource, createNode, FetchServer } from '@narthex/p2p'
import type { CID } from 'multiformats/cid'
import { startHelia } from './helia.js'

const [mode, file, optionsJson] = process.argv.slice(2)
const options = JSON.parse(optionsJson ?? '{}') as {
  encryption?: Array<'noise' | 'tls'>
  initialStreamWindowSize?: number
  maxStreamWindowSize?: number
  maxMessageSize?: number
}
const bytes = await readFile(file!)

function ready(info: object): void {
  process.stdout.write(`${JSON.stringify(info)}\n`)
}

process.stdin.resume()
const done = new Promise((resolve) => process.stdin.on('close', resolve).on('end', resolve))

if (mode === 'tcp') {
  const server = createTcpServer((socket) => {
    socket.on('error', () => {})
    socket.end(bytes)
  })
  server.listen(0, '127.0.0.1', () => ready({ port: (server.address() as { port: number }).port }))
  await done
  server.close()
} else if (mode === 'http') {
  const server = createHttpServer((_req, res) => {
    res.writeHead(200, { 'content-length': bytes.byteLength, 'content-type': 'application/octet-stream' })
    res.end(bytes)
  })
  server.listen(0, '127.0.0.1', () => ready({ port: (server.address() as { port: number }).port }))
  await done
  server.close()
} else if (mode === 'helia') {
  const helia = await startHelia(['/ip4/127.0.0.1/tcp/0'])
  const { unixfs } = await import('@helia/unixfs')
  const cid = await unixfs(helia).addBytes(bytes)
  ready({ multiaddr: helia.libp2p.getMultiaddrs()[0]!.toString(), cid: cid.toString() })
  await done
  await helia.stop()
} else {
  const chunks = new Map<string, Uint8Array>()
  async function* source() {
    for (let i = 0; i < bytes.byteLength; i += 1 << 20) yield bytes.subarray(i, i + (1 << 20))
  }
  const ingest = await ingestNar(source(), {
    onChunk: (c) => {
      chunks.set(c.cid.toString(), c.bytes)
    }
  })
  const narKey = narCidFromNarHash(ingest.narHash).toString()
  const store: ChunkSource = {
    hasNar: async (cid: CID) => cid.toString() === narKey,
    getManifest: async (cid: CID) => (cid.toString() === narKey ? ingest.manifestBytes : undefined),
    getChunk: async (cid: CID) => chunks.get(cid.toString())
  }
  const node = await createNode({
    listen: ['/ip4/127.0.0.1/tcp/0'],
    allowPrivateAddresses: true,
    allow: ['/ip4/127.0.0.1'],
    encryption: options.encryption ?? ['noise'],
    yamux: {
      ...(options.initialStreamWindowSize
        ? { initialStreamWindowSize: options.initialStreamWindowSize }
        : {}),
      ...(options.maxStreamWindowSize ? { maxStreamWindowSize: options.maxStreamWindowSize } : {}),
      ...(options.maxMessageSize ? { maxMessageSize: options.maxMessageSize } : {})
    }
  })
  await new FetchServer({ node, source: store }).start()
  ready({
    multiaddr: node.getMultiaddrs()[0]!.toString(),
    narHash: ingest.narHash,
    root: ingest.root.toString()
  })
  await done
  await node.stop()
}
process.exit(0)
