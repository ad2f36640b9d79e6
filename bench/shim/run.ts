/**
 * Shim benchmark: the shim (real `narthex shim` process) against a plain static HTTP binary cache (node:http
 * serving files, the baseline) in the same run, interleaved rounds, medians, ratios. See README.md.
 *
 *   pnpm build && pnpm exec tsx bench/shim/run.ts [--size-mib 256] [--rounds 3]
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readdir, readFile, rm } from 'node:fs/promises'
import { Agent, request } from 'node:http'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import {
  NARTHEX_BIN,
  nixBuild,
  nixEnv,
  REPO_ROOT,
  run,
  runOk,
  substituteArgs,
  tempDir,
  waitFor
} from '../../test/util/index.js'

process.env.NIX_CONFIG ??=
  'experimental-features = nix-command\nbuild-users-group =\nsandbox = false\nsubstituters ='

const { values } = parseArgs({
  options: { 'size-mib': { type: 'string', default: '256' }, rounds: { type: 'string', default: '3' } }
})
const SIZE_MIB = Number(values['size-mib'])
const ROUNDS = Number(values.rounds)
const NARINFO_REQUESTS = 5000

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

async function startProcess(args: string[]): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], cwd: REPO_ROOT })
  let out = ''
  const url = await new Promise<string>((resolve, reject) => {
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m) resolve(m[1]!)
    })
    proc.on('exit', (code) => reject(new Error(`exited ${code}`)))
  })
  return { url, proc }
}

async function stopProcess(p: { proc: ChildProcess }): Promise<void> {
  const exited = new Promise((resolve) => p.proc.once('exit', resolve))
  p.proc.kill('SIGTERM')
  await exited
}

function peakRssMiB(pid: number): Promise<number> {
  return readFile(`/proc/${pid}/status`, 'utf8').then((s) => Number(/VmHWM:\s+(\d+)/.exec(s)![1]) / 1024)
}

/** Sequential GETs on one keep-alive connection: p50 latency in µs and requests/s. */
async function narinfoLatency(
  base: string,
  path: string,
  expect: number
): Promise<{ p50: number; rps: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  const times: number[] = []
  const t0 = performance.now()
  for (let i = 0; i < NARINFO_REQUESTS; i++) {
    const s = performance.now()
    const status = await new Promise<number>((resolve, reject) => {
      request(`${base}${path}`, { agent }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode!))
      })
        .on('error', reject)
        .end()
    })
    if (status !== expect) throw new Error(`${path}: ${status}`)
    times.push((performance.now() - s) * 1000)
  }
  const total = performance.now() - t0
  agent.destroy()
  return { p50: median(times), rps: (NARINFO_REQUESTS / total) * 1000 }
}

/** curl the URL to /dev/null; MiB/s. */
async function curlMiBs(url: string): Promise<number> {
  const r = await runOk('curl', ['-sf', '-o', '/dev/null', '-w', '%{speed_download}', url])
  return Number(r.stdout.toString()) / 1024 / 1024
}

