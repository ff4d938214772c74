// The Linux host's side of the chaos run (busybox ash in the qemu guest, test/vm): connect to the
// target pod's endpoint, then write and verify data until the test says stop.
//
// - A writer of distinct 4 KiB blocks: generation after generation, each of BLOCKS blocks gets
//   "blk <n> gen <g>" padded with zeros (O_DIRECT), is read back (O_DIRECT) and compared whole.
//   After every operation it reads /proc/uptime (a shell builtin, no fork) and prints
//   "GAP <from> <to>" (centiseconds of guest uptime) when more than GAP_CS passed since the previous
//   one completed: the host-visible stalls, which the test lines up with its kills.
// - fio, randwrite at iodepth 32 with crc32c verify (verify_backlog), on another region, in rounds of
//   FIO_ROUND_S seconds until told to stop; a round that fails stops everything.
// - Every second a poller asks the test whether to stop: a TCP server on this machine (the guest's
//   10.0.2.2) answers "go" or "stop" (busybox's static wget crashes in this guest, so nc, which does
//   not exit when the peer closes: it is ended after a second). Each generation the writer checks
//   that the namespace is still the same block device.
// At the end: the final generation of every block read back, fio's last round, the device and its
// identifiers (uuid, nguid, eui) unchanged, disconnect. Any error ends the script with "FAIL: ..." and
// a non-zero status.
export const BLOCKS = 32;
export const GAP_CS = 25;
export const FIO_ROUND_S = 10;

export interface GuestScriptOptions {
  address: string;
  port: number;
  nqn: string;
  /** the port of the test's control server on this machine's 127.0.0.1 (the guest reaches it at 10.0.2.2) */
  controlPort: number;
  ctrlLossTmo: number;
}

export function chaosGuestScript(o: GuestScriptOptions): string {
  return `set -u
nqn=${o.nqn}
nvme connect -t tcp -a ${o.address} -s ${o.port} -n "$nqn" --reconnect-delay=1 --ctrl-loss-tmo=${o.ctrlLossTmo} || die "nvme connect to ${o.address}:${o.port} failed"
dev=$(nvme_wait_dev "$nqn") || die "no namespace device"
b=/sys/block/\${dev#/dev/}
ids() { echo "uuid=$(cat $b/uuid 2>/dev/null) nguid=$(cat $b/nguid 2>/dev/null) eui=$(cat $b/eui 2>/dev/null)"; }
ids0=$(ids)
echo "DEVICE=$dev $ids0"

# Asks the test every second whether to stop; /tmp/stop tells the writer and fio.
(
  while [ ! -e /tmp/stop ]; do
    rm -f /tmp/ctl
    nc 10.0.2.2 ${o.controlPort} </dev/null >/tmp/ctl 2>/dev/null &
    p=$!
    sleep 1
    kill $p 2>/dev/null
    read -r ctl </tmp/ctl 2>/dev/null && [ "$ctl" = stop ] && touch /tmp/stop
  done
) &

# fio in rounds until /tmp/stop exists.
fio_rounds $dev ${FIO_ROUND_S} --offset=64M --size=64M --iodepth=32 --verify_backlog=512 &
fio_pid=$!

read -r up _ </proc/uptime
last=\${up%.*}\${up#*.}
ops=0
gaps=0
mark() {
  read -r up _ </proc/uptime
  now=\${up%.*}\${up#*.}
  if [ $((now - last)) -gt ${GAP_CS} ]; then echo "GAP $last $now $1"; gaps=$((gaps + 1)); fi
  last=$now
  ops=$((ops + 1))
}
block() { printf 'blk %08d gen %08d\\n' $1 $2 >/tmp/b; dd if=/tmp/b of=/tmp/bp bs=4096 count=1 conv=sync 2>/dev/null; }

gen=0
while [ ! -e /tmp/stop ]; do
  gen=$((gen + 1))
  blk=0
  while [ $blk -lt ${BLOCKS} ]; do
    block $blk $gen
    dd if=/tmp/bp of=$dev bs=4096 seek=$blk count=1 oflag=direct 2>/dev/null || die "write of blk $blk gen $gen failed"
    mark w
    dd if=$dev of=/tmp/r bs=4096 skip=$blk count=1 iflag=direct 2>/dev/null || die "read of blk $blk gen $gen failed"
    mark r
    cmp -s /tmp/bp /tmp/r || die "blk $blk gen $gen read back different data: $(head -c 40 /tmp/r | tr -c '[:print:]' .)"
    blk=$((blk + 1))
  done
  echo "GEN $gen ops=$ops"
  [ -e /tmp/fio-failed ] && die "fio failed"
  [ "$(nvme_dev "$nqn")" = "$dev" ] || die "the namespace is no longer $dev: $(nvme_dev "$nqn")"
done
echo "WRITER-DONE gen=$gen ops=$ops gaps=$gaps"
blk=0
while [ $blk -lt ${BLOCKS} ]; do
  block $blk $gen
  dd if=$dev of=/tmp/r bs=4096 skip=$blk count=1 iflag=direct 2>/dev/null || die "final read of blk $blk failed"
  cmp -s /tmp/bp /tmp/r || die "final content of blk $blk is not gen $gen: $(head -c 40 /tmp/r | tr -c '[:print:]' .)"
  blk=$((blk + 1))
done
echo "FINAL-GEN $gen"
wait $fio_pid || die "fio failed"
echo "FIO-DONE"
[ "$(nvme_dev "$nqn")" = "$dev" ] || die "the namespace is no longer $dev at the end: $(nvme_dev "$nqn")"
ids1=$(ids)
[ "$ids1" = "$ids0" ] || die "the namespace's identifiers changed: $ids0 -> $ids1"
echo "DEVICE-END=$dev $ids1"
sync
nvme disconnect -n "$nqn" >/dev/null || die "nvme disconnect failed"
echo CHAOS-GUEST-OK
`;
}
