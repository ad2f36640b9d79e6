import type { LocalSeeder } from '@narthex/builder'
import { requestImport } from '@narthex/seeder'

/**
 * The seeder running on `dataDir` (`narthex seeder --data DIR`) as the builder's LocalSeeder: each attested output
 * is handed to it over its control socket, as `narthex seed add` does. The seeder imports the path from the local
 * Nix store and checks its NAR against the NarHash Nix recorded; what it publishes is still its policy's choice.
 */
export function localSeeder(dataDir: string): LocalSeeder {
  return {
    async importPath(path) {
      await requestImport(dataDir, { sources: [path] })
    }
  }
}