const dir = await tempDir('narthex-bench-shim-')
try {
  const env = nixEnv(join(dir.path, 'xdg'))
  const nonce = randomBytes(8).toString('hex')
  console.error(`building a ${SIZE_MIB} MiB input-addressed output...`)
  const [out] = await nixBuild(
    dir.path,
    `derivation { name = "bench-${SIZE_MIB}m"; builder = "/bin/sh"; args = ["-c" "echo ${nonce} > /dev/null; head -c ${SIZE_MIB * 1024 * 1024} /dev/urandom > $out"]; PATH = "/usr/bin:/bin"; system = builtins.currentSystem; }`,
    env
  )
  await runOk(
    'nix-store',
    ['--generate-binary-cache-key', 'bench-1', join(dir.path, 'sec'), join(dir.path, 'pub')],
    { env }
  )
  const key = (await readFile(join(dir.path, 'pub'), 'utf8')).trim()
  await runOk('nix', ['store', 'sign', '--key-file', join(dir.path, 'sec'), out!], { env })
  await runOk('nix', ['copy', '--to', `file://${join(dir.path, 'up')}?compression=none`, out!], { env })
  const hashPart = out!.slice(11, 43)
  const narinfo = await readFile(join(dir.path, 'up', `${hashPart}.narinfo`), 'utf8')
  const narPath = `/${/^URL: (.*)$/m.exec(narinfo)![1]}`
  const missPath = `/${'0'.repeat(32)}.narinfo`

  const base = await startProcess([
    '--import',
    'tsx',
    join(REPO_ROOT, 'bench/shim/baseline-server.ts'),
    join(dir.path, 'up')
  ])
  const rows: Record<string, number[]> = {}
  const add = (k: string, v: number) => {
    rows[k] = [...(rows[k] ?? []), v]
  }
  for (let round = 0; round < ROUNDS; round++) {
    const data = join(dir.path, `shim-${round}`)
    const shim = await startProcess([
      NARTHEX_BIN,
      'shim',
      '--data',
      data,
      '--listen',
      '127.0.0.1:0',
      '--orchestrator',
      base.url,
      '--upstream',
      base.url,
      '--no-prefetch'
    ])
    // NAR: nix-store -r through the shim (cold: fetched from the upstream while streaming) vs straight from the baseline.
    for (const [name, url] of [
      ['nix-store -r via baseline', base.url],
      ['nix-store -r via shim (cold)', shim.url]
    ] as const) {
      const dst = join(dir.path, `dst-${round}-${name.length}`)
      const t = performance.now()
      const r = await run('nix-store', substituteArgs(dst, out!, url, key), {
        env: nixEnv(join(dir.path, `xdg-${round}-${name.length}`))
      })
      if (r.code !== 0) throw new Error(r.stderr)
      add(`${name} (s)`, (performance.now() - t) / 1000)
      await rm(dst, { recursive: true, force: true })
    }
    add('shim peak RSS after cold NAR (MiB)', await peakRssMiB(shim.proc.pid!))
    // The shim imports the fetched NAR into its chunk store in the background; "warm" means after that.
    const t = performance.now()
    await waitFor(
      'the import into the store',
      async () => (await readdir(join(data, 'tmp'))).length === 0,
      300_000
    )
    add('background import into the store after cold (s)', (performance.now() - t) / 1000)
    add('curl NAR from baseline (MiB/s)', await curlMiBs(`${base.url}${narPath}`))
    add('curl NAR from shim, warm cache (MiB/s)', await curlMiBs(`${shim.url}${narPath}`))
    const hb = await narinfoLatency(base.url, `/${hashPart}.narinfo`, 200)
    const hs = await narinfoLatency(shim.url, `/${hashPart}.narinfo`, 200)
    const mb = await narinfoLatency(base.url, missPath, 404)
    const ms = await narinfoLatency(shim.url, missPath, 404)
    add('narinfo hit p50 baseline (µs)', hb.p50)
    add('narinfo hit p50 shim (µs)', hs.p50)
    add('narinfo hit req/s baseline', hb.rps)
    add('narinfo hit req/s shim', hs.rps)
    add('narinfo miss p50 baseline (µs)', mb.p50)
    add('narinfo miss p50 shim (µs)', ms.p50)
    await stopProcess(shim)
    await rm(data, { recursive: true, force: true })
  }
  await stopProcess(base)
  const m = (k: string) => median(rows[k]!)
  console.log(`\nshim benchmark: ${SIZE_MIB} MiB NAR, ${ROUNDS} rounds, medians (all rounds: min..max)\n`)
  for (const [k, v] of Object.entries(rows)) {
    console.log(
      `${k.padEnd(44)} ${median(v).toFixed(2).padStart(10)}   (${Math.min(...v).toFixed(2)}..${Math.max(...v).toFixed(2)})`
    )
  }
  console.log('\nratios (shim / baseline):')
  console.log(
    `nix-store -r time                              ${(m('nix-store -r via shim (cold) (s)') / m('nix-store -r via baseline (s)')).toFixed(2)}  (lower is better; 1.0 = as fast as a static server)`
  )
  console.log(
    `curl throughput, warm                          ${(m('curl NAR from shim, warm cache (MiB/s)') / m('curl NAR from baseline (MiB/s)')).toFixed(2)}  (higher is better)`
  )
  console.log(
    `narinfo hit p50                                ${(m('narinfo hit p50 shim (µs)') / m('narinfo hit p50 baseline (µs)')).toFixed(2)}  (lower is better)`
  )
  console.log(
    `narinfo miss p50                               ${(m('narinfo miss p50 shim (µs)') / m('narinfo miss p50 baseline (µs)')).toFixed(2)}  (lower is better)`
  )
} finally {
  await dir.cleanup()
}
