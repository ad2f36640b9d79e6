#!/usr/bin/env bash
# Installs what narthex needs on a fresh machine: pnpm, the workspace's dependencies, and (as root, when
# absent) Debian's nix-bin, systemd (for systemd-analyze) and chromium. Safe to run again: each step is
# skipped when already satisfied.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

if ! command -v pnpm >/dev/null 2>&1; then
  log "installing pnpm 10 from the npm registry"
  npm install -g pnpm@10 >/dev/null 2>&1 || npm install -g pnpm@10
fi

apt_missing=()
command -v nix-store >/dev/null 2>&1 || apt_missing+=(nix-bin)
# systemd-analyze checks the unit files in contrib/systemd (test/services.spec.ts); no running systemd is needed.
command -v systemd-analyze >/dev/null 2>&1 || apt_missing+=(systemd)
if [ "${NARTHEX_SKIP_CHROMIUM:-0}" != 1 ]; then
  command -v chromium >/dev/null 2>&1 || apt_missing+=(chromium)
fi
if [ ${#apt_missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing Debian packages: ${apt_missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${apt_missing[@]}" >/dev/null
  else
    log "missing ${apt_missing[*]}: install them (Debian: apt-get install ${apt_missing[*]}) or run this as root"
  fi
fi

# Nix as root without build users needs these settings; they are exported for every narthex command and test.
if [ -z "${NIX_CONFIG:-}" ]; then
  export NIX_CONFIG=$'experimental-features = nix-command\nbuild-users-group =\nsandbox = false\nsubstituters ='
fi

if [ ! -d node_modules/.pnpm ] || [ pnpm-lock.yaml -nt node_modules/.modules.yaml ]; then
  log "installing dependencies with pnpm"
  pnpm install --frozen-lockfile --reporter=silent
fi

log "building"
pnpm run --silent build
