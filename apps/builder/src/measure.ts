/**
 * Measure a store path the way a seeder and a shim will see it: serialise it as a NAR (@narthex/nix `dumpPath`,
 * streaming; the same bytes as `nix-store --dump`), and in the same pass compute NarHash, NarSize and the chunk
 * manifest root (@narthex/content `ingestNar`), and optionally scan for references.
 */
import { type IngestResult, ingestNar } from '@narthex/content'
import { dumpPath } from '@narthex/nix'
import { ReferenceScanner } from './references.js'

export interface Measurement {
  /** `sha256:<nix32>`. */
  readonly narHash: string
  readonly narSize: number
  /** Manifest root CID, canonical string. */
  readonly manifestRoot: string
  /** With `scanFor`: the candidates found in the NAR, sorted. */
  readonly references?: readonly string[]
  readonly ingest: IngestResult
}

export interface MeasureOptions {
  /** Full store paths to look for in the NAR (reference scanning). */
  readonly scanFor?: Iterable<string>
  /**
   * Read files with blocking system calls (faster on many small files, but stalls the event loop per read):
   * right for the CLI, which does nothing else meanwhile. Default false.
   */
  readonly blocking?: boolean
  readonly signal?: AbortSignal
}

export async function measurePath(path: string, opts: MeasureOptions = {}): Promise<Measurement> {
  const scanner = opts.scanFor === undefined ? undefined : new ReferenceScanner(opts.scanFor)
  const source = dumpPath(path, { blocking: opts.blocking === true, signal: opts.signal })
  const tee = scanner === undefined ? source : scanning(source, scanner)
  const ingest = await ingestNar(tee, { signal: opts.signal })
  return {
    narHash: ingest.narHash,
    narSize: ingest.narSize,
    manifestRoot: ingest.root.toString(),
    ...(scanner === undefined ? {} : { references: scanner.found() }),
    ingest
  }
}

async function* scanning(
  source: AsyncIterable<Uint8Array>,
  scanner: ReferenceScanner
): AsyncGenerator<Uint8Array> {
  for await (const piece of source) {
    scanner.feed(piece)
    yield piece
  }
}
