/**
 * FastCDC content-defined chunking (Xia et al., "FastCDC: a Fast and Efficient Content-Defined Chunking Approach
 * for Data Deduplication", USENIX ATC 2016), with normalized chunking.
 *
 * The rolling hash is the 32-bit Gear hash `h = (h << 1) + GEAR[byte]`: bit k of `h` depends on the last k + 1
 * bytes only, so the masks test the high bits (which see the last 32 bytes). Hashing starts `minSize` bytes into
 * a chunk (nothing before can be a cut point). Between `minSize` and `avgSize` a cut needs `log2(avgSize) + 2`
 * zero bits (`maskS`, harder); from `avgSize` to `maxSize` it needs `log2(avgSize) - 2` (`maskL`, easier); at
 * `maxSize` the chunk is cut regardless. This "normalization level 2" concentrates chunk sizes near `avgSize`.
 *
 * The gear table is derived from SHA-256 (see {@link gearTable}) so that anyone can rebuild it from this text;
 * the table, the masks and the size limits together are what a {@link ChunkerParams} name stands for. Changing any
 * of them changes every chunk id, so it is a new chunker version with a new name.
 *
 * The chunker is synchronous and incremental: {@link FastCdc.push} takes bytes as they arrive, in pieces of any
 * size, and returns the chunks it completed; {@link FastCdc.finish} returns the last one. Chunks lying within one
 * pushed piece are returned as views of it (no copy); chunks that span pieces are copied once, unless the pieces
 * lie back to back in one buffer (then the chunk is a view spanning them).
 */
import { createHash } from 'node:crypto'
import { InvalidChunkerParamsError } from './errors.js'
import { GEAR_WASM_DATA, gearScanner } from './gear-wasm.js'

/**
 * Pieces of at least this many bytes are scanned in WebAssembly (copied into its memory first, ~0.1 ms per MiB):
 * below, the call and the copy cost more than the JavaScript loop saves. 16 KiB.
 */
const WASM_MIN_PIECE = 16 * 1024

/** Pieces larger than this are chunked in parts of this size, the most the WebAssembly memory grows to. 4 MiB. */
const WASM_MAX_PIECE = 4 * 1024 * 1024

/** Parameters of a content-defined chunker. `name` identifies the whole algorithm (table, masks and sizes). */
export interface ChunkerParams {
  readonly name: string
  readonly minSize: number
  readonly avgSize: number
  readonly maxSize: number
}

/**
 * The Gear table of narthex's FastCDC v1: entry i is the first four bytes (big-endian) of
 * SHA-256("narthex fastcdc gear v1 " + i) for i = 0..255, i as decimal text.
 */
export const GEAR: Uint32Array = gearTable('narthex fastcdc gear v1 ')

/** The same table viewed as int32: the hot loop adds it to an int32 without a float conversion. */
const GEAR_I32 = new Int32Array(GEAR.buffer)

function gearTable(seed: string): Uint32Array {
  const table = new Uint32Array(256)
  for (let i = 0; i < 256; i++) {
    table[i] = createHash('sha256').update(`${seed}${i}`).digest().readUInt32BE(0)
  }
  return table
}

/** A mask of `bits` one-bits in the high end of a 32-bit word (as a signed int32, the form `&` produces). */
function highMask(bits: number): number {
  return bits <= 0 ? 0 : (0xffffffff << (32 - bits)) | 0
}

/** Check chunker parameters: powers of two are not required, but min ≤ avg ≤ max and sane bounds are. */
export function checkChunkerParams(p: ChunkerParams): void {
  const ok =
    Number.isInteger(p.minSize) &&
    Number.isInteger(p.avgSize) &&
    Number.isInteger(p.maxSize) &&
    p.minSize >= 64 &&
    p.minSize <= p.avgSize &&
    p.avgSize <= p.maxSize &&
    p.maxSize <= 2 ** 30 &&
    p.name.length > 0
  if (!ok) throw new InvalidChunkerParamsError(`invalid chunker parameters ${JSON.stringify(p)}`)
}

/** Incremental FastCDC over a byte stream. One instance per stream. */
export class FastCdc {
  readonly params: ChunkerParams
  private readonly maskS: number
  private readonly maskL: number
  /** Pieces (views) of the chunk in progress, in order, and their total length. */
  private pending: Uint8Array[] = []
  private pendingLength = 0
  /** Gear hash state over the chunk in progress (meaningful once pendingLength > minSize). */
  private hash = 0

  constructor(params: ChunkerParams) {
    checkChunkerParams(params)
    this.params = params
    const bits = Math.round(Math.log2(params.avgSize))
    this.maskS = highMask(bits + 2)
    this.maskL = highMask(bits - 2)
  }

