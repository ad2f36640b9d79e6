import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { getText } from '../src/http-client.js'

/** A loopback server answering by path; counts the connections it accepted. */
async function serve(): Promise<{ server: Server; base: string; connections: () => number }> {
  let connections = 0
  const server = createServer((req, res) => {
    switch (req.url) {
      case '/ok':
        res.end('hello')
        return
      case '/missing':
        res.writeHead(404).end('not here')
        return
      case '/moved':
        res.writeHead(302, { location: '/ok' }).end()
        return
      case '/declared-large':
        res.writeHead(200, { 'content-length': '2000' }).end('x'.repeat(2000))
        return
      case '/chunked-large':
        // No content-length: the limit must hold as the bytes stream in.
        res.write('y'.repeat(600))
        res.end('y'.repeat(600))
        return
      case '/stall':
        return // never answers
    }
  })
  server.on('connection', () => connections++)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { server, base: `http://127.0.0.1:${port}`, connections: () => connections }
}

describe('getText (the shim client of its orchestrator)', () => {
  let s: Awaited<ReturnType<typeof serve>>
  before(async () => {
    s = await serve()
  })
  after(() => {
    s.server.closeAllConnections()
    s.server.close()
  })
  const tooLarge = () => new Error('too large')
  const get = (path: string, signal?: AbortSignal) =>
    getText(new URL(s.base + path), { max: 1000, onTooLarge: tooLarge, ...(signal ? { signal } : {}) })

  it('reads a 200 as text and gives other statuses, redirects included, without a body', async () => {
    const ok = await get('/ok')
    assert.deepEqual({ status: ok.status, text: ok.text }, { status: 200, text: 'hello' })
    assert.equal(ok.headers['content-length'], '5')
    const missing = await get('/missing')
    assert.deepEqual({ status: missing.status, text: missing.text }, { status: 404, text: undefined })
    const moved = await get('/moved')
    assert.deepEqual({ status: moved.status, text: moved.text }, { status: 302, text: undefined })
    assert.equal(typeof moved.headers, 'object')
  })

  it('refuses a body over the limit, declared or streamed', async () => {
    await assert.rejects(get('/declared-large'), /too large/)
    await assert.rejects(get('/chunked-large'), /too large/)
  })

  it('rejects when the signal aborts a request that gets no answer', async () => {
    await assert.rejects(get('/stall', AbortSignal.timeout(100)), { name: 'AbortError' })
  })

  it('reuses one kept-alive connection for requests one after another', async () => {
    const before = s.connections()
    for (let i = 0; i < 20; i++) assert.equal((await get('/ok')).text, 'hello')
    assert.ok(s.connections() - before <= 1, `${s.connections() - before} connections for 20 requests`)
  })

  it('rejects an unreachable server', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const { port } = closed.address() as AddressInfo
    await new Promise((resolve) => closed.close(resolve))
    await assert.rejects(getText(new URL(`http://127.0.0.1:${port}/ok`), { max: 10, onTooLarge: tooLarge }), {
      code: 'ECONNREFUSED'
    })
  })
})
