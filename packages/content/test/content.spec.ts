import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import * as dagCbor from '@ipld/dag-cbor'
import { formatHash, parseHash } from '@narthex/nix'
import fc from 'fast-check'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { GEAR_WASM_BASE64 } from '../src/gear-wasm.js'
import {
  CHUNKER,
  CHUNKERS,
  type Chunk,
  type ChunkerParams,
  chunkBytes,
  chunkCid,
  DAG_CBOR_CODE,
  decodeManifest,
  encodeManifest,
  FastCdc,
  GEAR,
  HashWorkers,
  ingestNar,
  MAX_CHUNK_SIZE,
  MAX_MANIFEST_BYTES,
  type Manifest,
  manifestRoot,
  narCidFromNarHash,
  narHashFromCid,
  parseRawCid,
  verifyChunk,
  verifyManifest
} from '../src/index.js'

/** Deterministic pseudo-random bytes: SHA-256 in counter mode. */
function detBytes(n: number, seed: string): Buffer {
  const out = Buffer.alloc(Math.ceil(n / 32) * 32)
  for (let i = 0, k = 0; i < n; i += 32, k++) createHash('sha256').update(`${seed}${k}`).digest().copy(out, i)
  return out.subarray(0, n)
}

async function* pieces(data: Uint8Array, sizes: readonly number[] = [65536]): AsyncGenerator<Uint8Array> {
  let i = 0
  let k = 0
  while (i < data.length) {
    const n = Math.max(1, sizes[k++ % sizes.length]!)
    yield data.subarray(i, i + n)
    i += n
  }
}

const sha256 = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest()
const SMALL: ChunkerParams = { name: 'test-small', minSize: 64, avgSize: 256, maxSize: 1024 }

describe('NAR CIDs', () => {
  it('maps the NarHash of the empty string to the well-known CID of empty raw bytes', () => {
    const narHash = formatHash({ algorithm: 'sha256', digest: sha256(new Uint8Array()) })
    const cid = narCidFromNarHash(narHash)
    // The CIDv1(raw, sha2-256) of zero bytes, as `ipfs add --cid-version 1 --raw-leaves` prints it.
    assert.equal(cid.toString(), 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku')
    assert.equal(narHashFromCid(cid), narHash)
  })

  it('accepts every sha256 form Nix prints and gives back the nix32 form', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (digest) => {
        const nix32 = formatHash({ algorithm: 'sha256', digest })
        for (const form of ['nix32', 'base16', 'base64', 'sri'] as const) {
          const cid = narCidFromNarHash(formatHash({ algorithm: 'sha256', digest }, form))
          assert.equal(narHashFromCid(cid), nix32)
          assert.equal(narHashFromCid(parseRawCid(cid.toString())), nix32)
        }
      })
    )
  })

  it('rejects CIDs that are not CIDv1(raw, sha2-256) and hashes that are not sha256', () => {
    const digest = sha256(Buffer.from('x'))
    const dag = CID.createV1(DAG_CBOR_CODE, Digest.create(0x12, digest))
    assert.throws(() => narHashFromCid(dag), { name: 'InvalidCidError' })
    const v0 = CID.createV0(Digest.create(0x12, digest))
    assert.throws(() => narHashFromCid(v0 as unknown as CID), { name: 'InvalidCidError' })
    const sha512 = CID.createV1(0x55, Digest.create(0x13, new Uint8Array(64)))
    assert.throws(() => narHashFromCid(sha512), { name: 'InvalidCidError' })
    assert.throws(() => parseRawCid('not-a-cid'), { name: 'InvalidCidError' })
    assert.throws(() => narCidFromNarHash(formatHash({ algorithm: 'sha1', digest: new Uint8Array(20) })), {
      name: 'InvalidHashError'
    })
  })

  it('gives chunks the CID of their bytes and verifies them', () => {
    const bytes = detBytes(1000, 'chunk')
    const cid = chunkCid(bytes)
    assert.equal(Buffer.from(cid.multihash.digest).toString('hex'), sha256(bytes).toString('hex'))
    verifyChunk(cid, bytes)
    const bad = Buffer.from(bytes)
    bad[500]! ^= 1
    assert.throws(() => verifyChunk(cid, bad), { name: 'ChunkHashMismatchError' })
    assert.throws(() => verifyChunk(cid, bytes.subarray(1)), { name: 'ChunkHashMismatchError' })
  })
})

