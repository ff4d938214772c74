#!/usr/bin/env bash
# Builds the Linux kernel NVMe/TCP host VMs used by the tests on real parts, one per kernel:
#   6.1   Debian bookworm's kernel, with the machine's own busybox, nvme-cli 2.3 and fio;
#   6.12  Debian trixie's kernel, with trixie's busybox, nvme-cli 2.13 (libnvme 1.13), fio, keyctl and
#         tlshd, taken from a `debootstrap --variant=minbase trixie` root kept in the cache.
# Each is a kernel (taken from its .deb, never installed) and initramfs layers with those tools, the
# nvme-tcp/nvmet modules and test/vm/init.sh as /init. Trixie's packages come through a sources file
# and lists folder of our own ($cache/trixie/): the machine's apt configuration is never changed, and no
# trixie package is installed on the machine.
#
# Output: $cache/<key>/{vmlinux,base.cpio,fio.cpio,kernel-version,ready}, where <key> hashes the kernel
# and tool package versions and this script and init.sh; `ready` is written last, so a folder with
# `ready` is complete. Idempotent: with ready folders this takes well under 1 s.
#
#   bash test/vm/prepare.sh [--kernel 6.1|6.12|all]   install what is missing, build what is needed
#                                                      (default: all)
#   bash test/vm/prepare.sh --kernel K --print-dir     print the folder the current sources need for
#                                                      kernel K (default 6.1); builds nothing
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${NVMEOF_CACHE:-$HOME/.cache/nvmeof-operator}/vm
tools=(busybox-static nvme-cli fio kmod cpio xz-utils)
# Trixie's packages in the 6.12 guest (debootstrap --include; minbase brings libc and the rest).
trixie_tools=(busybox-static nvme-cli keyutils ktls-utils fio)

# Boot-time modules (init.sh loads /etc/modules-boot in order: those that are modules, not built in)
# and the ones tests load on demand (the kernel's reference target, nvmet-tcp, over a null_blk, loop or
# file namespace; tls for NVMe/TCP TLS, which 6.1 lacks, with the AEAD kTLS asks the crypto API for when tlshd
# hands it the session, gcm(aes) for TLS_AES_128_GCM_SHA256: without them tlshd's handshake succeeds and then
# fails with "The kernel does not support the requested algorithm").
boot_modules=(virtio_pci virtio_net e1000 configfs crc32c_intel crc32c_generic
  crct10dif_pclmul crct10dif_generic crc64_rocksoft_generic nvme_core nvme_fabrics nvme_tcp)
extra_modules=(nvmet nvmet_tcp null_blk loop)
extra_modules_612=(tls gcm ghash_generic)

log() { echo "vm-prepare: $*" >&2; }

kernel=all print=0
while [ $# -gt 0 ]; do
  case $1 in
    --kernel) kernel=$2; shift 2 ;;
    --print-dir) print=1; shift ;;
    *) log "unknown argument $1"; exit 2 ;;
  esac
done
case $kernel in 6.1 | 6.12 | all) ;; *) log "unknown kernel $kernel (6.1, 6.12, all)"; exit 2 ;; esac

# ---- trixie's apt, in a folder of our own -------------------------------------------------------------
tdir=$cache/trixie
tapt_opts=(-o "Dir::Etc::sourcelist=$tdir/sources.list" -o Dir::Etc::sourceparts=/nonexistent
  -o "Dir::State::Lists=$tdir/lists" -o "Dir::Cache=$tdir/apt-cache" -o APT::Sandbox::User=root)

debian_mirror() {
  # debian_mirror SUFFIX: the URI the machine's apt uses for its own release's suite <codename>SUFFIX
  # (e.g. "" or "-security"), read from apt itself, so one-line and deb822 sources files both count.
  local codename
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  apt-get indextargets --format '$(RELEASE) $(REPO_URI)' 2>/dev/null |
    awk -v s="$codename$1" '$1 == s {print $2; exit}'
}

trixie_lists() {
  # Fetches trixie's package lists once: the 6.12 image stays the same until they are fetched again, which
  # build() does when the kernel they name is gone from the mirror (rm -r $cache/trixie/lists to refresh by hand).
  [ -f "$tdir/lists/.complete" ] && return 0
  local main sec
  main=$(debian_mirror "") sec=$(debian_mirror -security)
  [ -n "$main" ] || { log "cannot tell which Debian mirror the machine's apt uses"; return 1; }
  mkdir -p "$tdir/lists/partial" "$tdir/apt-cache"
  {
    echo "deb $main trixie main"
    echo "deb $main trixie-updates main"
    if [ -n "$sec" ]; then echo "deb $sec trixie-security main"; fi
  } >"$tdir/sources.list"
  echo "$main" >"$tdir/mirror"
  log "fetching trixie's package lists ($main)"
  apt-get -qq "${tapt_opts[@]}" update
  touch "$tdir/lists/.complete"
}

