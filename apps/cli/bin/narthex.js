#!/usr/bin/env node
// The `narthex` binary. CommonJS (bin/package.json), so Node starts it without the ES module loader: the NAR
// commands run from one bundled CommonJS file, dist/quick.bundle.cjs (made by `pnpm build`; see src/quick.ts),
// ~20 ms sooner than through the ES modules behind them (a one-byte `nar dump`: 120 -> 102 ms, docs/benchmarks.md
// "NAR"). Every other command line goes to the dispatcher in dist/main.js.
'use strict'

function loadQuick() {
  try {
    return require('../dist/quick.bundle.cjs')
  } catch (err) {
    // Built with `tsc -b` alone: the same code, unbundled.
    if (err?.code !== 'MODULE_NOT_FOUND' || !String(err.message).includes('quick.bundle.cjs')) throw err
    return undefined
  }
}

async function run(argv) {
  // A reader that went away (`narthex store ls --json | head -1`) makes the next write to stdout fail with EPIPE,
  // which Node also emits as an 'error' event on the stream: with no listener, that event killed the process with
  // a stack trace. Each command sees the failure of its own writes (a one-line error, exit 1), and a long-running
  // program whose log reader is gone keeps running, so the events themselves need nothing more.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {})
  const quick = loadQuick() ?? (await import('../dist/quick.js'))
  const ran = quick.quickMain(argv)
  if (ran !== undefined) {
    process.exitCode = await ran
    if (quick.mayExitAtOnce()) process.exit()
    return
  }
  // Long-running and other commands: none is one-shot (quick.ts takes those), so Node's usual exit.
  await import('../dist/polyfill.js')
  const { main } = await import('../dist/main.js')
  process.exitCode = await main(argv)
}

run(process.argv.slice(2))
