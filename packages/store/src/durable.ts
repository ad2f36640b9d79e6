/**
 * Crash-safe file writes: write to a temp file in the same file system, fsync it, rename it into place, and
 * fsync the directory that received it (the rename is durable only then). A reader never sees a partial file:
 * the final name either does not exist or names complete bytes.
 */
import { randomBytes } from 'node:crypto'
import { open, rename, unlink } from 'node:fs/promises'
import { join } from 'node:path'

let counter = 0

/** A fresh temp file name in `tmpDir`. */
export function tempName(tmpDir: string): string {
  counter = (counter + 1) % 1e9
  return join(tmpDir, `${process.pid}-${counter}-${randomBytes(4).toString('hex')}.tmp`)
}

/**
 * Write `bytes` to `path` through a temp file. The directory of `path` still needs an fsync (see syncDir) before
 * the new name survives a power loss; callers batch those.
 */
export async function writeFileAtomic(
  tmpDir: string,
  path: string,
  bytes: Uint8Array,
  opts: { fsync: boolean }
): Promise<void> {
  const tmp = tempName(tmpDir)
  try {
    const fh = await open(tmp, 'wx', 0o644)
    try {
      await fh.writeFile(bytes)
      if (opts.fsync) await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, path)
  } catch (err) {
    await unlink(tmp).catch(() => {})
    throw err
  }
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