# ---- the cache key of each kernel's image ---------------------------------------------------------------
kernel_candidate() {
  # kernel_candidate MEMO STAMP APT-CACHE-ARGS...: sets kpkg and kdebver to the package linux-image-amd64
  # currently points at (security updates move it). apt-cache takes ~0.6 s here (no pkgcache.bin), so its
  # answer, with the tool versions after it, is memoized until the lists folder changes.
  local memo=$1 stamp=$2 s
  shift 2
  if [ -f "$memo" ] && read -r s kpkg kdebver <"$memo" && [ "$s" = "$stamp" ] && [ -n "$kdebver" ]; then
    return 0
  fi
  read -r kpkg kdebver < <(apt-cache "$@" show --no-all-versions linux-image-amd64 2>/dev/null |
    sed -n 's/^Depends:.*\(linux-image-[0-9][^ ]*\) (= \([^)]*\)).*/\1 \2/p' | head -1) || true
  [ -n "${kdebver:-}" ] || { log "apt-cache knows no linux-image-amd64: run apt-get update"; return 1; }
  mkdir -p "$cache" && echo "$stamp $kpkg $kdebver" >"$memo"
}

find_dir() {
  # find_dir KERNEL: sets kpkg, kdebver, versions (of the tools) and dir for KERNEL.
  local stamp memo
  if [ "$1" = 6.1 ]; then
    kernel_candidate "$cache/.kernel-candidate" "$(stat -c %Y /var/lib/apt/lists)"
    versions=$(dpkg-query -W -f '${Package}=${Version}\n' "${tools[@]}" libnvme1)
  else
    [ -f "$tdir/lists/.complete" ] || { log "trixie's package lists are not fetched yet"; return 1; }
    stamp=$(stat -c %Y "$tdir/lists")
    memo=$tdir/.tool-versions
    kernel_candidate "$tdir/.kernel-candidate" "$stamp" "${tapt_opts[@]}"
    if [ ! -f "$memo" ] || [ "$(head -1 "$memo")" != "$stamp" ]; then
      { echo "$stamp"; apt-cache "${tapt_opts[@]}" show --no-all-versions "${trixie_tools[@]}" libnvme1t64 |
        sed -n 's/^Package: //p; s/^Version: //p' | paste -d= - -; } >"$memo"
    fi
    versions=$(tail -n +2 "$memo")
  fi
  dir=$cache/$( {
    echo "kernel $1"
    echo "$kpkg=$kdebver"
    echo "$versions"
    cat "$here/prepare.sh" "$here/init.sh"
  } | sha256sum | cut -c1-16)
}

if [ "$print" = 1 ]; then
  [ "$kernel" = all ] && kernel=6.1
  find_dir "$kernel"
  echo "$dir"
  exit
fi

# ---- building ---------------------------------------------------------------------------------------------
. "$here/../../scripts/lib.sh" # apt_install
apt_install qemu-system-x86 "${tools[@]}" util-linux
if [ "$kernel" != 6.1 ]; then apt_install debootstrap zstd; fi

copy_exe() {
  # copy_exe LAYER EXE [SYSROOT]: EXE (a path inside SYSROOT, default /) into LAYER/bin, with each
  # library ldd lists that neither LAYER nor the base root has, at the path ldd resolved (so RUNPATHs,
  # e.g. fio -> librbd -> ceph/, resolve). A SYSROOT's ldd runs in it (chroot): its own loader and paths.
  local layer=$1 exe=$2 sys=${3:-} lib deps
  if [ -n "$sys" ]; then deps=$(chroot "$sys" ldd "$exe"); else deps=$(ldd "$exe"); fi
  if grep -q 'not found' <<<"$deps"; then log "missing libraries for $exe:"; echo "$deps" >&2; exit 1; fi
  mkdir -p "$layer/bin"
  cp "$sys$exe" "$layer/bin/"
  for lib in $(grep -o '/[^ ]*' <<<"$deps"); do
    [ -e "$root$lib" ] || [ -e "$layer$lib" ] && continue
    mkdir -p "$layer$(dirname "$lib")"
    cp -L "$sys$lib" "$layer$lib"
  done
}
write_cpio() { (cd "$1" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc -R 0:0 --quiet) >"$2"; }

