/**
 * NAR benchmark: `narthex nar dump` against `nix-store --dump`, and `narthex nar hash` against
 * `nix-store --dump | sha256sum`, on one generated 256 MiB tree, in the same run. Rounds are interleaved (each
 * round runs every contender once, in a shuffled order) and the medians are compared as throughput ratios
 * (> 1: narthex is faster). See bench/nar/README.md.
 *
 *   pnpm build && node --import tsx bench/nar/run.ts [--rounds N] [--size-mib N] [--keep DIR]
 *
 * --keep DIR makes (or reuses) the tree in DIR/tree and leaves it there, for profiling.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '7' },
    'size-mib': { type: 'string', default: '256' },
    keep: { type: 'string' }
  }
})
const ROUNDS = Number(values.rounds)
const SIZE = Number(values['size-mib']) * 1024 * 1024
const NARTHEX = resolve(fileURLToPath(new URL('../../apps/cli/bin/narthex.js', import.meta.url)))

/**
 * Half the bytes in 8 large files, half in small files (1..64 KiB, 16 per directory, 4 levels of fan-out),
 * plus a symlink per directory: a store path's usual mix of a few big binaries and many small files.
 */
async function makeTree(root: string): Promise<{ files: number; bytes: number }> {
  await mkdir(root)
  let bytes = 0
  let files = 0
  const big = SIZE / 2 / 8
  await mkdir(join(root, 'lib'))
  for (let i = 0; i < 8; i++) {
    await writeFile(join(root, 'lib', `big-${i}.so`), randomBytes(big), { mode: i % 2 ? 0o755 : 0o644 })
    bytes += big
    files++
  }
  let d = 0
  while (bytes < SIZE) {
    const sub = join(root, 'share', `g${d % 8}`, `d${d}`)
    await mkdir(sub, { recursive: true })
    await symlink('../../../lib/big-0.so', join(sub, 'link'))
    for (let i = 0; i < 16 && bytes < SIZE; i++) {
      const n = Math.min(SIZE - bytes, 1024 + Math.floor(Math.random() * 63 * 1024))
      await writeFile(join(sub, `file-${i}.txt`), randomBytes(n))
      bytes += n
      files++
    }
    d++
  }
  return { files, bytes }
}

async function countTree(root: string): Promise<{ files: number; bytes: number }> {
  let files = 0
  let bytes = 0
  for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue
    files++
    bytes += (await stat(join(e.parentPath, e.name))).size
  }
  return { files, bytes }
}

/** GNU time, to also measure CPU time (user + system of the whole pipeline); absent, only wall time is kept. */
const GNU_TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined

interface Timing {
  /** Wall-clock seconds. */
  readonly wall: number
  /** CPU seconds (user + system) of every process of the pipeline, or NaN without GNU time. */
  readonly cpu: number
}

/** Time `sh -c script`; throws on a non-zero exit. */
function time(script: string): Promise<Timing> {
  const cpuFile = join(tmpdir(), `narthex-bench-cpu-${process.pid}`)
  const [cmd, args] = GNU_TIME
    ? [GNU_TIME, ['-f', '%U %S', '-o', cpuFile, 'sh', '-c', script]]
    : ['sh', ['-c', script]]
  return new Promise((resolvePromise, reject) => {
    const start = process.hrtime.bigint()
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    child.stderr.on('data', (d) => {
      err += d
    })
    child.on('error', reject)
    child.on('close', async (code) => {
      const wall = Number(process.hrtime.bigint() - start) / 1e9
      if (code !== 0) return reject(new Error(`${script} exited ${code}: ${err}`))
      let cpu = Number.NaN
      if (GNU_TIME) {
        const [user, sys] = (await readFile(cpuFile, 'utf8')).trim().split(/\s+/).slice(-2).map(Number)
        cpu = user! + sys!
      }
      resolvePromise({ wall, cpu })
    })
  })
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

function shuffle<T>(xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[xs[i], xs[j]] = [xs[j]!, xs[i]!]
  }
  return xs
}

