/**
 * The real `nix`, as the builder uses it: path-info, show-derivation, instantiate, realise. Each call runs the
 * command with the caller's environment (NIX_CONFIG and friends pass through) and turns a failure into a
 * `NixCommandError` carrying the tail of stderr. Output formats handled: Nix 2.8 (Debian's nix-bin) and later.
 */
import { spawn } from 'node:child_process'
import { formatSha256, parseSha256 } from '@narthex/nix'
import createDebug from 'debug'
import { NIX_QUERY_TIMEOUT_MS, NIX_STDERR_TAIL } from './constants.js'
import { NixCommandError, NotInStoreError } from './errors.js'

const log = createDebug('narthex:builder:nix')

export interface NixOptions {
  /** Environment of the nix commands (default: this process's). */
  readonly env?: NodeJS.ProcessEnv
  readonly signal?: AbortSignal
}

interface RunResult {
  readonly status: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Run a command to completion; never throws on exit status. `timeoutMs` 0: no limit. */
export function runCommand(
  cmd: string,
  args: readonly string[],
  opts: NixOptions & { timeoutMs?: number } = {}
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    log('%s %s', cmd, args.join(' '))
    const child = spawn(cmd, args, {
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      signal: opts.signal
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d
    })
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d
      if (stderr.length > 4 * NIX_STDERR_TAIL) stderr = stderr.slice(-2 * NIX_STDERR_TAIL)
    })
    const timeout = opts.timeoutMs ?? NIX_QUERY_TIMEOUT_MS
    const timer = timeout > 0 ? setTimeout(() => child.kill('SIGKILL'), timeout) : undefined
    child.on('error', (err) => {
      clearTimeout(timer)
      reject(err.name === 'AbortError' ? err : new NixCommandError(`cannot run ${cmd}: ${err.message}`, null))
    })
    child.on('close', (status) => {
      clearTimeout(timer)
      resolve({ status, stdout, stderr })
    })
  })
}

function fail(cmd: string, r: RunResult): never {
  throw new NixCommandError(
    `${cmd} failed (exit ${r.status}): ${r.stderr.trim().slice(-NIX_STDERR_TAIL)}`,
    r.status
  )
}

/** What Nix registered for a valid store path. */
export interface PathInfo {
  readonly path: string
  /** `sha256:<nix32>`. */
  readonly narHash: string
  readonly narSize: number
  /** Full store paths, sorted. */
  readonly references: readonly string[]
  /** Full path of the deriver, or null. */
  readonly deriver: string | null
}

/** `nix path-info --json PATHS`. Throws `NotInStoreError` when a path is not valid. */
export async function pathInfo(paths: readonly string[], opts: NixOptions = {}): Promise<PathInfo[]> {
  if (paths.length === 0) return []
  const r = await runCommand('nix', ['path-info', '--json', ...paths], opts)
  if (r.status !== 0) {
    const invalid = /path '([^']+)' is not valid/.exec(r.stderr)
    if (invalid) throw new NotInStoreError(`${invalid[1]} is not a valid path in the local Nix store`)
    fail('nix path-info', r)
  }
  const json = JSON.parse(r.stdout) as unknown
  // Nix 2.8: an array of objects with "path"; newer Nix: an object keyed by path.
  const entries: [string, Record<string, unknown>][] = Array.isArray(json)
    ? json.map((o: Record<string, unknown>) => [String(o.path), o])
    : Object.entries(json as Record<string, Record<string, unknown>>)
  const byPath = new Map(entries)
  return paths.map((p) => {
    const o = byPath.get(p)
    // Nix 2.8 answers an invalid path with { "path": ..., "valid": false } and exit 0.
    if (o === undefined || o === null || o.valid === false || typeof o.narHash !== 'string') {
      throw new NotInStoreError(`${p} is not a valid path in the local Nix store`)
    }
    const storeDir = p.slice(0, p.lastIndexOf('/'))
    const full = (x: string): string => (x.startsWith('/') ? x : `${storeDir}/${x}`)
    return {
      path: p,
      narHash: formatSha256(parseSha256(String(o.narHash))),
      narSize: Number(o.narSize),
      references: ((o.references as string[] | undefined) ?? []).map(full).sort(),
      deriver: typeof o.deriver === 'string' && o.deriver !== '' ? full(o.deriver) : null
    }
  })
}

/** `nix show-derivation DRVS`: for each derivation, output name → output path. */
export async function derivationOutputs(
  drvPaths: readonly string[],
  opts: NixOptions = {}
): Promise<Map<string, Map<string, string>>> {
  const out = new Map<string, Map<string, string>>()
  if (drvPaths.length === 0) return out
  const r = await runCommand('nix', ['show-derivation', ...drvPaths], opts)
  if (r.status !== 0) fail('nix show-derivation', r)
  const json = JSON.parse(r.stdout) as Record<string, { outputs?: Record<string, { path?: string }> }>
  for (const [drv, d] of Object.entries(json)) {
    const storeDir = drv.slice(0, drv.lastIndexOf('/'))
    const outputs = new Map<string, string>()
    for (const [name, o] of Object.entries(d.outputs ?? {})) {
      if (typeof o.path === 'string')
        outputs.set(name, o.path.startsWith('/') ? o.path : `${storeDir}/${o.path}`)
    }
    out.set(drv, outputs)
  }
  return out
}

/** `nix-instantiate FILE`: the derivation paths a .nix file evaluates to. */
export async function instantiate(file: string, opts: NixOptions = {}): Promise<string[]> {
  const r = await runCommand('nix-instantiate', [file], opts)
  if (r.status !== 0) fail('nix-instantiate', r)
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.endsWith('.drv'))
}

export interface RealiseResult {
  /** Output paths Nix printed. */
  readonly outputs: readonly string[]
  /** With `check`: Nix found an output that differs when rebuilt (exit 104); the rebuild is kept as `<out>.check`. */
  readonly nonDeterministic: boolean
}

/**
 * `nix-store --realise DRVS`, or with `check` `--realise --check --keep-failed` (rebuild what exists and compare).
 * No time limit. Build directories Nix keeps because of `--keep-failed` are removed afterwards.
 */
export async function realise(
  drvPaths: readonly string[],
  opts: NixOptions & { check?: boolean } = {}
): Promise<RealiseResult> {
  const args = ['--realise', ...(opts.check ? ['--check', '--keep-failed'] : []), ...drvPaths]
  const r = await runCommand('nix-store', args, { ...opts, timeoutMs: 0 })
  for (const m of r.stderr.matchAll(/keeping build directory '([^']+)'/g)) {
    const { rm } = await import('node:fs/promises')
    await rm(m[1]!, { recursive: true, force: true }).catch(() => {})
  }
  const nonDeterministic = opts.check === true && /may not be deterministic/.test(r.stderr)
  if (r.status !== 0 && !nonDeterministic) fail('nix-store --realise', r)
  return {
    outputs: r.stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith('/')),
    nonDeterministic
  }
}

/**
 * Everything a build of `drvPaths` could refer to: the closure of the derivations with their outputs
 * (`nix-store --query --requisites --include-outputs`). Nix scans a new output for exactly these paths.
 */
export async function buildInputClosure(
  drvPaths: readonly string[],
  opts: NixOptions = {}
): Promise<string[]> {
  const r = await runCommand('nix-store', ['--query', '--requisites', '--include-outputs', ...drvPaths], opts)
  if (r.status !== 0) fail('nix-store --query --requisites', r)
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('/'))
}
