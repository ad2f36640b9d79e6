/**
 * The `narthex demo` network: orchestrator, two builders, three seeders and a shim as child processes on
 * loopback, all data in one directory, and a real `nix-store` substitution through the shim.
 *
 * @example
 * ```ts
 * import { runDemo } from './demo/index.js'
 * const status = await runDemo({ data: './.narthex-data/demo', port: 7420, shimPort: 37515, once: true, out: process.stdout })
 * ```
 */
export { DemoChildError, type DemoOptions, runDemo } from './demo.js'
