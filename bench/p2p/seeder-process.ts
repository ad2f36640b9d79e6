/**
 * A benchmark server process. Reads a file, then serves its bytes one of three ways and prints one JSON line
 * with its address on stdout; exits when stdin closes.
 *
 *   node --import tsx --conditions source bench/p2p/seeder-process.ts MODE FILE [OPTIONS_JSON]
 *
 * MODE: libp2p (the fetch protocol, the file ingested as a NAR into memory, or with `"store": true` into a real
 * chunk store on disk and served as a seeder serves it: chunk files read and re-hashed), tcp (the raw bytes on
 * every connection), http (node:http, GET / returns the bytes), helia (Helia 7 + @helia/unixfs over bitswap),
 * tls-floor (node:tls, TLS 1.3 with the certificate and key files in the options; each connection gets part
 * `part` of `parts` equal parts of the bytes, in 1 MiB writes that respect backpressure, then the end).
 */
import '../../apps/cli/src/polyfill.js'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer as createHttpServer } from 'node:http'
import { createServer as createTcpServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer as createTlsServer } from 'node:tls'
import { ingestNar, narCidFromNarHash } from '@narthex/content'
import { type ChunkSource, createNode, FetchServer } from '@narthex/p2p'
import { createStore } from '@narthex/store'
import type { CID } from 'multiformats/cid'
import { startHelia } from './helia.js'

const [mode, file, optionsJson] = process.argv.slice(2)
const options = JSON.parse(optionsJson ?? '{}') as {
  encryption?: Array<'noise' | 'tls' | 'libp2p-tls'>
  initialStreamWindowSize?: number
  maxStreamWindowSize?: number
  maxMessageSize?: number
  store?: boolean
  part?: number
  parts?: number
  tlsCert?: string
  tlsKey?: string
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
} else if (mode === 'tls-floor') {
  const parts = options.parts ?? 1
  const from = Math.floor((bytes.byteLength * (options.part ?? 0)) / parts)
  const to = Math.floor((bytes.byteLength * ((options.part ?? 0) + 1)) / parts)
  const server = createTlsServer(
    {
      cert: await readFile(options.tlsCert!),
      key: await readFile(options.tlsKey!),
      minVersion: 'TLSv1.3'
    },
    (socket) => {
      socket.on('error', () => {})
      let at = from
      const pump = (): void => {
        while (at < to) {
          const end = Math.min(to, at + (1 << 20))
          const more = socket.write(bytes.subarray(at, end))
          at = end
          if (!more) {
            socket.once('drain', pump)
            return
          }
        }
        socket.end()
      }
      pump()
    }
  )
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
  async function* source() {
    for (let i = 0; i < bytes.byteLength; i += 1 << 20) yield bytes.subarray(i, i + (1 << 20))
  }
  let served: { source: ChunkSource; narHash: string; root: CID; close(): Promise<void> }
  if (options.store === true) {
    const dir = await mkdtemp(join(tmpdir(), 'narthex-bench-seeder-'))
    const store = createStore({ dir, fsync: false })
    await store.start()
    const nar = await store.importNar(source())
    served = {
      source: {
        hasNar: (cid) => store.hasNar(cid),
        getManifest: async (cid) => (await store.getManifest(cid))?.bytes,
        getChunk: (cid, opts) => store.getChunk(cid, opts),
        getChunks: (cids, opts) => store.getChunks(cids, opts)
      },
      narHash: nar.narHash,
      root: nar.root,
      close: async () => {
        await store.stop()
        await rm(dir, { recursive: true, force: true })
      }
    }
  } else {
    const chunks = new Map<string, Uint8Array>()
    const ingest = await ingestNar(source(), {
      onChunk: (c) => {
        chunks.set(c.cid.toString(), c.bytes)
      }
    })
    const narKey = narCidFromNarHash(ingest.narHash).toString()
    served = {
      source: {
        hasNar: async (cid) => cid.toString() === narKey,
        getManifest: async (cid) => (cid.toString() === narKey ? ingest.manifestBytes : undefined),
        getChunk: async (cid) => chunks.get(cid.toString())
      },
      narHash: ingest.narHash,
      root: ingest.root,
      close: async () => {}
    }
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
  await new FetchServer({ node, source: served.source }).start()
  ready({
    multiaddr: node.getMultiaddrs()[0]!.toString(),
    narHash: served.narHash,
    root: served.root.toString()
  })
  await done
  await node.stop()
  await served.close()
}
process.exit(0)