describe('FastCDC', () => {
  it('uses the gear table derived from SHA-256 as documented', () => {
    // Values from `printf 'narthex fastcdc gear v1 0' | sha256sum` etc., first four bytes.
    assert.equal(GEAR[0], 0xca528bd2)
    for (const i of [1, 100, 255]) {
      assert.equal(GEAR[i], sha256(Buffer.from(`narthex fastcdc gear v1 ${i}`)).readUInt32BE(0))
    }
  })

  it('cuts a fixed input at the pinned places (guards the versioned parameters)', () => {
    // If this fails, the chunker changed: every chunk id in the network changes with it. Make a new chunker
    // name instead of editing CHUNKER.
    const sizes = chunkBytes(detBytes(1 << 20, 'narthex content test vector '), CHUNKER).map((c) => c.length)
    assert.deepEqual(
      sizes,
      [78336, 53419, 75093, 72671, 116193, 41359, 88220, 76298, 81794, 71319, 76820, 81059, 87953, 48042]
    )
  })

  it('cuts the same in WebAssembly (pieces of 16 KiB and more) as in JavaScript (smaller pieces)', () => {
    const data = detBytes(6 << 20, 'wasm and js')
    for (const params of [CHUNKER, CHUNKERS['fastcdc-v1-16k']!, SMALL]) {
      const cuts = (pieceSize: number) => {
        const cdc = new FastCdc(params)
        const sizes: number[] = []
        for (let i = 0; i < data.length; i += pieceSize) {
          for (const c of cdc.push(data.subarray(i, i + pieceSize))) sizes.push(c.length)
        }
        sizes.push(cdc.finish()?.length ?? 0)
        return sizes
      }
      const js = cuts(16 * 1024 - 1)
      assert.deepEqual(cuts(1 << 20), js) // WebAssembly
      assert.deepEqual(cuts(5 << 20), js) // WebAssembly, the piece scanned in parts
      assert.deepEqual(cuts(100_003), js)
    }
  })

  it('runs the WebAssembly that gear.wat compiles to', async () => {
    const wabt = await (await import('wabt')).default()
    const wat = readFileSync(new URL('../src/gear.wat', import.meta.url), 'utf8')
    const { buffer } = wabt.parseWat('gear.wat', wat).toBinary({})
    assert.equal(Buffer.from(buffer).toString('base64'), GEAR_WASM_BASE64)
  })

  it('finds the same chunks however the stream is split, within the size limits', () => {
    const data = detBytes(20_000, 'split')
    const whole = chunkBytes(data, SMALL)
    assert.deepEqual(Buffer.concat(whole), data)
    whole.slice(0, -1).forEach((c) => {
      assert.ok(c.length >= SMALL.minSize && c.length <= SMALL.maxSize, `chunk of ${c.length}`)
    })
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 20 }), (sizes) => {
        const cdc = new FastCdc(SMALL)
        const got: Uint8Array[] = []
        let i = 0
        let k = 0
        while (i < data.length) {
          const n = sizes[k++ % sizes.length]!
          got.push(...cdc.push(data.subarray(i, i + n)))
          i += n
        }
        const last = cdc.finish()
        if (last) got.push(last)
        assert.deepEqual(
          got.map((c) => Buffer.from(c).toString('hex')),
          whole.map((c) => Buffer.from(c).toString('hex'))
        )
      }),
      { numRuns: 50 }
    )
  })

  it('cuts at maxSize when no cut point is found (constant input)', () => {
    const data = new Uint8Array(5000)
    const sizes = chunkBytes(data, SMALL).map((c) => c.length)
    assert.deepEqual(sizes, [1024, 1024, 1024, 1024, 904])
  })

  it('resynchronises after an insertion: chunks after the edit are shared', () => {
    const data = detBytes(200_000, 'resync')
    const edited = Buffer.concat([data.subarray(0, 1000), Buffer.from('inserted bytes'), data.subarray(1000)])
    const ids = (b: Uint8Array) => chunkBytes(b, SMALL).map((c) => sha256(c).toString('hex'))
    const before = new Set(ids(data))
    const after = ids(edited)
    const fresh = after.filter((id) => !before.has(id))
    // Only the chunks around the edit change (a few, out of ~700).
    assert.ok(fresh.length <= 5, `${fresh.length} of ${after.length} chunks changed`)
    assert.ok(after.slice(10).every((id) => before.has(id)))
  })

  it('rejects inconsistent parameters', () => {
    assert.throws(() => new FastCdc({ name: 'x', minSize: 100, avgSize: 50, maxSize: 1000 }), {
      name: 'InvalidChunkerParamsError'
    })
    assert.throws(() => new FastCdc({ name: '', minSize: 64, avgSize: 64, maxSize: 64 }), {
      name: 'InvalidChunkerParamsError'
    })
  })

  it('keeps CHUNKER among the named chunkers and within MAX_CHUNK_SIZE', () => {
    assert.equal(CHUNKERS[CHUNKER.name], CHUNKER)
    for (const c of Object.values(CHUNKERS)) assert.ok(c.maxSize <= MAX_CHUNK_SIZE)
  })
})

