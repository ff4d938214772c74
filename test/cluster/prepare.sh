#!/usr/bin/env bash
# Prepares the parts of the single-node Kubernetes cluster (see test/README.md,
# "Kubernetes cluster"). Called by scripts/prepare.sh on every `npm test`, and by
# `npm start`. Idempotent: a second run takes seconds.
#
#   Debian: containerd, runc, containernetworking-plugins, iptables, conntrack, openssl
#   Go module proxy, cached in ${NVMEOF_CACHE:-$HOME/.cache/nvmeof-operator}:
#     k8s/<version>/bin/   etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
#                          kubelet, kube-proxy, kubectl   (test/cluster/k8s, one `go build`)
#     helm/<version>/helm  helm v3
#     images/pause         the sandbox image's binary (images/pause)
#
# etcd, kube-apiserver and kubectl are not built when KUBEBUILDER_ASSETS or
# TEST_ASSET_ETCD / TEST_ASSET_KUBE_APISERVER / TEST_ASSET_KUBECTL name them.
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

# --- Debian packages ------------------------------------------------------------
phase_start "debian packages"
apt_install containerd runc containernetworking-plugins iptables conntrack openssl \
  iproute2 util-linux tar kmod
phase_end

# --- etcd and Kubernetes ---------------------------------------------------------
# Which binaries somebody else already provides (envtest's convention).
asset() { # asset NAME VAR: prints the path given for NAME, if any
  local v=${!2:-}
  if [ -n "$v" ]; then echo "$v"; return; fi
  if [ -n "${KUBEBUILDER_ASSETS:-}" ] && [ -x "$KUBEBUILDER_ASSETS/$1" ]; then echo "$KUBEBUILDER_ASSETS/$1"; fi
}
want=()
for n in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
  case $n in
    etcd) given=$(asset etcd TEST_ASSET_ETCD) ;;
    kube-apiserver) given=$(asset kube-apiserver TEST_ASSET_KUBE_APISERVER) ;;
    kubectl) given=$(asset kubectl TEST_ASSET_KUBECTL) ;;
    *) given= ;;
  esac
  if [ -n "$given" ]; then
    [ -x "$given" ] || { say "ERROR: $n given as $given, which is not an executable file"; exit 1; }
    say "$n: using $given (not building it)"
  else
    want+=("$n")
  fi
done

# The stamp names what went into the binaries: the wrapper module, Go's version, the flags.
PKG=k8s.io/component-base/version CPKG=k8s.io/client-go/pkg/version
MINOR=$(echo "$K8S_VERSION" | cut -d. -f2)
LDFLAGS="-s -w"
for p in $PKG $CPKG; do
  LDFLAGS="$LDFLAGS -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$MINOR -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done
STAMP=$( (cd "$MOD" && cat go.mod go.sum cmd/*/main.go; go version; echo "$LDFLAGS") | sha256sum | cut -c1-16)

phase_start "kubernetes $K8S_VERSION"
todo=()
for n in "${want[@]}"; do
  if [ ! -x "$BIN/$n" ] || [ "$(cat "$BIN/.$n.stamp" 2>/dev/null)" != "$STAMP" ]; then todo+=("$n"); fi
done
if [ ${#todo[@]} -gt 0 ]; then
  say "building ${todo[*]} from the Go module proxy (a fresh machine: about 6-8 min on 2 cores)"
  mkdir -p "$BIN"
  OUT=$(mktemp -d "$CACHE/k8s/$K8S_VERSION/build.XXXXXX")
  trap 'rm -rf "$OUT"' EXIT
  pkgs=(); for n in "${todo[@]}"; do pkgs+=("./cmd/$n"); done
  # -v names each package as it is compiled: count them, to show progress.
  set +e
  (cd "$MOD" && go build -v -trimpath -ldflags "$LDFLAGS" -o "$OUT/" "${pkgs[@]}" 2>&1) | awk -v t0="$(date +%s)" '
    /^[a-zA-Z0-9._\/-]+$/ { n++; if (n % 200 == 0) { printf "prepare(cluster):   compiled %d packages, %d s\n", n, systime() - t0; fflush() } ; next }
    { print; fflush() }
    END { printf "prepare(cluster):   compiled %d packages and linked, %d s\n", n, systime() - t0 }'
  rc=${PIPESTATUS[0]}
  set -e
  [ "$rc" -eq 0 ] || { say "ERROR: go build failed ($rc)"; exit 1; }
  for n in "${todo[@]}"; do mv -f "$OUT/$n" "$BIN/$n"; echo "$STAMP" > "$BIN/.$n.stamp"; done
  rm -rf "$OUT"; trap - EXIT
  phase_end "built ${#todo[@]} binaries"
else
  phase_end "cached in $BIN"
fi

# --- helm ------------------------------------------------------------------------
phase_start "helm $HELM_VERSION"
HELM_DIR=$CACHE/helm/$HELM_VERSION
if [ ! -x "$HELM_DIR/helm" ] || ! "$HELM_DIR/helm" version --short 2>/dev/null | grep -q "^$HELM_VERSION"; then
  say "building helm $HELM_VERSION"
  GOBIN=$HELM_DIR go install -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
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
