// Loaded by mocha before any test file (see .mocharc.json).
import '../apps/cli/src/polyfill.js'

// Nix as root without build users needs these settings (see docs/testing.md). Tests inherit them unless the
// caller set NIX_CONFIG already.
process.env.NIX_CONFIG ??= [
  'experimental-features = nix-command',
  'build-users-group =',
  'sandbox = false',
  'substituters ='
].join('\n')
