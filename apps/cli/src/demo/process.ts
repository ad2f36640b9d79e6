/**
 * Child processes of the demo: each program is the same `narthex` binary started as a child, its output written
 * to a log file (and scanned for readiness lines), stopped with SIGTERM then SIGKILL after a deadline.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createWriteStream, type WriteStream } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The CLI entry point the demo runs its children with (this very binary). */
export const NARTHEX_BIN = fileURLToPath(new URL('../../bin/narthex.js', import.meta.url))

/** A failure of one of the demo's programs: it exited early, printed no readiness line in time, or failed. */
export class DemoChildError extends Error {
  override readonly name = 'DemoChildError'
}

export interface ChildOptions {
  readonly name: string
  readonly args: readonly string[]
  readonly logDir: string
  readonly env: NodeJS.ProcessEnv
}

/** One long-lived program: its process, its log, and the lines it has printed so far. */
export class Child {
  readonly name: string
  readonly proc: ChildProcess
  readonly logFile: string
  readonly exited: Promise<number | null>
  private readonly log: WriteStream
  private readonly lines: string[] = []
  private readonly waiters = new Set<() => void>()
  private exitCode: number | null | undefined

  constructor(opts: ChildOptions) {
    this.name = opts.name
    this.logFile = join(opts.logDir, `${opts.name}.log`)
    this.log = createWriteStream(this.logFile, { flags: 'a' })
    // A log that cannot be written (a full disk, a file left by another user) must not stop the demo: its lines
    // are still kept in memory for waitForLine, and the program runs on.
    this.log.on('error', () => {})
    this.writeLog(`--- ${new Date().toISOString()} narthex ${opts.args.join(' ')}\n`)
    // Its own process group: the demo stops children in order, not all at once on the terminal's Ctrl-C.
    this.proc = spawn(process.execPath, [NARTHEX_BIN, ...opts.args], {
      env: opts.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true
    })
    let partial = ''
    this.proc.stdout?.on('data', (b: Buffer) => {
      this.writeLog(b)
      const text = partial + b.toString('utf8')
      const parts = text.split('\n')
      partial = parts.pop() ?? ''
      for (const l of parts) this.lines.push(l)
      this.wake()
    })
    this.proc.stderr?.on('data', (b: Buffer) => this.writeLog(b))
    this.exited = new Promise((resolve) => {
      this.proc.on('error', (err) => {
        this.writeLog(`spawn error: ${err.message}\n`)
        this.exitCode = null
        this.wake()
        resolve(null)
      })
      this.proc.on('exit', (code, signal) => {
        this.writeLog(`--- exited ${code ?? signal}\n`)
        this.exitCode = code
        this.wake()
        resolve(code)
      })
    })
  }

  /** Append to the log unless it failed or was ended (output can still arrive after 'exit'). */
  private writeLog(data: string | Buffer): void {
    if (!this.log.writableEnded && !this.log.destroyed) this.log.write(data)
  }

  get pid(): number | undefined {
    return this.proc.pid
  }

  private wake(): void {
    for (const w of this.waiters) w()
  }

  /** The first printed line matching `pattern` (its match), waiting up to `timeoutMs`. */
  async waitForLine(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      for (const l of this.lines) {
        const m = l.match(pattern)
        if (m) return m
      }
      if (this.exitCode !== undefined)
        throw new DemoChildError(
          `${this.name} exited (${this.exitCode}) before it was ready; see ${this.logFile}`
        )
      const left = deadline - Date.now()
      if (left <= 0)
        throw new DemoChildError(`${this.name} was not ready within ${timeoutMs} ms; see ${this.logFile}`)
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t)
          this.waiters.delete(done)
          resolve()
        }
        const t = setTimeout(done, left)
        this.waiters.add(done)
      })
    }
  }

  /** SIGTERM (to its process group), SIGKILL after `graceMs`; resolves once it has exited. */
  async stop(graceMs: number): Promise<void> {
    if (this.exitCode === undefined && this.proc.pid !== undefined) {
      signalGroup(this.proc.pid, 'SIGTERM')
      const t = setTimeout(() => {
        if (this.proc.pid !== undefined) signalGroup(this.proc.pid, 'SIGKILL')
      }, graceMs)
      await this.exited
      clearTimeout(t)
    }
    if (this.log.destroyed) return
    await new Promise<void>((resolve) => this.log.end(resolve))
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal)
  } catch {
    try {
      process.kill(pid, signal)
    } catch {
      // Already gone.
    }
  }
}

export interface RunResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Run a short command to completion (a `narthex` subcommand when `cmd` is undefined). */
export function runCommand(
  cmd: string | undefined,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  { signal }: { signal?: AbortSignal } = {}
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const file = cmd ?? process.execPath
    const argv = cmd === undefined ? [NARTHEX_BIN, ...args] : [...args]
    const p = spawn(file, argv, { env, stdio: ['ignore', 'pipe', 'pipe'], ...(signal ? { signal } : {}) })
    const out: Buffer[] = []
    const err: Buffer[] = []
    p.stdout.on('data', (b: Buffer) => out.push(b))
    p.stderr.on('data', (b: Buffer) => err.push(b))
    p.on('error', reject)
    p.on('close', (code) =>
      resolve({
        code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8')
      })
    )
  })
}
