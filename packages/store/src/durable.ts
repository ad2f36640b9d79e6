/**
 * Crash-safe file writes: write to a temp file in the same file system, fsync it, rename it into place, and
 * fsync the directory that received it (the rename is durable only then). A reader never sees a partial file:
 * the final name either does not exist or names complete bytes.
 */
import { randomBytes } from 'node:crypto'
import {
  close,
  fsync,
  open as openCb,
  rename as renameCb,
  statSync,
  unlink as unlinkCb,
  write
} from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'

let counter = 0
/** Random per process (drawn once: a draw per name was ~20 ms of a 4,096-chunk import's main thread). */
let token: string | undefined

/** A fresh temp file name in `tmpDir` (created with O_EXCL, so a clash fails rather than mixes files). */
export function tempName(tmpDir: string): string {
  counter = (counter + 1) % 1e9
  token ??= randomBytes(4).toString('hex')
  return join(tmpDir, `${process.pid}-${token}-${counter}.tmp`)
}

/**
 * Write `bytes` to `path` through a temp file. The directory of `path` still needs an fsync (see syncDir) before
 * the new name survives a power loss; callers batch those.
 *
 * Written with the callback API in one chain: this runs once per chunk, and the promise API's FileHandle costs
 * measurably more main-thread time per call.
 */
export function writeFileAtomic(
  tmpDir: string,
  path: string,
  bytes: Uint8Array,
  opts: { fsync: boolean }
): Promise<void> {
  const tmp = tempName(tmpDir)
  return new Promise((resolve, reject) => {
    const fail = (err: Error, fd?: number) => {
      const cleanup = () => unlinkCb(tmp, () => reject(err))
      if (fd === undefined) cleanup()
      else close(fd, cleanup)
    }
    openCb(tmp, 'wx', 0o644, (err, fd) => {
      if (err) return fail(err)
      const writeFrom = (offset: number): void => {
        write(fd, bytes, offset, bytes.length - offset, null, (err, n) => {
          if (err) return fail(err, fd)
          if (offset + n < bytes.length) return writeFrom(offset + n)
          const finish = () =>
            close(fd, (err) => {
              if (err) return fail(err)
              renameCb(tmp, path, (err) => (err ? fail(err) : resolve()))
            })
          if (!opts.fsync) return finish()
          fsync(fd, (err) => (err ? fail(err, fd) : finish()))
        })
      }
      writeFrom(0)
    })
  })
}

/**
 * Whether a file exists. Synchronous on purpose: a stat of a cached directory entry takes microseconds, far less
 * than a thread-pool round trip plus the Error object an asynchronous ENOENT allocates; it runs once per chunk.
 */
export function fileExists(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false }) !== undefined
}

/** fsync a directory, making the names created or removed in it durable. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}
