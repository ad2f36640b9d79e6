#!/usr/bin/env bash
# Runs every check CI runs: lint, then the whole test suite (unit, cross-package, real nix, browser).
# Extra arguments go to mocha (e.g. --grep narinfo). Ends with a plain "N passed, N failed" line.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/ensure-deps.sh
pnpm run --silent lint

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
pnpm exec mocha "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
passed=$(grep -Eo '^ +[0-9]+ passing' "$log" | grep -Eo '[0-9]+' | tail -n 1 || true)
failed=$(grep -Eo '^ +[0-9]+ failing' "$log" | grep -Eo '[0-9]+' | tail -n 1 || true)
echo "${passed:-0} passed, ${failed:-0} failed"
exit "$status"
