#!/usr/bin/env bash
# Prepares the parts of the single-node Kubernetes cluster (see test/README.md,
# "Kubernetes cluster"). Called by scripts/prepare.sh on every `npm test`, and by
# `npm start`. Idempotent: a second run takes seconds.
#
#   Debian: containerd, runc, containernetworking-plugins, iptables, conntrack, openssl
#   Go module proxy, cached in ${NVMEOF_CACHE:-$HOME/.cache/nvmeof-operator}:
#     k8s/<version>/bin/   nvmeof-k8s: etcd, kube-apiserver, kube-controller-manager,
#                          kube-scheduler, kubelet, kube-proxy and kubectl in one multi-call
#                          binary (test/cluster/k8s), and a link to it named after each
#     helm/<version>/helm  helm v3
#     images/pause         the sandbox image's binary (images/pause)
#
# etcd, kube-apiserver and kubectl named by KUBEBUILDER_ASSETS or TEST_ASSET_ETCD /
# TEST_ASSET_KUBE_APISERVER / TEST_ASSET_KUBECTL are used instead of ours (paths.ts).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
CACHE=${NVMEOF_CACHE:-$HOME/.cache/nvmeof-operator}
MOD=$ROOT/test/cluster/k8s
K8S_VERSION=$(awk '$1=="k8s.io/kubernetes" {print $2; exit}' "$MOD/go.mod")
HELM_VERSION=v3.21.4
BIN=$CACHE/k8s/$K8S_VERSION/bin
export CGO_ENABLED=0

say() { echo "prepare(cluster): $*"; }
now() { date +%s.%N; }
T0=$(now)
phase_start() { PHASE=$1; PT=$(now); }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%6.1f", b - a }'; }
phase_end() { say "$(printf '%-28s %s s%s' "$PHASE" "$(since "$PT")" "${1:+  ($1)}")"; }

. scripts/lib.sh # apt_install

# One build at a time per cache: concurrent `npm test` runs wait here, then find the parts built (every
# step below is idempotent). Held until this script exits.
mkdir -p "$CACHE"
exec 9>"$CACHE/.cluster-prepare.lock"
flock -n 9 || { say "waiting for another preparation of the cluster parts"; flock 9; }

# --- Debian packages ------------------------------------------------------------
phase_start "debian packages"
apt_install containerd runc containernetworking-plugins iptables conntrack openssl \
  iproute2 util-linux tar kmod
phase_end

# --- etcd and Kubernetes ---------------------------------------------------------
# One multi-call binary, bin/nvmeof-k8s (test/cluster/k8s/cmd/nvmeof-k8s), and a link to it
# for each component: callers run bin/etcd, bin/kube-apiserver, ... bin/kubectl as ever. One
# link instead of seven: the code the components share (client-go, apimachinery, grpc, ...) is
# linked once. kubectl is in it too: `kubectl version --client` says the cluster's release.
MULTI=nvmeof-k8s
COMPONENTS="etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl"
# Which binaries somebody else provides (envtest's convention): those are used instead of
# ours (test/cluster/paths.ts), ours are built all the same (the others need the binary).
asset() { # asset NAME VAR: prints the path given for NAME, if any
  local v=${!2:-}
  if [ -n "$v" ]; then echo "$v"; return; fi
  if [ -n "${KUBEBUILDER_ASSETS:-}" ] && [ -x "$KUBEBUILDER_ASSETS/$1" ]; then echo "$KUBEBUILDER_ASSETS/$1"; fi
}
for pair in etcd:TEST_ASSET_ETCD kube-apiserver:TEST_ASSET_KUBE_APISERVER kubectl:TEST_ASSET_KUBECTL; do
  given=$(asset "${pair%%:*}" "${pair#*:}")
  if [ -n "$given" ]; then
    [ -x "$given" ] || { say "ERROR: ${pair%%:*} given as $given, which is not an executable file"; exit 1; }
    say "${pair%%:*}: using $given instead of $BIN/${pair%%:*}"
  fi
done

# The stamp names what went into the binary: the wrapper module, Go's version, the flags.
PKG=k8s.io/component-base/version CPKG=k8s.io/client-go/pkg/version
MINOR=$(echo "$K8S_VERSION" | cut -d. -f2)
LDFLAGS="-s -w"
for p in $PKG $CPKG; do
  LDFLAGS="$LDFLAGS -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$MINOR -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done