describe('manifests', () => {
  const chunkOf = (s: string) => ({ cid: chunkCid(Buffer.from(s)), size: s.length })
  const sample: Manifest = {
    version: 1,
    chunker: CHUNKER.name,
    narHash: formatHash({ algorithm: 'sha256', digest: sha256(Buffer.from('abcdef')) }),
    narSize: 6,
    chunks: [chunkOf('abc'), chunkOf('def')]
  }

  it('round-trips and has a stable root', () => {
    const bytes = encodeManifest(sample)
    const back = decodeManifest(bytes)
    assert.deepEqual(
      back.chunks.map((c) => [c.cid.toString(), c.size]),
      sample.chunks.map((c) => [c.cid.toString(), c.size])
    )
    assert.equal(back.narHash, sample.narHash)
    assert.equal(manifestRoot(bytes).code, DAG_CBOR_CODE)
    assert.equal(manifestRoot(encodeManifest(back)).toString(), manifestRoot(bytes).toString())
  })

  it('round-trips any valid manifest', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.integer({ min: 1, max: 262144 })),
          {
            maxLength: 30
          }
        ),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (entries, narDigest) => {
          const m: Manifest = {
            version: 1,
            chunker: CHUNKER.name,
            narHash: formatHash({ algorithm: 'sha256', digest: narDigest }),
            narSize: entries.reduce((a, [, n]) => a + n, 0),
            chunks: entries.map(([d, size]) => ({ cid: CID.createV1(0x55, Digest.create(0x12, d)), size }))
          }
          const bytes = encodeManifest(m)
          assert.deepEqual(encodeManifest(decodeManifest(bytes)), bytes)
        }
      ),
      { numRuns: 100 }
    )
  })

  const raw = (obj: Record<string, unknown>) => dagCbor.encode(obj)
  const base = () => ({
    version: 1,
    chunker: CHUNKER.name,
    narHash: sample.narHash,
    narSize: 6,
    chunks: sample.chunks.map((c) => [c.cid, c.size])
  })

  const cases: Array<[string, Record<string, unknown>]> = [
    ['a missing key', (({ chunker: _, ...rest }) => rest)(base())],
    ['an extra key', { ...base(), extra: 1 }],
    ['version 2', { ...base(), version: 2 }],
    ['an empty chunker name', { ...base(), chunker: '' }],
    ['a base16 NarHash', { ...base(), narHash: formatHash(parseHash(sample.narHash), 'base16') }],
    ['a NarHash that is not a hash', { ...base(), narHash: 'sha256:xyz' }],
    ['a negative narSize', { ...base(), narSize: -1 }],
    ['sizes not adding up to narSize', { ...base(), narSize: 7 }],
    ['a zero-size chunk', { ...base(), chunks: [[sample.chunks[0]!.cid, 0]], narSize: 0 }],
    [
      'a chunk larger than MAX_CHUNK_SIZE',
      { ...base(), chunks: [[sample.chunks[0]!.cid, MAX_CHUNK_SIZE + 1]], narSize: MAX_CHUNK_SIZE + 1 }
    ],
    ['a chunk that is not a pair', { ...base(), chunks: [[sample.chunks[0]!.cid]] }],
    [
      'a chunk without a CID',
      {
        ...base(),
        chunks: [
          ['abc', 3],
          ['def', 3]
        ]
      }
    ],
    [
      'a chunk CID that is not raw',
      { ...base(), chunks: [[CID.createV1(DAG_CBOR_CODE, sample.chunks[0]!.cid.multihash), 6]] }
    ],
    ['a list instead of a map', [1, 2] as unknown as Record<string, unknown>]
  ]
  for (const [what, obj] of cases) {
    it(`rejects a manifest with ${what}`, () => {
      assert.throws(() => decodeManifest(raw(obj)), { name: 'InvalidManifestError' })
    })
  }

  it('rejects bytes that are not canonical DAG-CBOR, and garbage', () => {
    const bytes = Buffer.from(encodeManifest(sample))
    // narSize 6 is encoded as the single byte 0x06; a two-byte form (0x18 0x06) decodes to the same value.
    const at = bytes.indexOf(Buffer.from('narSize')) + 'narSize'.length
    assert.equal(bytes[at], 6)
    const longForm = Buffer.concat([bytes.subarray(0, at), Buffer.from([0x18, 6]), bytes.subarray(at + 1)])
    assert.throws(() => decodeManifest(longForm), { name: 'InvalidManifestError' })
    assert.throws(() => decodeManifest(Buffer.from('hello')), { name: 'InvalidManifestError' })
    assert.throws(() => decodeManifest(new Uint8Array()), { name: 'InvalidManifestError' })
  })

  it('rejects a manifest larger than MAX_MANIFEST_BYTES before decoding it', () => {
    assert.throws(() => decodeManifest(new Uint8Array(MAX_MANIFEST_BYTES + 1)), {
      name: 'ManifestTooLargeError'
    })
  })

  it('throws only typed errors on mutated or truncated input (fuzz)', () => {
    const bytes = encodeManifest(sample)
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: bytes.length - 1 }),
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 0, max: bytes.length }),
        (at, value, cut) => {
          const mutated = Buffer.from(bytes)
          mutated[at] = value
          for (const b of [mutated, mutated.subarray(0, cut)]) {
            try {
              decodeManifest(b)
            } catch (err) {
              assert.ok(['InvalidManifestError'].includes((err as Error).name), (err as Error).name)
            }
          }
        }
      ),
      { numRuns: 500 }
    )
  })

  it('verifies a manifest against its root and the NarHash/NarSize it claims', () => {
    const bytes = encodeManifest(sample)
    const root = manifestRoot(bytes)
    assert.equal(verifyManifest(bytes, root, { narHash: sample.narHash, narSize: 6 }).narSize, 6)
    // Any sha256 form of the same NarHash is the same NarHash.
    verifyManifest(bytes, root, { narHash: formatHash(parseHash(sample.narHash), 'sri') })
    const other = encodeManifest({ ...sample, chunker: 'other' })
    assert.throws(() => verifyManifest(other, root), { name: 'ManifestRootMismatchError' })
    assert.throws(() => verifyManifest(bytes, root, { narSize: 7 }), { name: 'NarSizeMismatchError' })
    const wrongHash = formatHash({ algorithm: 'sha256', digest: sha256(Buffer.from('x')) })
    assert.throws(() => verifyManifest(bytes, root, { narHash: wrongHash }), { name: 'NarHashMismatchError' })
    assert.throws(() => verifyManifest(bytes, chunkCid(bytes)), { name: 'InvalidCidError' })
  })
})