  /** Feed the next bytes of the stream; returns the chunks completed by them, in order. */
  push(bytes: Uint8Array): Uint8Array[] {
    if (bytes.length <= WASM_MAX_PIECE) return this.pushPart(bytes)
    // In parts, so that the WebAssembly scratch memory stays small; chunks spanning parts are views of `bytes`.
    const out: Uint8Array[] = []
    for (let at = 0; at < bytes.length; at += WASM_MAX_PIECE) {
      for (const c of this.pushPart(bytes.subarray(at, at + WASM_MAX_PIECE))) out.push(c)
    }
    return out
  }

  private pushPart(bytes: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = []
    const { minSize, avgSize, maxSize } = this.params
    const end = bytes.length
    // Pieces worth it are copied into the WebAssembly module's memory and scanned there (see gear-wasm.ts).
    const wasm = end >= WASM_MIN_PIECE ? gearScanner(GEAR) : undefined
    if (wasm !== undefined) wasm.room(end).set(bytes)
    let start = 0 // first byte of `bytes` not yet assigned to an emitted chunk
    while (start < end) {
      // n: bytes of the current chunk before bytes[start] (held in `pending`)
      const n = this.pendingLength
      const available = end - start
      // Offsets below are relative to the start of the current chunk.
      if (n + available <= minSize) break
      const limit = Math.min(n + available, maxSize)
      let i = Math.max(n, minSize)
      let h = n > minSize ? this.hash : 0
      const base = start - n // index in `bytes` of chunk offset 0 (may be negative)
      let cut = -1
      const normal = Math.min(avgSize, limit)
      const maskS = this.maskS
      const maskL = this.maskL
      if (wasm !== undefined) {
        // The same two loops as below, in WebAssembly; addresses are base + offset + GEAR_WASM_DATA.
        const at = base + GEAR_WASM_DATA
        wasm.h.value = h
        let c = i < normal ? wasm.scan(at + i, at + normal, maskS) : -1
        if (c < 0) c = wasm.scan(at + Math.max(i, normal), at + limit, maskL)
        h = wasm.h.value as number
        if (c >= 0) cut = c - at
      } else {
        const gear = GEAR_I32
        // Two bytes per iteration (fewer loop checks); the cut test still runs after every byte.
        for (; i + 1 < normal; i += 2) {
          h = ((h << 1) + gear[bytes[base + i]!]!) | 0
          if ((h & maskS) === 0) {
            cut = i + 1
            break
          }
          h = ((h << 1) + gear[bytes[base + i + 1]!]!) | 0
          if ((h & maskS) === 0) {
            cut = i + 2
            break
          }
        }
        if (cut < 0 && i < normal) {
          h = ((h << 1) + gear[bytes[base + i]!]!) | 0
          i++
          if ((h & maskS) === 0) cut = i
        }
        if (cut < 0) {
          for (; i < limit; i++) {
            h = ((h << 1) + gear[bytes[base + i]!]!) | 0
            if ((h & maskL) === 0) {
              cut = i + 1
              break
            }
          }
        }
      }
      if (cut < 0 && limit === maxSize) cut = maxSize
      if (cut < 0) {
        // No cut in these bytes: keep them and the hash state for the next push.
        this.hash = h
        break
      }
      out.push(this.take(bytes, start, base + cut))
      start = base + cut
    }
    if (start < end) {
      this.pending.push(start === 0 ? bytes : bytes.subarray(start))
      this.pendingLength += end - start
    }
    return out
  }

  /** End of stream: the final (possibly short) chunk, or undefined when nothing is pending. */
  finish(): Uint8Array | undefined {
    if (this.pendingLength === 0) return undefined
    const chunk = joined(this.pending, this.pendingLength)
    this.reset()
    return chunk
  }

  /** The chunk made of everything pending plus bytes[from, to). */
  private take(bytes: Uint8Array, from: number, to: number): Uint8Array {
    let chunk: Uint8Array
    if (this.pendingLength === 0) chunk = bytes.subarray(from, to)
    else {
      this.pending.push(bytes.subarray(from, to))
      chunk = joined(this.pending, this.pendingLength + to - from)
    }
    this.reset()
    return chunk
  }

  private reset(): void {
    this.pending = []
    this.pendingLength = 0
    this.hash = 0
  }
}

/**
 * One view of `pieces` (of `length` bytes in all): a view spanning them when they lie back to back in the same
 * buffer (pieces copied one after the other into shared memory, see shared-ring.ts), otherwise a copy.
 */
function joined(pieces: readonly Uint8Array[], length: number): Uint8Array {
  const first = pieces[0]!
  if (pieces.length === 1) return first
  let end = first.byteOffset + first.length
  for (let i = 1; i < pieces.length; i++) {
    const p = pieces[i]!
    if (p.buffer !== first.buffer || p.byteOffset !== end) return Buffer.concat(pieces, length)
    end += p.length
  }
  return new Uint8Array(first.buffer, first.byteOffset, length)
}

/** Chunk a whole buffer at once (tests, benchmarks). */
export function chunkBytes(bytes: Uint8Array, params: ChunkerParams): Uint8Array[] {
  const cdc = new FastCdc(params)
  const out = cdc.push(bytes)
  const last = cdc.finish()
  if (last !== undefined) out.push(last)
  return out
}