fetch_kernel() {
  # fetch_kernel APT-ARGS...: the kernel .deb into $deb (kept in $cache/debs, so a change to this script
  # does not download it again; the one it replaces, of the same major.minor, is dropped).
  deb="$cache/debs/${kpkg}_${kdebver}_amd64.deb"
  [ -f "$deb" ] && return 0
  log "downloading $kpkg $kdebver"
  mkdir -p "$cache/debs"
  local series=${kpkg#linux-image-}
  series=${series%%.*}.$(cut -d. -f2 <<<"${kpkg#linux-image-}")
  # apt-get download writes to the current folder; _apt cannot write there, hence the sandbox user.
  (cd "$work" && apt-get download -q -o APT::Sandbox::User=root "$@" "$kpkg=$kdebver" >/dev/null) || return 1
  find "$cache/debs" -name "linux-image-$series.*.deb" -delete
  mv "$work"/linux-image-*.deb "$deb"
}

trixie_root() {
  # Sets troot to a trixie minbase root with trixie_tools, made once per set of their versions.
  local key mirror
  key=$( { printf '%s\n' "${trixie_tools[@]}"; echo "$versions"; } | sha256sum | cut -c1-12)
  troot=$tdir/root-$key
  [ -f "$troot/.complete" ] && return 0
  rm -rf "$tdir"/root-*
  mirror=$(cat "$tdir/mirror")
  log "debootstrap --variant=minbase trixie into $troot (about a minute)"
  local inc
  inc=$(IFS=,; echo "${trixie_tools[*]}")
  debootstrap --variant=minbase --include="$inc" trixie "$troot" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; log "debootstrap failed"; rm -rf "$troot"; return 1; }
  touch "$troot/.complete"
}

extract_vmlinux() {
  # extract_vmlinux VMLINUZ CONFIG OUT: the uncompressed ELF kernel, booted through its PVH entry: this
  # skips the bzImage's decompression (xz took ~3 s in TCG). extract-vmlinux's method: find the
  # compressed stream's magic, inflate from there; the first offset that yields an ELF file wins.
  local z=$1 config=$2 out=$3 magic unpack off
  if grep -q '^CONFIG_KERNEL_ZSTD=y' "$config"; then magic=$'\x28\xb5\x2f\xfd' unpack='zstd -dcq'
  else magic=$'\xfd7zXZ' unpack='xz -dcq'; fi
  for off in $(LC_ALL=C grep -abo "$magic" "$z" | cut -d: -f1 | head -5); do
    # (the decompressor complains about the bytes after the stream; the ELF check is what counts.)
    tail -c +$((off + 1)) "$z" | $unpack >"$out" 2>/dev/null || true
    [ "$(head -c4 "$out" | tail -c3)" = ELF ] && break
  done
  if [ "$(head -c4 "$out" | tail -c3)" != ELF ] || ! grep -q '^CONFIG_PVH=y' "$config"; then
    log "cannot extract a PVH-bootable ELF kernel from $z"; exit 1
  fi
}