describe('ingestNar', () => {
  it('yields NarHash, NarSize, in-order chunks and the manifest in one pass', async () => {
    const data = detBytes(1 << 20, 'narthex content test vector ')
    const seen: Chunk[] = []
    const r = await ingestNar(pieces(data, [100_000, 7, 65536]), { onChunk: (c) => void seen.push(c) })
    assert.equal(r.narHash, formatHash({ algorithm: 'sha256', digest: sha256(data) }))
    assert.equal(r.narSize, data.length)
    assert.equal(r.manifest.chunker, CHUNKER.name)
    assert.deepEqual(Buffer.concat(seen.map((c) => c.bytes)), data)
    let offset = 0
    seen.forEach((c, i) => {
      assert.equal(c.offset, offset)
      verifyChunk(c.cid, c.bytes)
      assert.equal(r.manifest.chunks[i]!.cid.toString(), c.cid.toString())
      offset += c.bytes.length
    })
    assert.deepEqual(r.manifestBytes, encodeManifest(r.manifest))
    assert.equal(r.root.toString(), manifestRoot(r.manifestBytes).toString())
    // Pinned: the same input must give the same manifest root on every machine and every release.
    assert.equal(r.root.toString(), 'bafyreiafpq6uzecxxz4z6qocuyjnj5seknkxbm54jkgujqhybdcxb45bxq')
    verifyManifest(r.manifestBytes, r.root, { narHash: r.narHash, narSize: r.narSize })
  })

  it('handles an empty NAR and one smaller than minSize', async () => {
    const empty = await ingestNar(pieces(new Uint8Array()))
    assert.equal(empty.narSize, 0)
    assert.equal(empty.manifest.chunks.length, 0)
    const tiny = await ingestNar(pieces(Buffer.from('tiny')))
    assert.equal(tiny.manifest.chunks.length, 1)
    assert.equal(tiny.manifest.chunks[0]!.size, 4)
  })

  it('ends with the error of onChunk or of the source, and honours an abort signal', async () => {
    const data = detBytes(300_000, 'errors')
    await assert.rejects(
      ingestNar(pieces(data), {
        onChunk: () => {
          throw new RangeError('disk full')
        }
      }),
      { name: 'RangeError' }
    )
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield data.subarray(0, 1000)
      throw new URIError('connection reset')
    }
    await assert.rejects(ingestNar(failing()), { name: 'URIError' })
    const controller = new AbortController()
    await assert.rejects(
      ingestNar(pieces(data, [1000]), {
        params: SMALL,
        signal: controller.signal,
        onChunk: () => controller.abort()
      }),
      { name: 'AbortError' }
    )
  })

  describe('with HashWorkers', () => {
    let workers: HashWorkers
    beforeEach(() => {
      workers = new HashWorkers()
      workers.start()
    })
    afterEach(async () => {
      await workers.stop()
    })

    it('gives the same NarHash, chunks and manifest as hashing on this thread, however the NAR is split', async () => {
      // Larger than HASH_WORKERS_MIN_BYTES, so the workers are used; odd piece sizes make chunks span pieces.
      const data = detBytes(9 << 20, 'workers')
      const plain = await ingestNar(pieces(data, [1 << 20]))
      for (const sizes of [[1 << 20], [100_000, 7, 65536, 3 << 20], [5 << 20]]) {
        const seen: Chunk[] = []
        const r = await ingestNar(pieces(data, sizes), {
          hashWorkers: workers,
          onChunk: (c) => void seen.push(c)
        })
        assert.equal(r.narHash, formatHash({ algorithm: 'sha256', digest: sha256(data) }))
        assert.equal(r.root.toString(), plain.root.toString())
        assert.deepEqual(Buffer.concat(seen.map((c) => c.bytes)), data)
        for (const c of seen) verifyChunk(c.cid, c.bytes)
      }
    })

    it('with holdChunks, lends views of reused shared memory until each chunk is released', async () => {
      // 48 MiB: more than the ring, so it wraps and is reused while chunks are still held by the caller.
      const data = detBytes(48 << 20, 'ring')
      const held: Chunk[] = []
      let heldMost = 0
      let delivered = 0
      let shared = 0
      const check = (c: Chunk) => {
        verifyChunk(c.cid, c.bytes) // the bytes are still the chunk's until it is released
        assert.ok(Buffer.from(c.bytes).equals(data.subarray(c.offset, c.offset + c.bytes.length)))
        c.release()
        c.release() // a second release does nothing
      }
      const r = await ingestNar(pieces(data, [1 << 20, 300_000, 5 << 20]), {
        hashWorkers: workers,
        holdChunks: true,
        onChunk: (c) => {
          if (c.bytes.buffer instanceof SharedArrayBuffer) shared++
          held.push(c)
          heldMost = Math.max(heldMost, held.length)
          // Release out of order: every 7th at once, the others once 40 are held (the oldest first).
          if (++delivered % 7 === 0) check(held.pop()!)
          if (held.length >= 40) check(held.shift()!)
        }
      })
      for (const c of held) check(c)
      assert.equal(r.narHash, formatHash({ algorithm: 'sha256', digest: sha256(data) }))
      assert.equal(r.narSize, data.length)
      assert.ok(heldMost >= 30)
      // Views of the ring, except the few chunks that span its wrap-around (copies).
      assert.ok(shared >= delivered - 5, `${shared} of ${delivered} chunks in shared memory`)
      // The ring was given back and is what the next ingest gets.
      const ring = workers.takeRing()
      assert.equal(workers.takeRing() === ring, false)
      // Without holdChunks the chunks are the caller's: plain copies that stay valid.
      const seen: Chunk[] = []
      await ingestNar(pieces(data.subarray(0, 12 << 20), [1 << 20]), {
        hashWorkers: workers,
        onChunk: (c) => void seen.push(c)
      })
      assert.equal(seen[0]!.bytes.buffer instanceof SharedArrayBuffer, false)
      assert.deepEqual(Buffer.concat(seen.map((c) => c.bytes)), data.subarray(0, 12 << 20))
    })

    it('runs concurrent ingests on the same workers without mixing them up', async () => {
      const a = detBytes(6 << 20, 'concurrent a')
      const b = detBytes(5 << 20, 'concurrent b')
      const [ra, rb] = await Promise.all([
        ingestNar(pieces(a, [1 << 20]), { hashWorkers: workers }),
        ingestNar(pieces(b, [300_000]), { hashWorkers: workers })
      ])
      assert.equal(ra.narHash, formatHash({ algorithm: 'sha256', digest: sha256(a) }))
      assert.equal(rb.narHash, formatHash({ algorithm: 'sha256', digest: sha256(b) }))
      assert.equal(ra.root.toString(), (await ingestNar(pieces(a))).root.toString())
    })

    it('fails with HashWorkerError when the workers stop mid-ingest, and with the source error otherwise', async () => {
      const data = detBytes(8 << 20, 'stopped')
      let n = 0
      await assert.rejects(
        ingestNar(pieces(data, [1 << 20]), {
          hashWorkers: workers,
          onChunk: async () => {
            if (n++ === 80) await workers.stop()
          }
        }),
        { name: 'HashWorkerError' }
      )
      workers.start()
      async function* failing(): AsyncGenerator<Uint8Array> {
        yield* pieces(data, [1 << 20])
        throw new URIError('connection reset')
      }
      await assert.rejects(ingestNar(failing(), { hashWorkers: workers }), { name: 'URIError' })
      const ok = await ingestNar(pieces(data, [1 << 20]), { hashWorkers: workers })
      assert.equal(ok.narHash, formatHash({ algorithm: 'sha256', digest: sha256(data) }))
    })
  })
})
