#!/usr/bin/env bash
# Builds safe-mmap.c into dist/native/safe-mmap.node (where target/subsystem/backends/mapped.ts loads it
# from, and what the Node images carry with the rest of dist/) when the source is newer than the output.
# Node-API is ABI-stable: the headers of any Node 12 or later serve; those of the Node on PATH are used
# (npm_config_nodedir first: scripts/prepare.sh points it at the pinned Node). No cc: nothing is built,
# and the file backend uses pread/pwrite (it logs that once).
set -euo pipefail
cd "$(dirname "$0")/../.."
src=native/safe-mmap/safe-mmap.c out=dist/native/safe-mmap.node
[ -f "$out" ] && [ "$out" -nt "$src" ] && [ "$out" -nt native/safe-mmap/build.sh ] && exit 0
command -v cc >/dev/null || { echo "safe-mmap: no cc: the file backend will use pread/pwrite" >&2; exit 0; }
nodedir=${npm_config_nodedir:-$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")}
mkdir -p dist/native
cc -O2 -Wall -Wextra -shared -fPIC -I"$nodedir/include/node" -o "$out.tmp" "$src"
mv "$out.tmp" "$out"