const dir = values.keep ?? (await mkdtemp(join(tmpdir(), 'narthex-bench-nar-')))
await mkdir(dir, { recursive: true })
const tree = join(dir, 'tree')
try {
  const made = existsSync(tree) ? await countTree(tree) : await makeTree(tree)
  const q = (s: string) => `'${s.replaceAll("'", "'\\''")}'`
  const contenders: Record<string, string> = {
    'nix-store --dump': `nix-store --dump ${q(tree)} | cat > /dev/null`,
    'narthex nar dump': `node ${q(NARTHEX)} nar dump ${q(tree)} | cat > /dev/null`,
    'nix-store --dump | sha256sum': `nix-store --dump ${q(tree)} | sha256sum > /dev/null`,
    'narthex nar hash': `node ${q(NARTHEX)} nar hash ${q(tree)} > /dev/null`,
    // The floor under every narthex row: starting Node, nothing else.
    'node -e 0': 'node -e 0'
  }
  // Node 20 reads and parses every certificate of NODE_EXTRA_CA_CERTS when it starts, whatever the program does
  // (measured: ~50 ms with the system bundle, more than half of its start-up). A machine that sets it for all
  // programs, as this one does, pays that in every narthex row; the extra rows show a machine that does not.
  const extraCa = process.env.NODE_EXTRA_CA_CERTS ? ' (no NODE_EXTRA_CA_CERTS)' : undefined
  if (extraCa !== undefined) {
    contenders[`narthex nar dump${extraCa}`] = `env -u NODE_EXTRA_CA_CERTS ${contenders['narthex nar dump']}`
    contenders[`node -e 0${extraCa}`] = 'env -u NODE_EXTRA_CA_CERTS node -e 0'
  }
  // Warm the page cache and check the outputs agree before timing anything.
  await time(`nix-store --dump ${q(tree)} | sha256sum > ${q(join(dir, 'nix.sha256'))}`)
  await time(`node ${q(NARTHEX)} nar dump ${q(tree)} | sha256sum > ${q(join(dir, 'narthex.sha256'))}`)
  await time(`cmp ${q(join(dir, 'nix.sha256'))} ${q(join(dir, 'narthex.sha256'))}`)

  const times: Record<string, Timing[]> = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]))
  for (let r = 0; r < ROUNDS; r++) {
    for (const name of shuffle(Object.keys(contenders))) times[name]!.push(await time(contenders[name]!))
    process.stderr.write(`round ${r + 1}/${ROUNDS} done\n`)
  }
  const mib = made.bytes / 1024 / 1024
  const wall = (name: string) => median(times[name]!.map((t) => t.wall))
  const cpu = (name: string) => median(times[name]!.map((t) => t.cpu))
  const row = (name: string) => {
    const rate = name.startsWith('node -e 0') ? '-' : (mib / wall(name)).toFixed(0)
    return `| ${name.padEnd(WIDTH)} | ${wall(name).toFixed(3).padStart(6)} | ${rate.padStart(5)} | ${cpu(name).toFixed(3).padStart(5)} |`
  }
  const ratio = (of: (n: string) => number, ours: string, theirs: string) =>
    (of(theirs) / of(ours)).toFixed(2)
  const WIDTH = Math.max(...Object.keys(contenders).map((n) => n.length))
  const DUMP = ['narthex nar dump', 'nix-store --dump'] as const
  const HASH = ['narthex nar hash', 'nix-store --dump | sha256sum'] as const
  console.log(`tree: ${mib.toFixed(0)} MiB in ${made.files} files; ${ROUNDS} interleaved rounds, medians\n`)
  console.log(`| ${'command'.padEnd(WIDTH)} | wall s | MiB/s | CPU s |`)
  console.log(`| ${'-'.repeat(WIDTH)} | ------ | ----- | ----- |`)
  for (const name of Object.keys(contenders)) console.log(row(name))
  console.log(
    `\nthroughput ratio, narthex / nix (> 1: narthex is faster): dump ${ratio(wall, ...DUMP)}, hash ${ratio(wall, ...HASH)}`
  )
  if (extraCa !== undefined) {
    console.log(
      `dump ratio with Node started without NODE_EXTRA_CA_CERTS: ${ratio(wall, `narthex nar dump${extraCa}`, DUMP[1])}`
    )
  }
  const startup = wall('node -e 0')
  const net = (n: string) => (n.startsWith('narthex') ? Math.max(1e-3, wall(n) - startup) : wall(n))
  console.log(
    `same without Node's start-up (${startup.toFixed(3)} s): dump ${ratio(net, ...DUMP)}, hash ${ratio(net, ...HASH)}`
  )
  console.log(`CPU-time ratio, whole pipelines: dump ${ratio(cpu, ...DUMP)}, hash ${ratio(cpu, ...HASH)}`)
} finally {
  if (!values.keep) await rm(dir, { recursive: true, force: true })
}
