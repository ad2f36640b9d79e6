/**
 * Helpers shared by every test that runs real processes: temp directories, the real `nix`, and the built
 * `narthex` CLI. Import from 'test/util/index.js' (relative path) in any spec.
 */
import { execFileSync, type SpawnOptions, spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)))
export const NARTHEX_BIN = join(REPO_ROOT, 'apps/cli/bin/narthex.js')

export interface RunResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: Buffer
  readonly stderr: string
}

export interface RunOptions extends SpawnOptions {
  /** Bytes written to stdin (then closed). Without it stdin is closed at once. */
  readonly input?: Uint8Array | string | NodeJS.ReadableStream
  /** Kill the process after this many milliseconds (default 120 s). */
  readonly timeoutMs?: number
}

/** Run a command to completion, collecting stdout as bytes and stderr as text. Never throws on exit status. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { ...opts, stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    let err = ''
    child.stdout!.on('data', (d: Buffer) => out.push(d))
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d
    })
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000)
    child.on('error', (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolvePromise({ code, signal, stdout: Buffer.concat(out), stderr: err })
    })
    child.stdin!.on('error', () => {}) // the child may exit before reading all input
    const input = opts.input
    if (input === undefined) child.stdin!.end()
    else if (typeof input === 'string' || input instanceof Uint8Array) child.stdin!.end(input)
    else input.pipe(child.stdin!)
  })
}

/** Run and require exit status 0; the error carries stderr. */
export async function runOk(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts)
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.code ?? r.signal}: ${r.stderr.slice(-2000)}`)
  }
  return r
}

/** Run the built `narthex` CLI (the test command builds before testing). */
export function narthex(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return run(process.execPath, [NARTHEX_BIN, ...args], opts)
}

/** A fresh temp directory; remove it with the returned cleanup (call it in afterEach/after). */
export async function tempDir(
  prefix = 'narthex-test-'
): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) }
}

/**
 * A small, empty file system of its own (tmpfs of `size`, e.g. '2m'; needs root) for full-disk tests; `cleanup`
 * unmounts and removes it.
 */
export async function smallDisk(size: string): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const parent = await tempDir('narthex-tmpfs-')
  const path = join(parent.path, 'mnt')
  await mkdir(path)
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', path])
  return {
    path,
    cleanup: async () => {
      execFileSync('umount', [path])
      await parent.cleanup()
    }
  }
}

/** Environment for real-nix commands: NIX_CONFIG from test/setup.ts plus a private XDG_CACHE_HOME. */
export function nixEnv(cacheHome: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, XDG_CACHE_HOME: cacheHome, ...extra }
}

/**
 * Arguments of `nix-store` that realise `path` into the chroot store `store` from `substituter` alone, trusting
 * `trustedKey`; add more `--option`s after them.
 */
export function substituteArgs(
  store: string,
  path: string,
  substituter: string,
  trustedKey: string
): string[] {
  return [
    '--store',
    store,
    '-r',
    path,
    '--option',
    'substituters',
    substituter,
    '--option',
    'trusted-public-keys',
    trustedKey
  ]
}

/**
 * Build a Nix expression with the real `nix-build` and return its output paths. The expression is written to a
 * file in `dir`; use `builder = "/bin/sh"` and `PATH = "/usr/bin:/bin"` for offline builds.
 */
export async function nixBuild(dir: string, expr: string, env?: NodeJS.ProcessEnv): Promise<string[]> {
  const { writeFile } = await import('node:fs/promises')
  const file = join(dir, `expr-${Date.now()}-${Math.random().toString(36).slice(2)}.nix`)
  await writeFile(file, expr)
  const r = await runOk('nix-build', ['--no-out-link', file], { env: env ?? process.env })
  return r.stdout.toString('utf8').trim().split('\n').filter(Boolean)
}

/**
 * Deterministic "random" delays in [min, min + spread) ms (a linear congruential generator), for tests that kill a
 * process at random moments: a failure can be replayed from its seed.
 */
export function* delays(seed: number, min: number, spread: number): Generator<number> {
  let x = seed
  for (;;) {
    x = (x * 1103515245 + 12345) & 0x7fffffff
    yield min + (x % spread)
  }
}

/** Poll `check` until it returns a truthy value or `timeoutMs` passes (then throws with `what`). */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 10_000
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await check()
      if (v) return v as NonNullable<T>
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

/**
 * A full garbage collection, from a process started without --expose-gc. Tests use it to prove that something
 * waiting on a timer or a signal does not depend on an object only weakly held (see @narthex/abort).
 */
export function collectGarbage(): void {
  setFlagsFromString('--expose-gc')
  ;(runInNewContext('gc') as () => void)()
}

/**
 * Run `fn` with mocha's uncaughtException handlers set aside, wait `settleMs` for late events, and return its result
 * with the messages of the errors nothing handled meanwhile (an 'error' event with no listener is one). Tests of
 * crash fixes assert that list is empty: mocha would otherwise blame such an error on whichever test runs next.
 */
export async function uncaughtDuring<T>(
  fn: () => Promise<T>,
  settleMs = 100
): Promise<{ result: T; uncaught: string[] }> {
  const uncaught: string[] = []
  const onUncaught = (err: Error): void => void uncaught.push(err.message)
  const mochaHandlers = process.listeners('uncaughtException')
  process.removeAllListeners('uncaughtException')
  process.on('uncaughtException', onUncaught)
  try {
    const result = await fn()
    await new Promise((r) => setTimeout(r, settleMs))
    return { result, uncaught }
  } finally {
    process.off('uncaughtException', onUncaught)
    for (const h of mochaHandlers) process.on('uncaughtException', h)
  }
}
