#!/usr/bin/env bash
# Builds the Linux kernel NVMe/TCP host VM used by the tests on real parts:
# Debian's kernel (taken from its .deb, not installed) and a base initramfs with busybox,
# nvme-cli, fio, the nvme-tcp/nvmet modules and test/vm/init.sh as /init.
#
# Output: $cache/<key>/{bzImage,initramfs.cpio,kernel-version,ready}, where <key> hashes the
# kernel and tool package versions and this script and init.sh; `ready` is written last, so a
# folder with `ready` is complete. Idempotent: with a ready folder this takes well under 1 s.
#
#   bash test/vm/prepare.sh              install what is missing, build if needed
#   bash test/vm/prepare.sh --print-dir  print the folder the current sources need (no build)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${NVMEOF_CACHE:-$HOME/.cache/nvmeof-operator}/vm
tools=(busybox-static nvme-cli fio kmod cpio xz-utils)

# Boot-time modules (init.sh loads /etc/modules-boot in order) and the ones tests load on demand
# (the kernel's reference target, nvmet-tcp, over a null_blk, loop or file namespace).
boot_modules=(virtio_pci virtio_net e1000 configfs crc32c_intel crc32c_generic
  crct10dif_pclmul crct10dif_generic crc64_rocksoft_generic nvme_core nvme_fabrics nvme_tcp)
extra_modules=(nvmet nvmet_tcp null_blk loop)

log() { echo "vm-prepare: $*" >&2; }

find_dir() {
  # Sets kpkg, kdebver and dir. The kernel package is the one linux-image-amd64 currently points
  # at (bookworm-security moves it). apt-cache takes ~0.6 s here (no pkgcache.bin), so its answer
  # is memoized until apt's lists change (apt-get update renames files into that folder).
  local memo=$cache/.kernel-candidate stamp s
  stamp=$(stat -c %Y /var/lib/apt/lists)
  if [ -f "$memo" ] && read -r s kpkg kdebver <"$memo" && [ "$s" = "$stamp" ] && [ -n "$kdebver" ]; then
    :
  else
    read -r kpkg kdebver < <(apt-cache show --no-all-versions linux-image-amd64 2>/dev/null |
      sed -n 's/^Depends:.*\(linux-image-[0-9][^ ]*\) (= \([^)]*\)).*/\1 \2/p' | head -1) || true
    [ -n "${kdebver:-}" ] || { log "apt-cache knows no linux-image-amd64: run apt-get update"; return 1; }
    mkdir -p "$cache" && echo "$stamp $kpkg $kdebver" >"$memo"
  fi
  dir=$cache/$( {
    echo "$kpkg=$kdebver"
    dpkg-query -W -f '${Package}=${Version}\n' "${tools[@]}" libnvme1
    cat "$here/prepare.sh" "$here/init.sh"
  } | sha256sum | cut -c1-16)
}

if [ "${1:-}" = --print-dir ]; then find_dir; echo "$dir"; exit; fi

. "$here/../../scripts/lib.sh" # apt_install
apt_install qemu-system-x86 "${tools[@]}" util-linux

find_dir
if [ -f "$dir/ready" ]; then touch "$dir/ready"; exit 0; fi

# One build at a time per cache: concurrent `npm test` runs wait here, then find it ready.
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock -n 9 || { log "waiting for another build of the guest image"; flock 9; }
if [ -f "$dir/ready" ]; then exit 0; fi

start=$(date +%s)
work=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
log "building the guest image in $dir"

# 1. The kernel .deb, kept in $cache/debs so a change to this script does not download it again.
deb="$cache/debs/${kpkg}_${kdebver}_amd64.deb"
if [ ! -f "$deb" ]; then
  log "downloading $kpkg $kdebver"
  mkdir -p "$cache/debs"
  # apt-get download writes to the current folder; _apt cannot write there, hence the -o.
  (cd "$work" && apt-get download -q -o APT::Sandbox::User=root "$kpkg=$kdebver" >/dev/null)
  find "$cache/debs" -name 'linux-image-*.deb' -delete
  mv "$work"/linux-image-*.deb "$deb"
fi
log "extracting the kernel"
dpkg-deb -x "$deb" "$work/k"
kver=$(ls "$work/k/lib/modules")
# The .deb ships no modules.dep (the postinst makes it): make one to resolve dependencies.
depmod -b "$work/k" -F "$work/k/boot/System.map-$kver" "$kver"

