/**
 * The floor of serving a binary cache from Node.js: a plain `node:http` server streaming the files `nix copy --to
 * file://…?compression=none` wrote (the directory nginx serves), each NAR from one file with `createReadStream`
 * (1 MiB reads, the fastest of 64 KiB, 1 MiB and 4 MiB measured). No chunk store, no verification, no swarm:
 * only what any Node.js program must do to get a file's bytes into a socket, which has no `sendfile`. The
 * substitute benchmark runs it beside nginx and the shim on the warm cases, so that the shim's ratio to nginx can be
 * read against Node's own.
 *
 *   node bench/substitute/node-static.ts ROOT   → prints "listening PORT" on stdout; exits when stdin closes
 */
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { createServer } from 'node:http'
import { join, normalize } from 'node:path'

const root = process.argv[2]
if (root === undefined) {
  console.error('usage: node-static.ts ROOT')
  process.exit(2)
}

const server = createServer(async (req, res) => {
  const path = normalize(decodeURIComponent((req.url ?? '/').split('?')[0]!))
  if ((req.method !== 'GET' && req.method !== 'HEAD') || path.includes('\0') || path.startsWith('..')) {
    res.writeHead(400).end()
    return
  }
  const file = join(root, path)
  const st = await stat(file).catch(() => undefined)
  if (st === undefined || !st.isFile()) {
    res.writeHead(404).end()
    return
  }
  res.writeHead(200, { 'content-length': st.size })
  if (req.method === 'HEAD') {
    res.end()
    return
  }
  createReadStream(file, { highWaterMark: 1 << 20 })
    .on('error', () => res.destroy())
    .pipe(res)
})
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`)
})
process.stdin.resume()
process.stdin.on('close', () => server.close())
process.stdin.on('end', () => process.exit(0))
