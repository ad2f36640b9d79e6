/**
 * Decompression of NAR files from binary caches, streaming.
 *
 * xz, bzip2 and zstd are decoded by the system's own `xz`, `bzip2` and `zstd` programs (Debian's xz-utils, bzip2
 * and zstd packages): they are the reference implementations (the libraries Nix itself links), stream through
 * pipes with backpressure, run on another core in parallel with hashing and chunking, and need no npm package
 * with native or downloaded binaries. The npm alternatives that install without binaries are pure JS or wasm
 * (fzstd, xz-decompress, unbzip2-stream): one package per format, run on the main thread where they compete with
 * hashing, and not the code Nix uses. gzip and brotli come with Node's zlib. A missing program is a clear
 * DecompressorMissingError naming the package to install.
 */
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createBrotliDecompress, createGunzip } from 'node:zlib'
import {
  CorruptCompressedDataError,
  DecompressorMissingError,
  UnsupportedCompressionError
} from '../errors.js'
import { spawnStream } from './process.js'

/** Compression names as narinfo `Compression:` spells them. */
export const SUPPORTED_COMPRESSIONS = ['none', 'xz', 'bzip2', 'zstd', 'gzip', 'br'] as const

const PROGRAMS: Record<string, { cmd: string; args: string[]; pkg: string }> = {
  xz: { cmd: 'xz', args: ['-dc', '-q'], pkg: 'xz-utils' },
  bzip2: { cmd: 'bzip2', args: ['-dc', '-q'], pkg: 'bzip2' },
  zstd: { cmd: 'zstd', args: ['-dc', '-q'], pkg: 'zstd' }
}

export interface DecompressOptions {
  readonly signal?: AbortSignal
}

/** Decompress `source` compressed with `compression` (a narinfo `Compression` value). */
export function decompress(
  source: AsyncIterable<Uint8Array>,
  compression: string,
  opts: DecompressOptions = {}
): AsyncIterable<Uint8Array> {
  if (compression === 'none' || compression === '') return source
  const program = PROGRAMS[compression]
  if (program !== undefined) {
    return spawnStream(program.cmd, program.args, {
      input: source,
      signal: opts.signal,
      onFailure: ({ error, stderr, code, signal }) => {
        if ((error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
          return new DecompressorMissingError(
            `cannot read ${compression}-compressed NARs: the "${program.cmd}" program is not installed (Debian package ${program.pkg})`
          )
        }
        return new CorruptCompressedDataError(
          `${compression} data is corrupt (${program.cmd} ${signal ? `killed by ${signal}` : `exited ${code}`}: ${stderr || 'no message'})`
        )
      }
    })
  }
  if (compression === 'gzip' || compression === 'br') return zlibStream(source, compression, opts)
  throw new UnsupportedCompressionError(
    `unsupported NAR compression ${JSON.stringify(compression)} (supported: ${SUPPORTED_COMPRESSIONS.join(', ')})`
  )
}

async function* zlibStream(
  source: AsyncIterable<Uint8Array>,
  compression: 'gzip' | 'br',
  opts: DecompressOptions
): AsyncGenerator<Uint8Array> {
  const z = compression === 'gzip' ? createGunzip() : createBrotliDecompress()
  let inputError: unknown
  const feeding = pipeline(Readable.from(source, { objectMode: false }), z, { signal: opts.signal }).catch(
    (err: unknown) => {
      inputError = err
    }
  )
  try {
    for await (const chunk of z) yield chunk as Uint8Array
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code?.startsWith('Z_')) {
      throw new CorruptCompressedDataError(`${compression} data is corrupt: ${(err as Error).message}`, {
        cause: err
      })
    }
    throw inputError ?? err
  } finally {
    z.destroy()
    await feeding
  }
  if (inputError !== undefined) {
    const code = (inputError as NodeJS.ErrnoException).code
    if (code?.startsWith('Z_')) {
      throw new CorruptCompressedDataError(`${compression} data is corrupt: ${(inputError as Error).message}`)
    }
    throw inputError
  }
}
