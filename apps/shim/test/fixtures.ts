/**
 * Test fixtures for the shim: synthetic store paths with signed narinfos (the shim never parses NAR contents, it
 * checks NarHash and NarSize, so random bytes serve as NAR bytes here; test/shim-nix.spec.ts uses real NARs made
 * by nix), and small HTTP helpers that talk to a server over real TCP, including raw malformed requests.
 */
import { createHash, randomBytes } from 'node:crypto'
import { request } from 'node:http'
import { connect } from 'node:net'
import {
  fingerprint,
  formatPublicKey,
  formatSha256,
  generateSecretKey,
  nixBase32,
  signDetached
} from '@narthex/nix'

export const TEST_KEY = generateSecretKey('narthex-test-1')
export const TEST_PUBLIC_KEY = formatPublicKey(TEST_KEY.publicKey)

export interface FakePath {
  readonly storePath: string
  readonly baseName: string
  readonly hashPart: string
  readonly bytes: Buffer
  readonly narHash: string
  /** nix32 digest of the NarHash: the NAR's file name. */
  readonly narKey: string
  readonly narinfo: string
}

export function fakePath(name: string, size: number, references: readonly FakePath[] = []): FakePath {
  const hashPart = nixBase32.encode(randomBytes(20))
  const baseName = `${hashPart}-${name}`
  const storePath = `/nix/store/${baseName}`
  const bytes = randomBytes(size)
  const narHash = formatSha256(createHash('sha256').update(bytes).digest())
  const narKey = narHash.slice('sha256:'.length)
  const refs = references.map((r) => r.storePath)
  const sig = signDetached(TEST_KEY, fingerprint({ storePath, narHash, narSize: size, references: refs }))
  const narinfo =
    `StorePath: ${storePath}\nURL: nar/${narKey}.nar\nCompression: none\nFileHash: ${narHash}\n` +
    `FileSize: ${size}\nNarHash: ${narHash}\nNarSize: ${size}\n` +
    `References: ${references.map((r) => r.baseName).join(' ')}\nSig: ${sig}\n`
  return { storePath, baseName, hashPart, bytes, narHash, narKey, narinfo }
}

export interface Reply {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: Buffer
}

/**
 * GET a path and say how the response ended: `complete N` after N body bytes, or `cut N` when the connection was
 * cut after N (`cut` when it failed before any response).
 */
export function getOutcome(base: string, path: string): Promise<string> {
  return new Promise((resolve) => {
    const req = request(`${base}${path}`, (res) => {
      let n = 0
      res.on('data', (d: Buffer) => {
        n += d.length
      })
      res.on('end', () => resolve(`complete ${n}`))
      res.on('error', () => resolve(`cut ${n}`))
      res.on('aborted', () => resolve(`cut ${n}`))
    })
    req.on('error', () => resolve('cut'))
    req.end()
  })
}

/** One HTTP request over a fresh connection. */
export function get(
  base: string,
  path: string,
  opts: { method?: string; headers?: Record<string, string> } = {}
): Promise<Reply> {
  const url = new URL(base)
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path,
        method: opts.method ?? 'GET',
        headers: opts.headers,
        agent: false
      },
      (res) => {
        const parts: Buffer[] = []
        res.on('data', (d: Buffer) => parts.push(d))
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts) })
        )
        res.on('error', reject)
      }
    )
    req.on('error', reject)
    req.end()
  })
}

/**
 * Send raw bytes and return the status of the first response (0 when the server closed without answering),
 * the raw head, and whether the connection was closed by the server.
 */
export function raw(
  base: string,
  text: string | Buffer,
  timeoutMs = 10_000
): Promise<{ status: number; head: string }> {
  const url = new URL(base)
  return new Promise((resolve, reject) => {
    const sock = connect(Number(url.port), url.hostname)
    let data = ''
    const timer = setTimeout(() => {
      sock.destroy()
      reject(new Error(`no answer to ${JSON.stringify(text.toString().slice(0, 80))}`))
    }, timeoutMs)
    const finish = () => {
      clearTimeout(timer)
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data)
      resolve({ status: m === null ? 0 : Number(m[1]), head: data.split('\r\n\r\n')[0]! })
      sock.destroy()
    }
    sock.setEncoding('latin1')
    sock.on('data', (d: string) => {
      data += d
      if (data.includes('\r\n\r\n')) finish()
    })
    sock.on('end', finish)
    sock.on('error', finish)
    sock.write(text)
  })
}

/**
 * A NarSource over NARs held in memory, implementing the contract the swarm downloader fulfils (verified bytes,
 * in order, `open` resolving with the first bytes ready). It lets the tests drive what a network cannot be made
 * to do on cue: hold after the first chunk, fail mid-stream, record what the shim asked for.
 */
export class MemorySource {
  readonly name = 'memory'
  readonly nars = new Map<string, Buffer>()
  readonly requests: { narHash: string; manifestRoot?: string }[] = []
  chunkSize = 64 * 1024
  /** When set, the stream stops after this many bytes until `release()`. */
  holdAfter: number | undefined
  /** When set, the stream fails after this many bytes. */
  failAfter: number | undefined
  #release: (() => void) | undefined
  #gate: Promise<void> | undefined

  add(p: FakePath): void {
    this.nars.set(p.narHash, p.bytes)
  }

  hold(after: number): void {
    this.holdAfter = after
    this.#gate = new Promise((resolve) => {
      this.#release = resolve
    })
  }

  release(): void {
    this.#release?.()
  }

  async has(req: { narHash: string }): Promise<boolean> {
    return this.nars.has(req.narHash)
  }

  async open(req: { narHash: string; manifestRoot?: string }) {
    this.requests.push(
      req.manifestRoot === undefined
        ? { narHash: req.narHash }
        : { narHash: req.narHash, manifestRoot: req.manifestRoot }
    )
    const bytes = this.nars.get(req.narHash)
    if (bytes === undefined) {
      const { NarNotFoundError } = await import('../src/errors.js')
      throw new NarNotFoundError('not in memory')
    }
    const self = this
    async function* stream() {
      for (let off = 0; off < bytes!.length; off += self.chunkSize) {
        if (self.failAfter !== undefined && off >= self.failAfter) throw new Error('peer went away')
        if (self.holdAfter !== undefined && off >= self.holdAfter) await self.#gate
        yield bytes!.subarray(off, off + self.chunkSize)
      }
    }
    return { stream: stream(), verified: true }
  }
}
