// Self-test of the VM harness: the guest boots, its tools run, and its kernel NVMe/TCP host
// works end to end against the kernel's own target (nvmet-tcp) inside the same guest.
// It needs no code of ours beyond the harness, so a failure here is the harness's or the machine's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { cpioArchive } from './cpio.js';
import { dmesgBlocks, GUEST_KERNELS, runGuest, vmAvailable } from './guest.js';

test('cpio: newc entries are 4-byte aligned and end with a trailer', () => {
  const a = cpioArchive([{ name: 'test.sh', data: 'echo hi\n', mode: 0o755 }]);
  assert.equal(a.length % 4, 0);
  assert.equal(a.subarray(0, 6).toString(), '070701');
  assert.equal(a.subarray(6 + 8, 6 + 16).toString(), '000081ed'); // regular file, 0755
  assert.ok(a.includes('echo hi\n'));
  assert.ok(a.includes('TRAILER!!!\0'));
});

test('dmesgBlocks: collects the marked blocks', () => {
  const out = 'x\nGUEST-DMESG-BEGIN\n[1] a\n[2] b\nGUEST-DMESG-END\ny\nGUEST-DMESG-BEGIN\n[3] c\nGUEST-DMESG-END';
  assert.deepEqual(dmesgBlocks(out), ['[1] a\n[2] b', '[3] c']);
});

// The 6.12 guest is the base of the authentication and TLS tests: its kernel modules and tools are there.
const TLS_AUTH_TOOLS = String.raw`
modprobe tls || die "no tls module"
grep -q '^nvme_auth ' /proc/modules || die "nvme_auth not loaded (nvme_tcp needs it on 6.12)"
grep -q '^nvme_keyring ' /proc/modules || die "nvme_keyring not loaded"
keyctl show @u >/dev/null || die "keyctl"
tlshd --help 2>&1 | grep -qi usage || die "tlshd"
nvme gen-tls-key --hmac=1 | grep -q '^NVMeTLSkey-1:01:' || die "nvme gen-tls-key"
nvme gen-dhchap-key --hmac=1 --nqn=nqn.2014-08.org.nvmexpress:uuid:$(cat /etc/nvme/hostid) | grep -q '^DHHC-1:01:' || die "nvme gen-dhchap-key"
echo TLS-AUTH-TOOLS-OK
`;

// What each guest is built with (test/vm/prepare.sh): its kernel's series and nvme-cli's version.
const EXPECTED = {
  '6.1': { nvmeCli: /^nvme version 2\.3\b/m },
  '6.12': { nvmeCli: /^nvme version 2\.13\b/m },
} as const;