build() {
  # build KERNEL: the image of find_dir KERNEL into $dir.
  local k=$1 start work
  find_dir "$k"
  if [ -f "$dir/ready" ]; then touch "$dir/ready"; return 0; fi
  start=$(date +%s)
  work=$(mktemp -d "$cache/.build.XXXXXX")
  # shellcheck disable=SC2064 # the folder of this build, now
  trap "rm -rf '$work'" EXIT
  log "building the $k guest image in $dir"

  # 1. The kernel .deb, and (6.12) the trixie root its tools come from.
  local sys="" busybox=/bin/busybox nvme mods=("${boot_modules[@]}" "${extra_modules[@]}")
  if [ "$k" = 6.1 ]; then
    fetch_kernel
    nvme=$(command -v nvme)
  else
    # A kernel superseded on the mirror since the lists were fetched: fetch them again, once.
    fetch_kernel "${tapt_opts[@]}" || { rm -f "$tdir/lists/.complete"; trixie_lists; find_dir "$k"; fetch_kernel "${tapt_opts[@]}"; }
    trixie_root
    sys=$troot busybox=$troot/usr/bin/busybox nvme=/usr/sbin/nvme
    mods+=("${extra_modules_612[@]}")
  fi
  log "extracting the kernel"
  dpkg-deb -x "$deb" "$work/k"
  # Trixie's kernel is merged-/usr (usr/lib/modules); modprobe -d and depmod -b look in lib/modules.
  [ -e "$work/k/lib" ] || ln -s usr/lib "$work/k/lib"
  kver=$(ls "$work/k/lib/modules")
  # The .deb ships no modules.dep (the postinst makes it): make one to resolve dependencies.
  depmod -b "$work/k" -F "$work/k/boot/System.map-$kver" "$kver"

  # 2. The root file system: everything executable lives in /bin (the others link to it).
  root="$work/root"
  mkdir -p "$root"/{bin,dev,proc,sys,tmp,run,etc/nvme,lib/modules/"$kver",usr/lib}
  for d in sbin usr/bin usr/sbin; do ln -s /bin "$root/$d"; done

  log "copying modules for $kver"
  local m f rel files
  files=$(for m in "${mods[@]}"; do
    modprobe -d "$work/k" -S "$kver" --show-depends "$m"
  done | awk '$1 == "insmod" {print $2}' | awk '!seen[$0]++')
  for f in $files; do
    rel=${f#"$work/k/lib/modules/$kver/"}
    mkdir -p "$root/lib/modules/$kver/$(dirname "$rel")"
    cp "$f" "$root/lib/modules/$kver/$rel"
  done
  # Compressed modules (6.12's .ko.xz) are unpacked here once, not by every boot in TCG.
  find "$root/lib/modules/$kver" -name '*.ko.xz' -exec xz -d {} +
  cp "$work/k/lib/modules/$kver"/modules.{builtin,builtin.modinfo,order} "$root/lib/modules/$kver/"
  depmod -b "$root" -F "$work/k/boot/System.map-$kver" "$kver"
  # Modules built into this kernel (e.g. 6.12's crc64_rocksoft_generic) are left out of the boot list.
  for m in "${boot_modules[@]}"; do
    modprobe -d "$work/k" -S "$kver" --show-depends "$m" 2>/dev/null | grep -q '^insmod' && echo "$m"
  done >"$root/etc/modules-boot"

  log "copying busybox, nvme-cli, fio and their libraries"
  cp "$busybox" "$root/bin/busybox"
  for a in $("$busybox" --list); do [ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"; done
  copy_exe "$root" "$nvme" "$sys"
  if [ "$k" = 6.12 ]; then
    # For the authentication and TLS tests: keyctl (the .nvme keyring) and tlshd (the kTLS handshake).
    copy_exe "$root" /usr/bin/keyctl "$sys"
    copy_exe "$root" /usr/sbin/tlshd "$sys"
  fi
  cp "$here/init.sh" "$root/init"
  chmod 755 "$root/init"
  # fio is a layer of its own: its libraries (ceph, ICU, ...) are 80 MB, and unpacking them costs
  # each boot ~0.8 s in TCG, so guest.ts adds this layer only to runs that use fio.
  if [ -n "$sys" ]; then copy_exe "$work/fio" /usr/bin/fio "$sys"; else copy_exe "$work/fio" "$(command -v fio)"; fi

  log "writing the initramfs layers and the kernel"
  mkdir -p "$work/out"
  # Uncompressed: the kernel unpacks them in the emulated (TCG) guest, where inflating is slow.
  write_cpio "$root" "$work/out/base.cpio"
  write_cpio "$work/fio" "$work/out/fio.cpio"
  extract_vmlinux "$work/k/boot/vmlinuz-$kver" "$work/k/boot/config-$kver" "$work/out/vmlinux"
  echo "$kver" >"$work/out/kernel-version"
  touch "$work/out/ready"
  rm -rf "$dir"
  mv "$work/out" "$dir"
  rm -rf "$work"
  trap - EXIT
  log "ready in $(( $(date +%s) - start ))s: $dir ($(du -sh "$dir" | cut -f1))"
}

want=(6.1 6.12)
[ "$kernel" = all ] || want=("$kernel")
ready() { local k; for k in "${want[@]}"; do find_dir "$k" 2>/dev/null && [ -f "$dir/ready" ] || return 1; done; }
if ready; then for k in "${want[@]}"; do find_dir "$k" && touch "$dir/ready"; done; exit 0; fi

# One build at a time per cache: concurrent `npm test` runs wait here, then find it ready.
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock -n 9 || { log "waiting for another build of the guest images"; flock 9; }
for k in "${want[@]}"; do
  if [ "$k" = 6.12 ]; then trixie_lists; fi
  build "$k"
  keep+=("$dir")
done

# Builds for other sources (older checkouts) are dropped once unused for a week
# (the fast path above touches `ready` on every use).
for old in "$cache"/*/; do
  old=${old%/}
  if [[ " ${keep[*]} " != *" $old "* ]] && [ -f "$old/ready" ] && [ -z "$(find "$old/ready" -mtime -7)" ]; then
    log "removing unused $old"
    rm -rf "$old"
  fi
done
