# Shell functions for test scripts run in the guest (busybox ash). runGuest() (guest.ts) puts
# this file in front of every script, so a script can call them directly; guest.ts exports it
# as GUEST_HELPERS.
#
# Facts they rely on:
# - Debian's kernel has native NVMe multipath on: the block device of a namespace is the
#   subsystem's head (/sys/block/nvme<S>n<N>, S = subsystem instance, not controller), and each
#   path also appears as a hidden nvme<S>c<C>n<N>. So never assume nvme0n1: match subsysnqn.
# - Namespace scanning finishes after `nvme connect` returns: wait for the device.
# - nvmet's file backend opens with O_DIRECT unless buffered_io=1; tmpfs (here /tmp) has no
#   O_DIRECT in 6.1.

# die MESSAGE...: print to stderr and end the test with status 1.
die() { echo "FAIL: $*" >&2; exit 1; }

# nvme_dev NQN [NSID]: print /dev/<block device> of namespace NSID (default 1) of subsystem NQN.
nvme_dev() {
  local nqn=$1 nsid=${2:-1} b
  for b in /sys/block/nvme*; do
    case ${b##*/} in nvme*c*n*) continue ;; esac # a hidden multipath path, not the device
    [ "$(cat "$b/device/subsysnqn" 2>/dev/null)" = "$nqn" ] || continue
    [ "$(cat "$b/nsid" 2>/dev/null)" = "$nsid" ] || continue
    echo "/dev/${b##*/}"
    return 0
  done
  return 1
}

# nvme_wait_dev NQN [NSID] [SECONDS]: like nvme_dev (prints the device once it exists), waiting
# up to SECONDS (default 10). Use: dev=$(nvme_wait_dev "$nqn") || die "no device".
nvme_wait_dev() {
  local i=0 n=$((${3:-10} * 10)) dev
  while [ $i -lt $n ]; do
    dev=$(nvme_dev "$1" "${2:-1}") && [ -b "$dev" ] && echo "$dev" && return 0
    sleep 0.1
    i=$((i + 1))
  done
  echo "nvme_wait_dev: no namespace ${2:-1} of $1 after ${3:-10} s" >&2
  return 1
}

# nvme_ctrls NQN: print the names (nvme0 ...) of the controllers connected to subsystem NQN.
nvme_ctrls() {
  local c
  for c in /sys/class/nvme/nvme*; do
    [ "$(cat "$c/subsysnqn" 2>/dev/null)" = "$1" ] && echo "${c##*/}"
  done
  return 0
}

# guest_dmesg: print the whole kernel log between GUEST-DMESG-BEGIN / GUEST-DMESG-END lines
# (the host's dmesgBlocks() returns them). The log of the test's own run is printed anyway at
# the end; this one includes boot and module loading.
guest_dmesg() { echo GUEST-DMESG-BEGIN; dmesg; echo GUEST-DMESG-END; }

# nvmet_start NQN [PORT] [ADDR] [SIZE_MB]: the kernel's own NVMe/TCP target (nvmet-tcp), with one
# namespace on a SIZE_MB (default 64) file in tmpfs, any host allowed, listening on ADDR:PORT
# (default 127.0.0.1:4420). A reference to compare a target under test with.
nvmet_start() {
  local nqn=$1 port=${2:-4420} addr=${3:-127.0.0.1} mb=${4:-64}
  local cfg=/sys/kernel/config/nvmet sub=/sys/kernel/config/nvmet/subsystems/$1
  modprobe nvmet_tcp || return 1
  truncate -s "$((mb * 1024 * 1024))" "/tmp/nvmet-$port.img" || return 1
  mkdir "$sub" && echo 1 >"$sub/attr_allow_any_host" &&
    mkdir "$sub/namespaces/1" &&
    echo "/tmp/nvmet-$port.img" >"$sub/namespaces/1/device_path" &&
    echo 1 >"$sub/namespaces/1/buffered_io" &&
    echo 1 >"$sub/namespaces/1/enable" || return 1
  mkdir "$cfg/ports/$port" &&
    echo tcp >"$cfg/ports/$port/addr_trtype" &&
    echo ipv4 >"$cfg/ports/$port/addr_adrfam" &&
    echo "$addr" >"$cfg/ports/$port/addr_traddr" &&
    echo "$port" >"$cfg/ports/$port/addr_trsvcid" &&
    ln -s "$sub" "$cfg/ports/$port/subsystems/$nqn"
}

# gen_writer DEV SECONDS: for SECONDS, rewrites blocks 0-15 of DEV generation after generation with
# O_DIRECT dd, each block holding "blk <n> gen <g>" and read back at once (die on an error or a
# difference); prints "GEN <g> <uptime>" after each generation. Leaves the last generation in $gen.
gen_writer() {
  local dev=$1 end blk
  gen=0
  end=$(( $(cut -d. -f1 /proc/uptime) + $2 ))
  while [ "$(cut -d. -f1 /proc/uptime)" -lt "$end" ]; do
    gen=$((gen + 1))
    for blk in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
      printf 'blk %08d gen %08d\n' $blk $gen | dd of=/tmp/b bs=4096 conv=sync 2>/dev/null
      dd if=/tmp/b of=$dev bs=4096 seek=$blk count=1 oflag=direct 2>/dev/null || die "write blk $blk gen $gen"
      dd if=$dev of=/tmp/r bs=4096 skip=$blk count=1 iflag=direct 2>/dev/null || die "read blk $blk gen $gen"
      cmp -s /tmp/b /tmp/r || die "blk $blk gen $gen read back different data"
    done
    echo "GEN $gen $(cut -d' ' -f1 /proc/uptime)"
  done
}

# gen_check DEV GEN: each of blocks 0-15 of DEV holds generation GEN (die otherwise).
gen_check() {
  local blk
  for blk in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do
    dd if=$1 of=/tmp/r bs=4096 skip=$blk count=1 iflag=direct 2>/dev/null || die "final read $blk"
    head -c 25 /tmp/r | grep -q "blk $(printf %08d $blk) gen $(printf %08d $2)" || die "final content of blk $blk is not gen $2"
  done
}

# fio_rounds DEV SECONDS FIO-OPTION...: 4 KiB random writes with crc32c verify (verify_fatal) on DEV, O_DIRECT,
# in rounds of SECONDS until /tmp/stop exists; each round prints "FIO-ROUND <n> rc=<status> err=<fio's error>
# wkb=<KiB written>"; a failed round prints FIO-FAIL and fio's output, touches /tmp/fio-failed and ends the
# loop with status 1. The options say where and how hard (--offset, --size, --iodepth, --verify_backlog).
# Run it in the background: `fio_rounds $dev 10 --size=64M ... & fio_pid=$!`.
fio_rounds() {
  local dev=$1 secs=$2 round=0 rc err
  shift 2
  while [ ! -e /tmp/stop ]; do
    round=$((round + 1))
    fio --name=load --filename=$dev --ioengine=libaio --direct=1 --rw=randwrite --bs=4k "$@" \
      --time_based --runtime=$secs --verify=crc32c --verify_fatal=1 \
      --output-format=terse --terse-version=3 >/tmp/fio.out 2>&1
    rc=$?
    err=$(cut -d';' -f5 /tmp/fio.out | tail -n 1)
    echo "FIO-ROUND $round rc=$rc err=$err wkb=$(cut -d';' -f48 /tmp/fio.out | tail -n 1)"
    if [ $rc -ne 0 ] || [ "$err" != 0 ]; then echo "FIO-FAIL round $round"; cat /tmp/fio.out; touch /tmp/fio-failed; return 1; fi
  done
}
