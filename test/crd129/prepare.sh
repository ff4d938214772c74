#!/usr/bin/env bash
# Builds crd129 (test/crd129/main.go: the CRD's validation as Kubernetes 1.29's apiserver runs it; see
# test/README.md, "The CRD on Kubernetes 1.29's validation") with Go from the module proxy, into
#
#   ${NVMEOF_CACHE:-$HOME/.cache/nvmeof-operator}/crd129/<hash of go.mod, go.sum, main.go>/crd129
#
# and prints that path on stdout (the rest goes to stderr). Called by scripts/prepare.sh with the
# cluster's parts, and by test/crd129/upgrade.test.ts. Idempotent: with the binary there it only hashes.
set -euo pipefail
cd "$(dirname "$0")"
CACHE=${NVMEOF_CACHE:-$HOME/.cache/nvmeof-operator}
HASH=$(cat go.mod go.sum main.go | sha256sum | cut -c1-16)
DIR=$CACHE/crd129/$HASH
BIN=$DIR/crd129
say() { echo "prepare(crd129): $*" >&2; }

if [ ! -x "$BIN" ]; then
  command -v go >/dev/null || { say "ERROR: Go (1.22 or later) is not on PATH: it builds $BIN"; exit 1; }
  # Measured here on 2 cores with Go's build cache empty, the modules downloaded (about 10 s more
  # when not) and other jobs sharing the cores (load 5): 2.7 min, 3.7 CPU-minutes; cache warm: 3 s (41 s under load).
  say "building $BIN (k8s.io/apiextensions-apiserver v0.29.6; about 3 min on 2 cores with Go's build cache empty)"
  mkdir -p "$DIR"
  T0=$(date +%s)
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$BIN.tmp.$$" . 2>&1 |
    awk '/^go: downloading / { n++; next } { print > "/dev/stderr" } END { if (n) printf "prepare(crd129):   (%d modules downloaded)\n", n > "/dev/stderr" }'
  [ "${PIPESTATUS[0]}" -eq 0 ] || { rm -f "$BIN.tmp.$$"; say "ERROR: go build failed"; exit 1; }
  mv -f "$BIN.tmp.$$" "$BIN"
  say "built in $(($(date +%s) - T0)) s"
fi
echo "$BIN"
