/**
 * The narthex programs as real child processes for end-to-end tests: start `narthex <command> ...`, wait until
 * its stdout shows the line(s) that say it is ready, and stop it (SIGTERM, then SIGKILL) in after().
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { NARTHEX_BIN, waitFor } from './index.js'

export interface Program {
  readonly child: ChildProcess
  /** Everything printed on stdout and stderr so far. */
  stdout(): string
  stderr(): string
  /** Resolves with the exit code (null after a signal). */
  readonly exited: Promise<number | null>
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. Safe to call twice. */
  stop(graceMs?: number): Promise<void>
  /** SIGKILL at once (a machine that vanishes); resolves once it has exited. */
  kill(): Promise<void>
}

/**
 * Start `narthex ARGS...` (after `nodeArgs`, node's own flags such as `--cpu-prof`) and wait until `ready` matches its stdout (the match is returned). Throws (and kills
 * it) if it exits first or is not ready within `timeoutMs`.
 */
export async function startProgram(
  args: readonly string[],
  ready: RegExp,
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv; nodeArgs?: readonly string[] } = {}
): Promise<{ program: Program; match: RegExpExecArray }> {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), NARTHEX_BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.env !== undefined ? { env: opts.env } : {})
  })
  let out = ''
  let err = ''
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d
  })
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d
  })
  let done = false
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      done = true
      resolve(code)
    })
  )
  const signal = async (sig: NodeJS.Signals, graceMs: number) => {
    if (done) return
    child.kill(sig)
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
    await exited
    clearTimeout(timer)
  }
  const program: Program = {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    stop: (graceMs = 5_000) => signal('SIGTERM', graceMs),
    kill: () => signal('SIGKILL', 0)
  }
  try {
    const match = await waitFor(
      `narthex ${args[0]} to be ready`,
      () => {
        if (done) throw new Error(`exited before it was ready: ${err.slice(-2000)}`)
        return ready.exec(out)
      },
      opts.timeoutMs ?? 30_000
    )
    return { program, match }
  } catch (e) {
    await program.kill()
    throw e
  }
}
