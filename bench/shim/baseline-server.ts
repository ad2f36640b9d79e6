// The baseline: the tests' static binary-cache server (node:http, files from disk), as a separate process.
import { startCacheServer } from '../../test/util/cache-server.js'

const server = await startCacheServer({ dir: process.argv[2]! })
process.stdout.write(`listening on ${server.url}\n`)
process.on('SIGTERM', () => server.close().then(() => process.exit(0)))
