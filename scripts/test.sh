#!/usr/bin/env bash
# Runs every check CI runs: lint, then the whole test suite (unit, cross-package, real nix, browser).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/ensure-deps.sh
pnpm run --silent lint
exec pnpm exec mocha "$@"