STAMP=$( (cd "$MOD" && cat go.mod go.sum cmd/*/main.go; go version; echo "$LDFLAGS") | sha256sum | cut -c1-16)

# Go's "go: downloading <module>" lines (hundreds on a fresh machine) are counted, not shown.
quiet_downloads() {
  awk '/^go: downloading / { n++; next } { print; fflush() }
       END { if (n) printf "prepare(cluster):   (%d more modules downloaded)\n", n }'
}

phase_start "kubernetes $K8S_VERSION"
if [ ! -x "$BIN/$MULTI" ] || [ "$(cat "$BIN/.$MULTI.stamp" 2>/dev/null)" != "$STAMP" ]; then
  # Measured here on 2 cores with empty Go build and module caches (GOCACHE, GOMODCACHE), as on a
  # fresh machine, while other jobs shared the cores (mean load 5.6): this phase 10.4 min (the modules
  # 10 s of it), helm 2.9 min, 13.3 min in all; 20.6 min under heavier load (the build got 0.65 of a
  # core). 13 CPU-minutes in all. Go's build cache warm (a new clone): 22 s, linking; nothing changed: 0.4 s.
  say "building etcd and Kubernetes as one binary from the Go module proxy: on a fresh machine about 10 min on 2 cores, and helm 3 more (more when other jobs share the cores)"
  mkdir -p "$BIN"
  OUT=$(mktemp -d "$CACHE/k8s/$K8S_VERSION/build.XXXXXX")
  trap 'rm -rf "$OUT"' EXIT
  # 1. The modules, quietly, with a line every 30 s: go.mod's require lines name every module
  #    that provides a package (go >= 1.17), which is what `go mod download` fetches.
  nmods=$(awk '/^require \(/ { r = 1; next } r && /^\)/ { r = 0 } r && NF >= 2 { n++ } END { print n + 0 }' "$MOD/go.mod")
  modcache=$(go env GOMODCACHE)
  mkdir -p "$modcache/cache/download"
  touch "$OUT/.t0"
  DT=$(now)
  ( while sleep 30; do
      say "  modules: $(find "$modcache/cache/download" -name '*.zip' -newer "$OUT/.t0" 2>/dev/null | wc -l) of about $nmods downloaded, $(since "$DT" | tr -d ' ') s"
    done ) &
  ticker=$!
  set +e
  (cd "$MOD" && go mod download) > "$OUT/download.log" 2>&1
  rc=$?
  set -e
  kill "$ticker" 2>/dev/null; wait "$ticker" 2>/dev/null || true
  [ "$rc" -eq 0 ] || { cat "$OUT/download.log"; say "ERROR: go mod download failed ($rc)"; exit 1; }
  fetched=$(find "$modcache/cache/download" -name '*.zip' -newer "$OUT/.t0" | wc -l)
  say "  modules: $nmods required, $fetched downloaded now, $(since "$DT" | tr -d ' ') s"
  # 2. The packages: -v names each as it is compiled; count them against `go list -deps`.
  npkgs=$(cd "$MOD" && go list -deps "./cmd/$MULTI" | wc -l)
  set +e
  (cd "$MOD" && go build -v -trimpath -ldflags "$LDFLAGS" -o "$OUT/$MULTI" "./cmd/$MULTI" 2>&1) | quiet_downloads | awk -v t0="$(date +%s)" -v all="$npkgs" '
    /^[a-zA-Z0-9._\/-]+$/ { n++; if (n % 250 == 0) { printf "prepare(cluster):   compiled %d packages (of at most %d), %d s\n", n, all, systime() - t0; fflush() } ; next }
    { print; fflush() }
    END { printf "prepare(cluster):   compiled %d packages (the others were in Go'"'"'s build cache), %d s\n", n, systime() - t0 }'
  rc=${PIPESTATUS[0]}
  set -e
  [ "$rc" -eq 0 ] || { say "ERROR: go build failed ($rc)"; exit 1; }
  mv -f "$OUT/$MULTI" "$BIN/$MULTI"
  echo "$STAMP" > "$BIN/.$MULTI.stamp"
  rm -rf "$OUT"; trap - EXIT
  built="built $BIN/$MULTI ($(du -m "$BIN/$MULTI" | cut -f1) MB)"
else
  built="cached in $BIN"
fi
# The components' names: links to the one binary (replacing the separate binaries and stamps
# of earlier builds).
for n in $COMPONENTS; do
  if [ "$(readlink "$BIN/$n" 2>/dev/null)" != "$MULTI" ]; then
    rm -f "$BIN/$n" "$BIN/.$n.stamp"
    ln -s "$MULTI" "$BIN/$n"
  fi
done
phase_end "$built"

# --- helm ------------------------------------------------------------------------
phase_start "helm $HELM_VERSION"
HELM_DIR=$CACHE/helm/$HELM_VERSION
if [ ! -x "$HELM_DIR/helm" ] || ! "$HELM_DIR/helm" version --short 2>/dev/null | grep -q "^$HELM_VERSION"; then
  say "building helm $HELM_VERSION (about 3 min with Go's build cache empty)"
  GOBIN=$HELM_DIR go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" 2>&1 | quiet_downloads
  phase_end "built"
else
  phase_end "cached"
fi

# --- the sandbox image's binary ----------------------------------------------------
phase_start "pause binary"
mkdir -p "$CACHE/images"
PSTAMP=$( (cat images/pause/go.mod images/pause/main.go; go version) | sha256sum | cut -c1-16)
if [ ! -x "$CACHE/images/pause" ] || [ "$(cat "$CACHE/images/.pause.stamp" 2>/dev/null)" != "$PSTAMP" ]; then
  (cd images/pause && go build -trimpath -ldflags "-s -w" -o "$CACHE/images/pause.tmp" .)
  mv -f "$CACHE/images/pause.tmp" "$CACHE/images/pause"
  echo "$PSTAMP" > "$CACHE/images/.pause.stamp"
  phase_end "built"
else
  phase_end "cached"
fi

say "$(printf '%-28s %s s' "all" "$(since "$T0")")"
