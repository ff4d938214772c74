#!/bin/sh
# PID 1 of the test guest (busybox sh). Sets up the kernel NVMe/TCP host, runs /test.sh (added
# per run by guest.ts as a second cpio archive), then prints, in this order and always:
#   GUEST-DMESG-BEGIN / the kernel log lines logged while /test.sh ran / GUEST-DMESG-END
#   GUEST-EXIT=<exit status of /test.sh>
# and powers off. If anything here dies instead, the kernel panics (PID 1 exited), panic=-1
# reboots, and qemu's -no-reboot turns that into an exit: the host never waits on a dead guest.
export PATH=/bin HOME=/tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run

while read -r m; do
  modprobe "$m" 2>/dev/null || echo "init: cannot load module $m"
done </etc/modules-boot
mount -t configfs configfs /sys/kernel/config

# QEMU user networking (slirp): the host's 127.0.0.1 is 10.0.2.2 from here.
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2

# A fresh host NQN per boot; a test that needs a fixed one overwrites these files.
uuid=$(cat /proc/sys/kernel/random/uuid)
echo "nqn.2014-08.org.nvmexpress:uuid:$uuid" >/etc/nvme/hostnqn
echo "$uuid" >/etc/nvme/hostid

# Only the lines logged from here on are printed at the end: the serial port of an emulated
# guest moves ~15 KB/s, and the boot log alone is 25 KB.
klog_lines=$(dmesg | wc -l)
read -r up _ </proc/uptime
echo "GUEST-READY uptime=$up"
if [ -f /test.sh ]; then
  (cd /tmp && sh /test.sh </dev/null)
  rc=$?
else
  echo "init: no /test.sh in the initramfs"
  rc=127
fi
# From here the kernel is asked to print nothing more to the console: a flood of its messages (an I/O error storm) is
# still being written out over the slow serial port long after it was logged, and would cut into the lines
# below (a GUEST-EXIT line cut in two once read as no exit status at all). dmesg below has them all.
dmesg -n 1
# The exit status goes out before the kernel log too: after an I/O-error storm that log is hundreds of KB,
# and the serial port's last bytes can be lost to the power-off. The host reads the last GUEST-EXIT line.
echo "GUEST-EXIT=$rc"
echo GUEST-DMESG-BEGIN
dmesg | tail -n +$((klog_lines + 1))
echo GUEST-DMESG-END
echo "GUEST-EXIT=$rc"
sync
sleep 1 # the serial port's buffer drains
poweroff -f
