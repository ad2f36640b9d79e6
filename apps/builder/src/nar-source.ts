/**
 * The NAR of a path, streamed. Until @narthex/nix's NAR writer (`dumpPath`) is on main this runs the real
 * `nix-store --dump`, which writes exactly the same bytes; it is the one place to switch.
 */
import { spawn } from 'node:child_process'
import { NIX_STDERR_TAIL } from './constants.js'
import { NixCommandError } from './errors.js'

export async function* dumpNar(
  path: string,
  opts: { env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {}
): AsyncGenerator<Uint8Array> {
  const child = spawn('nix-store', ['--dump', path], {
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    signal: opts.signal
  })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-NIX_STDERR_TAIL)
  })
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => resolve(code))
  })
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) yield chunk
  } finally {
    if (child.exitCode === null) child.kill()
  }
  const code = await exited
  if (code !== 0)
    throw new NixCommandError(`nix-store --dump ${path} failed (exit ${code}): ${stderr.trim()}`, code)
}
