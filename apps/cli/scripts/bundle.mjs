// Bundles the NAR commands (dist/quick.js, compiled by tsc, and everything it imports from the workspace) into
// one CommonJS file, dist/quick.bundle.cjs, which bin/narthex.js loads first (see src/quick.ts for why). Run by
// `pnpm build` after `tsc -b`; the bundle is made from tsc's output, so it is the same code, in one file.
import { build } from 'esbuild'

const dist = new URL('../dist/', import.meta.url)

await build({
  entryPoints: [new URL('quick.js', dist).pathname],
  outfile: new URL('quick.bundle.cjs', dist).pathname,
  bundle: true,
  // CommonJS, not ESM: Node loads a CommonJS file without the ES module loader's resolution and translation, and
  // each command's imports of Node's own modules stay inside it, loaded only when that command runs.
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // Loaded only with debug output on, from node_modules as usual.
  external: ['debug'],
  // Keep names and layout readable in stack traces and profiles; the size does not matter for start-up.
  minify: false,
  sourcemap: 'linked',
  logLevel: 'warning'
})
