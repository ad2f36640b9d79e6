/**
 * The event stream at shutdown, on a real HTTP server on loopback: a dashboard that stopped reading still has
 * bytes queued when the orchestrator ends every stream, and events published in the shutdown grace period (a
 * submission that was already being stored) must not be written to an ended response.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, get, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { uncaughtDuring } from '../../../test/util/index.js'
import { EventLog } from '../src/events.js'
import { EventStreams } from '../src/http/sse.js'

describe('event streams at shutdown', () => {
  it('ends each stream once, stops writing to it at once, and unsubscribes it, even with bytes still queued', async () => {
    const log = new EventLog(1000)
    const streams = new EventStreams(log)
    let response: ServerResponse | undefined
    const server = createServer((req, res) => {
      response = res
      streams.open(req, res, null)
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    let client: IncomingMessage | undefined
    try {
      const { port } = server.address() as AddressInfo
      client = await new Promise<IncomingMessage>((resolve) =>
        get({ host: '127.0.0.1', port, path: '/' }, resolve)
      )
      client.pause() // a dashboard that stopped reading (a suspended laptop)
      const output = (outPath: string) => ({
        type: 'output' as const,
        data: {
          outPath,
          hashPart: 'h',
          previous: null,
          status: 'agreed' as const,
          served: true,
          agreed: true
        }
      })
      const big = 'x'.repeat(4000)
      const pending = (): number => response?.writableLength ?? 0
      for (let i = 0; pending() < 200_000 && i < 10_000; i++) {
        log.publish(output(`${big}-${i}`))
        if (i % 20 === 0) await new Promise((r) => setImmediate(r))
      }
      assert.ok(pending() >= 200_000, 'bytes are queued for the client that does not read')
      const { uncaught } = await uncaughtDuring(async () => {
        streams.closeAll()
        assert.equal(log.subscribers, 0, 'ended streams no longer receive events')
        // a submission that was already being stored publishes during the grace period
        log.publish(output('late'))
      })
      assert.deepEqual(uncaught, [])
    } finally {
      client?.destroy()
      server.closeAllConnections()
      server.close()
    }
  })
})
