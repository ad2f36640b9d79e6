#!/usr/bin/env bash
# Starts a whole narthex network on loopback (orchestrator, builders, seeders, shim) in one data directory.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/ensure-deps.sh
exec node apps/cli/bin/narthex.js demo "$@"