# 2. The root file system: everything executable lives in /bin (the others link to it).
root="$work/root"
mkdir -p "$root"/{bin,dev,proc,sys,tmp,run,etc/nvme,lib/modules/"$kver",usr/lib}
for d in sbin usr/bin usr/sbin; do ln -s /bin "$root/$d"; done

log "copying modules for $kver"
mods=$(for m in "${boot_modules[@]}" "${extra_modules[@]}"; do
  modprobe -d "$work/k" -S "$kver" --show-depends "$m"
done | awk '$1 == "insmod" {print $2}' | awk '!seen[$0]++')
for f in $mods; do
  rel=${f#"$work/k/lib/modules/$kver/"}
  mkdir -p "$root/lib/modules/$kver/$(dirname "$rel")"
  cp "$f" "$root/lib/modules/$kver/$rel"
done
cp "$work/k/lib/modules/$kver"/modules.{builtin,builtin.modinfo,order} "$root/lib/modules/$kver/"
depmod -b "$root" -F "$work/k/boot/System.map-$kver" "$kver"
printf '%s\n' "${boot_modules[@]}" >"$root/etc/modules-boot"

copy_exe() {
  # copy_exe LAYER EXE: EXE into LAYER/bin, with each library ldd lists that neither LAYER nor the
  # base root has, at the path ldd resolved (so RUNPATHs, e.g. fio -> librbd -> ceph/, resolve).
  local layer=$1 exe=$2 lib
  if ldd "$exe" | grep -q 'not found'; then log "missing libraries for $exe:"; ldd "$exe"; exit 1; fi
  mkdir -p "$layer/bin"
  cp "$exe" "$layer/bin/"
  for lib in $(ldd "$exe" | grep -o '/[^ ]*'); do
    [ -e "$root$lib" ] || [ -e "$layer$lib" ] && continue
    mkdir -p "$layer$(dirname "$lib")"
    cp -L "$lib" "$layer$lib"
  done
}
write_cpio() { (cd "$1" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc -R 0:0 --quiet) >"$2"; }

log "copying busybox, nvme-cli, fio and their libraries"
cp /bin/busybox "$root/bin/busybox"
for a in $(busybox --list); do [ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"; done
copy_exe "$root" "$(command -v nvme)"
cp "$here/init.sh" "$root/init"
chmod 755 "$root/init"
# fio is a layer of its own: its libraries (ceph, ICU, ...) are 80 MB, and unpacking them costs
# each boot ~0.8 s in TCG, so guest.ts adds this layer only to runs that use fio.
copy_exe "$work/fio" "$(command -v fio)"

log "writing the initramfs layers and the kernel"
mkdir -p "$work/out"
# Uncompressed: the kernel unpacks them in the emulated (TCG) guest, where inflating is slow.
write_cpio "$root" "$work/out/base.cpio"
write_cpio "$work/fio" "$work/out/fio.cpio"
# The uncompressed ELF kernel, booted through its PVH entry: this skips the bzImage's xz
# decompression, which takes ~3 s in TCG. extract-vmlinux's method: find the xz stream, inflate.
offset=$(grep -abo $'\xfd7zXZ\x00' "$work/k/boot/vmlinuz-$kver" | head -1 | cut -d: -f1)
tail -c +$((offset + 1)) "$work/k/boot/vmlinuz-$kver" | xz -dcq >"$work/out/vmlinux" 2>/dev/null || true
# (xz complains about the bytes after the stream; the ELF check below is what counts.)
if [ "$(head -c4 "$work/out/vmlinux" | tail -c3)" != ELF ] ||
  ! grep -q '^CONFIG_PVH=y' "$work/k/boot/config-$kver"; then
  log "cannot extract a PVH-bootable ELF kernel from vmlinuz-$kver"; exit 1
fi
echo "$kver" >"$work/out/kernel-version"
touch "$work/out/ready"
rm -rf "$dir"
mv "$work/out" "$dir"
log "ready in $(( $(date +%s) - start ))s: $dir ($(du -sh "$dir" | cut -f1))"

# Builds for other sources (older checkouts) are dropped once unused for a week
# (the fast path above touches `ready` on every use).
for old in "$cache"/*/; do
  old=${old%/}
  if [ "$old" != "$dir" ] && [ -f "$old/ready" ] && [ -z "$(find "$old/ready" -mtime -7)" ]; then
    log "removing unused $old"
    rm -rf "$old"
  fi
done