for (const kernel of GUEST_KERNELS) test(`guest ${kernel}: modules, tools, host reachable, and nvme-tcp against the in-guest nvmet-tcp`, async () => {
  const vm = vmAvailable(kernel);
  assert.ok(vm.ok, vm.missing ?? 'the VM is missing'); // a missing VM fails this test: it never skips
  // A TCP server on the host's loopback, where our target will listen: the guest sees it as 10.0.2.2.
  const received: string[] = [];
  const server = createServer((sock) => {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      received.push(d.trim());
      sock.end('PONG\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const nqn = 'nqn.2024-01.io.nvmeof-operator:harness-selftest';
  const script = String.raw`
set -e
for m in nvme_tcp nvme_fabrics nvme_core virtio_net; do
  grep -q "^$m " /proc/modules || die "module $m not loaded"
done
echo "KERNEL=$(uname -r)"
nvme version
fio --version
ip route | grep -q 'default via 10.0.2.2' || die "no default route via 10.0.2.2"
# busybox nc does not exit when the peer closes: run it in the background, wait for the reply.
echo PING | nc 10.0.2.2 ${port} >/tmp/nc.out &
nc_pid=$!
for i in $(seq 50); do grep -q PONG /tmp/nc.out && break; sleep 0.1; done
kill $nc_pid 2>/dev/null || true
grep -q PONG /tmp/nc.out || die "no reply from the host's 127.0.0.1:${port} via 10.0.2.2"
echo HOST-REACHABLE

nvmet_start ${nqn} 4420 127.0.0.1 64 || die "nvmet_start"
nvme discover -t tcp -a 127.0.0.1 -s 4420 | grep -q "subnqn: *${nqn}" || die "not discovered"
nvme connect -t tcp -a 127.0.0.1 -s 4420 -n ${nqn} --reconnect-delay=1 --ctrl-loss-tmo=5
dev=$(nvme_wait_dev ${nqn} 1 10)
echo "DEVICE=$dev CTRLS=$(nvme_ctrls ${nqn})"

# 1 MiB of random data through the kernel host, O_DIRECT both ways, then compared.
dd if=/dev/urandom of=/tmp/pattern bs=64k count=16 2>/dev/null
dd if=/tmp/pattern of=$dev bs=64k count=16 oflag=direct 2>/dev/null
dd if=$dev of=/tmp/readback bs=64k count=16 iflag=direct 2>/dev/null
cmp /tmp/pattern /tmp/readback || die "read back differs"
echo DD-VERIFY-OK

fio --name=verify --filename=$dev --ioengine=libaio --direct=1 --rw=randwrite --bs=4k \
  --size=4m --iodepth=16 --verify=crc32c --do_verify=1 --output-format=terse >/tmp/fio.out
echo FIO-VERIFY-OK

nvme disconnect -n ${nqn} | grep -q 'disconnected 1 controller' || die "disconnect"
[ -z "$(nvme_dev ${nqn})" ] || die "device still present after disconnect"
${kernel === '6.12' ? TLS_AUTH_TOOLS : ''}`;
  const r = await runGuest({ kernel, script, timeoutMs: 90_000 }).finally(() => server.close());
  const context = `\n--- guest output ---\n${r.output}`;
  assert.equal(r.timedOut, false, 'guest timed out' + context);
  assert.equal(r.exitCode, 0, 'guest script failed' + context);
  assert.match(r.output, new RegExp(`^KERNEL=${kernel.replace('.', '\\.')}\\.\\d+`, 'm'));
  assert.match(r.output, EXPECTED[kernel].nvmeCli);
  assert.match(r.output, /^fio-\d/m);
  assert.match(r.output, /^DEVICE=\/dev\/nvme\d+n1 CTRLS=nvme\d+$/m);
  assert.match(r.output, /^HOST-REACHABLE$/m);
  assert.deepEqual(received, ['PING']);
  assert.match(r.output, /^DD-VERIFY-OK$/m);
  assert.match(r.output, /^FIO-VERIFY-OK$/m);
  // The kernel log of the run, printed by init after the script, shows the host side's view.
  assert.match(r.dmesg, new RegExp(`nvme nvme\\d+: new ctrl: NQN "${nqn}", addr 127\\.0\\.0\\.1:4420`));
  assert.match(r.dmesg, /Removing ctrl: NQN/);
  assert.ok(r.bootMs !== null && r.bootMs < 30_000, `boot took ${r.bootMs} ms`);
  if (kernel === '6.12') assert.match(r.output, /^TLS-AUTH-TOOLS-OK$/m);
  console.log(`guest ${kernel}: boot ${r.bootMs} ms, whole run ${r.durationMs} ms`);
});

test('guest: the exit status comes through; abort and timeout kill qemu', async () => {
  const vm = vmAvailable();
  assert.ok(vm.ok, vm.missing ?? 'the VM is missing');
  const failed = await runGuest({ script: 'echo bye; exit 7', timeoutMs: 30_000 });
  assert.equal(failed.exitCode, 7, failed.output);

  const ac = new AbortController();
  const onLine = (line: string) => line === 'STARTED' && ac.abort();
  const aborted = await runGuest({ script: 'echo STARTED; sleep 600', timeoutMs: 30_000, onLine, signal: ac.signal });
  assert.deepEqual([aborted.aborted, aborted.timedOut, aborted.exitCode], [true, false, null]);

  const timedOut = await runGuest({ script: 'sleep 600', timeoutMs: 1_000 });
  assert.deepEqual([timedOut.aborted, timedOut.timedOut, timedOut.exitCode], [false, true, null]);
  assert.ok(timedOut.durationMs < 10_000, `killed after ${timedOut.durationMs} ms`);
});
