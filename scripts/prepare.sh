#!/usr/bin/env bash
# Installs what a fresh machine lacks, idempotently, so `npm test` and `npm start`
# work on a clean checkout. Each part that needs real parts has its own prepare step:
#   test/vm/prepare.sh        the Linux kernel NVMe/TCP host in qemu
#   test/cluster/prepare.sh   the single-node Kubernetes cluster
# Cached build outputs live in ${NVMEOF_CACHE:-$HOME/.cache/nvmeof-operator}.
set -euo pipefail
cd "$(dirname "$0")/.."
export npm_config_nodedir=/usr

apt_install() {
  # apt_install PKG... : installs the Debian packages that are missing.
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "prepare: installing Debian packages: ${missing[*]}"
  if [ ! -f /var/lib/apt/.nvmeof-updated ]; then
    apt-get update -qq && touch /var/lib/apt/.nvmeof-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
export -f apt_install

apt_install build-essential python3 util-linux

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "prepare: npm ci"
  npm ci --no-audit --no-fund
fi

for step in test/vm/prepare.sh test/cluster/prepare.sh; do
  if [ -f "$step" ] && [ "${NVMEOF_SKIP_REAL_PARTS:-}" != 1 ]; then bash "$step"; fi
done
