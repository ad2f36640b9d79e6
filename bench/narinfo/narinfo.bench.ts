/**
 * narinfo parse/format/sign/verify speed, each next to a baseline measured in the same run (interleaved rounds,
 * medians). See README.md in this directory.
 *
 *   pnpm exec tsx --conditions=source bench/narinfo/narinfo.bench.ts
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import {
  fingerprintOf,
  formatNarinfo,
  generateSecretKey,
  type Narinfo,
  nixBase32,
  parseNarinfo,
  signDetached,
  signNarinfo,
  verifyDetached,
  verifyNarinfo
} from '@narthex/nix'

const ROUNDS = 9
const TARGET_MS = 60

const small = readFileSync(
  new URL('../../packages/nix/test/fixtures/narinfo/top.narinfo', import.meta.url),
  'utf8'
)
// A large closure member: 300 references (glibc-heavy packages reach a few hundred).
const smallInfo = parseNarinfo(small)
const refs = Array.from(
  { length: 300 },
  (_, i) => `${nixBase32.encode(createHash('sha1').update(String(i)).digest())}-dep-${i}`
)
const large: Narinfo = { ...smallInfo, references: refs.sort() }
const largeText = formatNarinfo(large)

/** A parser that only splits lines, with no checks: what parsing costs before validation. */
function splitOnly(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const i = line.indexOf(': ')
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 2)
  }
  return out
}

const key = generateSecretKey('bench-1')
const smallJson = JSON.stringify(smallInfo)
const largeJson = JSON.stringify(large)
const signedSmall = signNarinfo(smallInfo, key)
const fp = fingerprintOf(smallInfo)
const rawSig = signDetached(key, fp)

interface Case {
  readonly name: string
  readonly ours: () => unknown
  readonly baselineName: string
  readonly baseline: () => unknown
}

const cases: Case[] = [
  {
    name: 'parse (3 refs)',
    ours: () => parseNarinfo(small),
    baselineName: 'JSON.parse',
    baseline: () => JSON.parse(smallJson)
  },
  {
    name: 'parse (3 refs)',
    ours: () => parseNarinfo(small),
    baselineName: 'split only',
    baseline: () => splitOnly(small)
  },
  {
    name: 'parse (300 refs)',
    ours: () => parseNarinfo(largeText),
    baselineName: 'JSON.parse',
    baseline: () => JSON.parse(largeJson)
  },
  {
    name: 'format (3 refs)',
    ours: () => formatNarinfo(smallInfo),
    baselineName: 'JSON.stringify',
    baseline: () => JSON.stringify(smallInfo)
  },
  {
    name: 'format (300 refs)',
    ours: () => formatNarinfo(large),
    baselineName: 'JSON.stringify',
    baseline: () => JSON.stringify(large)
  },
  {
    name: 'signNarinfo',
    ours: () => signNarinfo(smallInfo, key),
    baselineName: 'raw ed25519 sign',
    baseline: () => signDetached(key, fp)
  },
  {
    name: 'verifyNarinfo',
    ours: () => verifyNarinfo(signedSmall, [key.publicKey]),
    baselineName: 'raw ed25519 verify',
    baseline: () => verifyDetached(fp, rawSig, [key.publicKey])
  }
]

/** Microseconds per call of `fn`, timing enough calls to fill TARGET_MS. */
function measure(fn: () => unknown, calls: number): number {
  const start = process.hrtime.bigint()
  for (let i = 0; i < calls; i++) fn()
  return Number(process.hrtime.bigint() - start) / 1000 / calls
}

function callsFor(fn: () => unknown): number {
  let calls = 1
  for (;;) {
    const us = measure(fn, calls) * calls
    if (us > TARGET_MS * 100) return Math.max(1, Math.round((calls * TARGET_MS * 1000) / us))
    calls *= 4
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

console.log(`node ${process.version}, ${ROUNDS} interleaved rounds of ~${TARGET_MS} ms per measurement\n`)
console.log('| operation | narthex µs/op | baseline | baseline µs/op | ratio (narthex / baseline) |')
console.log('| --- | ---: | --- | ---: | ---: |')
for (const c of cases) {
  const oursCalls = callsFor(c.ours)
  const baseCalls = callsFor(c.baseline)
  const ours: number[] = []
  const base: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    ours.push(measure(c.ours, oursCalls))
    base.push(measure(c.baseline, baseCalls))
  }
  const o = median(ours)
  const b = median(base)
  console.log(`| ${c.name} | ${o.toFixed(2)} | ${c.baselineName} | ${b.toFixed(2)} | ${(o / b).toFixed(2)} |`)
}
