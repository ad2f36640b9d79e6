// The HTTP floor for the ingest benchmark: node:http that reads a JSON body and answers 201 with a small JSON
// body, doing no other work. Prints its port.
import { createServer } from 'node:http'

const reply = Buffer.from('{"result":"accepted","seq":1}')
const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    JSON.parse(Buffer.concat(chunks).toString('utf8'))
    res.writeHead(201, { 'content-type': 'application/json', 'content-length': reply.length })
    res.end(reply)
  })
})
server.listen(0, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${server.address().port}`))
process.on('SIGTERM', () => server.close(() => process.exit(0)))
