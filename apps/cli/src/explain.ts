/**
 * What to tell a user about an error they can cause: what was wrong (the error's own message, made specific where
 * a system error says too little) and what to do. The dispatcher prints both; docs/errors.md ("Messages a user can
 * meet") lists the same conditions, and a test checks that every entry of USER_ERRORS is documented there.
 */

export interface UserError {
  /** The error's `name`, or a system error `code` (EADDRINUSE...). */
  readonly match: string
  /** What causes it, for docs/errors.md. */
  readonly cause: string
  /** What to do: printed under the message. */
  readonly hint: string
}

/** Every condition a user can cause on the command line that the dispatcher adds advice to. */
export const USER_ERRORS: readonly UserError[] = [
  {
    match: 'KeyFileError',
    cause: 'the key file given with --key is missing, unreadable or not a Nix secret key',
    hint: 'make a key pair with `narthex keygen NAME` and pass the secret half (NAME.sec), not the .pub file'
  },
  {
    match: 'InvalidKeyError',
    cause:
      'a key given on the command line (--trust, --trusted-key, --orchestrator-key) is not a Nix public key',
    hint: 'a public key reads NAME:BASE64 (44 characters of base64), as `narthex keygen` writes to NAME.pub'
  },
  {
    match: 'EADDRINUSE',
    cause: 'another process already listens on the address given with --listen, --p2p-listen or --metrics',
    hint: 'stop that process or choose another port (port 0 picks a free one)'
  },
  {
    match: 'InvalidNodeConfigError',
    cause: 'a multiaddr given with --bootstrap, --listen or --p2p-listen cannot be parsed',
    hint: 'a multiaddr reads /ip4/HOST/tcp/PORT, and a bootstrap peer adds /p2p/PEER_ID (copy the line a seeder prints: "narthex seeder listening ...")'
  },
  {
    match: 'EADDRNOTAVAIL',
    cause: 'the host in --listen is not an address of this machine',
    hint: 'listen on 127.0.0.1, 0.0.0.0 or an address this machine has'
  },
  {
    match: 'OrchestratorUnreachableError',
    cause: 'nothing answers at the --orchestrator URL, or it is not an orchestrator',
    hint: 'check the URL and that `narthex orchestrator` runs there (curl URL/nix-cache-info should answer)'
  },
  {
    match: 'StoreLockedError',
    cause: 'another process (a seeder, a shim, another command) holds the data directory',
    hint: 'stop it, or ask it instead (`narthex status --data DIR` shows what runs there); or use another --data'
  },
  {
    match: 'DataDirLockedError',
    cause: 'another process holds the data directory',
    hint: 'stop it (`narthex status --data DIR` shows what runs there), or use another --data'
  },
  {
    match: 'SeederRunningError',
    cause: 'a seeder already runs on the data directory',
    hint: 'stop it first, or give this seeder another --data'
  },
  {
    match: 'ShimRunningError',
    cause: 'a shim already runs on the data directory',
    hint: 'stop it first, or give this shim another --data'
  },
  {
    match: 'SeederNotRunningError',
    cause: '`narthex seed add`, `seeder status` or `build --seed` named a data directory no seeder runs on',
    hint: 'start one with `narthex seeder --data DIR ...`, or give the directory of the running seeder'
  },
  {
    match: 'NothingRunningError',
    cause: '`narthex status` found no seeder or shim on the data directory',
    hint: 'start one (`narthex seeder --data DIR`, `narthex shim --data DIR`), or give the directory it runs on'
  },
  {
    match: 'EACCES',
    cause: 'a file or directory given (often --data) cannot be read or written by this user',
    hint: 'choose a directory this user owns, or fix its permissions'
  },
  {
    match: 'EPERM',
    cause: 'the system does not allow creating or changing a file there (often --data in a system directory)',
    hint: 'choose a directory this user owns with --data'
  },
  {
    match: 'ENOTDIR',
    cause: 'a part of a path given (often --data) is a file, not a directory',
    hint: 'choose a directory path with --data (it is created if missing)'
  },
  {
    match: 'EROFS',
    cause: 'the data directory is on a read-only file system',
    hint: 'choose a writable directory with --data'
  },
  {
    match: 'ENOENT',
    cause: 'a file given on the command line does not exist',
    hint: 'check the path'
  },
  {
    match: 'InvalidConfigError',
    cause: 'a flag or configuration file value is not valid',
    hint: 'see `narthex COMMAND --help` and the program page in docs/ for the allowed values'
  }
]

const BY_MATCH = new Map(USER_ERRORS.map((e) => [e.match, e]))

const SYSCALL_WORDS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'address not available',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'name lookup failed',
  ETIMEDOUT: 'timed out',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable'
}

/** The one-line message and, when known, the advice for an error. */
export function explain(err: Error, command = 'COMMAND'): { message: string; hint?: string } {
  const code = systemCode(err)
  const entry = BY_MATCH.get(err.name) ?? (code !== undefined ? BY_MATCH.get(code) : undefined)
  let message = err.message
  if (code !== undefined && err.name !== 'KeyFileError') message = describeSystemError(err, code)
  else if (/fetch failed$/.test(message)) message = `${message} (${innermost(err).message})`
  return entry === undefined ? { message } : { message, hint: entry.hint.replace('COMMAND', command) }
}

/** The system error code of an error or of one of its causes (libp2p and fetch wrap them). */
function systemCode(err: unknown, depth = 0): string | undefined {
  if (depth > 4 || err === null || typeof err !== 'object') return undefined
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) return code
  return systemCode((err as { cause?: unknown }).cause, depth + 1)
}

/** "address 127.0.0.1:7420 is already in use" rather than "listen EADDRINUSE: address already in use ...". */
function describeSystemError(err: Error, code: string): string {
  const e = findCoded(err, code) as NodeJS.ErrnoException & { address?: string; port?: number }
  const words = SYSCALL_WORDS[code] ?? code
  if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL') {
    const where =
      e.address !== undefined ? `${e.address}${e.port !== undefined ? `:${e.port}` : ''}` : undefined
    return where !== undefined
      ? `cannot listen on ${where}: ${words}${err !== e ? ` (${err.message})` : ''}`
      : err.message
  }
  if (e.path !== undefined) {
    const context = err !== e ? `${err.message}: ` : ''
    return `${context}${e.path}: ${words}`
  }
  // A wrapped network error ("fetch failed"): say what the system said.
  return err !== e && !err.message.includes(code) ? `${err.message} (${words})` : err.message
}

function innermost(err: Error, depth = 0): Error {
  const cause = (err as { cause?: unknown }).cause
  return depth < 4 && cause instanceof Error ? innermost(cause, depth + 1) : err
}

function findCoded(err: unknown, code: string, depth = 0): unknown {
  if (depth > 4 || err === null || typeof err !== 'object') return err
  if ((err as { code?: unknown }).code === code) return err
  return findCoded((err as { cause?: unknown }).cause, code, depth + 1)
}
