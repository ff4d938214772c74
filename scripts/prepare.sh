#!/usr/bin/env bash
# Installs what a fresh machine lacks, idempotently, so `npm test` and `npm start` work on a clean
# checkout, then runs the given command under the project's pinned Node:
#
#   bash scripts/prepare.sh [--parts vm,cluster|cluster|none] [--build] [-- CMD ARGS...]
#
#   1. the pinned Node (package.json "runtime"; scripts/lib.sh use_pinned_node), first on PATH
#   2. npm ci, and a rebuild of the native addons when node_modules was built for another Node ABI;
#      native/safe-mmap/build.sh (the project's own addon, into dist/native/)
#   3. the real parts (default: all; NVMEOF_SKIP_REAL_PARTS=1 skips them):
#        test/vm/prepare.sh        the Linux kernel NVMe/TCP host in qemu (tests only)
#        test/cluster/prepare.sh   the single-node Kubernetes cluster
#   4. --build: `tsc`, then `exec CMD ARGS...` (so a signal sent to npm reaches CMD itself)
#
# Cached build outputs live in ${NVMEOF_CACHE:-$HOME/.cache/nvmeof-operator}.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
. scripts/lib.sh

# A SIGTERM or SIGINT sent to npm alone (npm forwards it here) must stop a build in progress too, not
# only this shell: each step runs in the background and is waited for (bash runs a trap only between
# foreground commands), and the trap ends the whole process group. The final `exec` drops the trap.
trap 'trap - TERM INT; echo "prepare: stopped by a signal" >&2; kill -TERM 0 2>/dev/null; exit 143' TERM INT
step() { "$@" & wait $!; }

parts=vm,cluster build=0
while [ $# -gt 0 ]; do
  case $1 in
    --parts) parts=$2; shift 2 ;;
    --build) build=1; shift ;;
    --) shift; break ;;
    *) echo "prepare: unknown argument $1 (see the comment at the top of scripts/prepare.sh)" >&2; exit 2 ;;
  esac
done

apt_install build-essential python3 util-linux openssl psmisc

use_pinned_node "$ROOT"
echo "prepare: node $(node --version) at $(command -v node)"
# @riaskov/mmap-io's C++ needs C++20 against the headers of Node 24 and later.
export CXXFLAGS="${CXXFLAGS:-} -std=gnu++20"

# The ABI node_modules was built for (process.versions.modules), written after a good install.
abi_stamp=node_modules/.nvmeof-node-abi
abi=$(node -p process.versions.modules)
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "prepare: npm ci"
  step npm ci --no-audit --no-fund --loglevel=error
elif [ "$(cat "$abi_stamp" 2>/dev/null)" != "$abi" ]; then
  echo "prepare: node_modules was built for Node ABI $(cat "$abi_stamp" 2>/dev/null || echo unknown), not $abi: rebuilding the native addons"
  # Their build directories go first: npm rebuild skips an addon whose build output is present.
  rm -rf node_modules/@riaskov/mmap-io/build node_modules/fs-ext/build
  step npm rebuild --no-audit --no-fund --loglevel=error @riaskov/mmap-io fs-ext
fi
node -e "require('@riaskov/mmap-io'); require('fs-ext'); require('@node-rs/crc32')" ||
  { echo "prepare: the native addons do not load under $(node --version): see the errors above" >&2; exit 1; }
echo "$abi" > "$abi_stamp"
# The project's own addon (the file backend's SIGBUS-guarded mapping): into dist/native/, when out of date.
step bash native/safe-mmap/build.sh

if [ "${NVMEOF_SKIP_REAL_PARTS:-}" != 1 ]; then
  IFS=, read -r -a want <<<"$parts"
  for part in "${want[@]}"; do
    case $part in
      vm) step bash test/vm/prepare.sh ;;
      cluster) step bash test/cluster/prepare.sh; step bash test/crd129/prepare.sh >/dev/null ;;
      none) ;;
      *) echo "prepare: unknown part $part (vm, cluster, none)" >&2; exit 2 ;;
    esac
  done
fi

if [ "$build" = 1 ]; then step npm run --silent build; fi
if [ $# -gt 0 ]; then exec "$@"; fi
