// Acceptance on real parts: the Linux kernel's NVMe/TCP host and nvme-cli (in qemu: Debian bookworm's 6.1 with
// nvme-cli 2.3, and Debian trixie's 6.12 with nvme-cli 2.13) against our target running on this machine, with a
// file namespace and a block-device namespace (a loop device). One target serves both guests, one after the other.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GUEST_KERNELS, runGuest, vmAvailable } from '../vm/guest.js';
import { startTarget, freePort, type TargetProcess } from '../support/target-process.js';
import { deriveNamespaceIds, deriveSerial, formatUuid } from '../../target/subsystem/identity.js';

const FILE_NQN = 'nqn.2026-01.io.nvmeof.test:file';
const BLOCK_NQN = 'nqn.2026-01.io.nvmeof.test:block';

let dir: string;
let loopDev: string | undefined;
let target: TargetProcess | undefined;
let port: number;
let discoveryPort: number;
let metricsPort: number;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nvmeof-e2e-'));
  const loopFile = join(dir, 'loop.img');
  writeFileSync(loopFile, '');
  truncateSync(loopFile, 128 << 20);
  try {
    loopDev = execFileSync('losetup', ['--find', '--show', loopFile], { encoding: 'utf8' }).trim();
  } catch (e) {
    assert.fail(`cannot attach a loop device for the block backend (needs root and util-linux's losetup): ${(e as Error).message}`);
  }
  port = await freePort();
  discoveryPort = await freePort();
  metricsPort = await freePort();
  const config = {
    apiVersion: 'nvmeof.io/v1alpha1',
    kind: 'TargetConfig',
    subsystems: [
      {
        nqn: FILE_NQN, allowAnyHost: true, listeners: [{ address: '127.0.0.1', port }],
        namespaces: [{ nsid: 1, blockSize: 512, backing: { kind: 'file', path: join(dir, 'ns1.img'), size: 256 << 20 } }],
      },
      {
        nqn: BLOCK_NQN, allowAnyHost: true, listeners: [{ address: '127.0.0.1', port }],
        namespaces: [{ nsid: 1, blockSize: 4096, backing: { kind: 'block', path: loopDev } }],
      },
    ],
    discoveryListeners: [{ address: '127.0.0.1', port: discoveryPort }],
    metrics: { address: '127.0.0.1', port: metricsPort },
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  target = await startTarget(['--config', join(dir, 'config.json')]);
});

after(async () => {
  await target?.kill('SIGTERM');
  if (loopDev) execFileSync('losetup', ['-d', loopDev]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Text between "<name>-BEGIN" and "<name>-END" lines of the guest's output. */
function block(output: string, name: string): string {
  const m = new RegExp(`${name}-BEGIN\\n([\\s\\S]*?)\\n${name}-END`).exec(output);
  assert.ok(m, `guest output has no ${name} block`);
  return m[1];
}

// dd of patterns of 4 KiB to 1 MiB at offsets that are not multiples of the size (O_DIRECT), read back and compared.
const DD_PATTERNS = `
dd_patterns() {
  local dev=$1 bs=$2
  for spec in 4096:${'$'}((bs*3)) 8192:${'$'}((bs*17)) 12288:${'$'}((bs*1001)) 65536:${'$'}((bs*77)) 135168:${'$'}((bs*3333)) 1048576:${'$'}((bs*5)); do
    n=\${spec%%:*}; off=\${spec##*:}
    head -c $n /dev/urandom > /tmp/pat
    dd if=/tmp/pat of=$dev bs=$n count=1 oflag=direct,seek_bytes seek=$off 2>/dev/null || die "dd write $n at $off"
    dd if=$dev of=/tmp/back bs=$n count=1 iflag=direct,skip_bytes skip=$off 2>/dev/null || die "dd read $n at $off"
    cmp /tmp/pat /tmp/back || die "pattern of $n bytes at $off differs"
    echo "DD-OK $n $off"
  done
}
`;

const FIO = (dev: string) =>
  `fio --name=verify --filename=${dev} --ioengine=libaio --direct=1 --rw=randwrite --bs=4k --iodepth=32 --size=32M ` +
  `--runtime=10 --time_based --verify=crc32c --verify_backlog=1024 --verify_fatal=1 --output-format=terse --terse-version=3 || die "fio on ${dev}"`;

for (const kernel of GUEST_KERNELS) test(`the Linux ${kernel} kernel host discovers, connects, identifies and moves verified data`, { timeout: 300_000 }, async () => {
  const vm = vmAvailable(kernel);
  assert.ok(vm.ok, `the Linux host VM is missing: ${vm.missing} (run: bash test/vm/prepare.sh)`);
  const A = '10.0.2.2';
  const script = `
set -u
${DD_PATTERNS}
echo DISCOVER-BEGIN
nvme discover -t tcp -a ${A} -s ${discoveryPort} || die "discover"
echo DISCOVER-END

# One I/O queue, file backend.
nvme connect -t tcp -a ${A} -s ${port} -n ${FILE_NQN} --nr-io-queues=1 || die "connect file"
dev=$(nvme_wait_dev ${FILE_NQN}) || die "no file namespace"
ctrl=$(nvme_ctrls ${FILE_NQN} | head -n 1)
echo LIST-BEGIN; nvme list -o json; echo LIST-END
echo IDCTRL-BEGIN; nvme id-ctrl /dev/$ctrl -o json; echo IDCTRL-END
echo IDNS-BEGIN; nvme id-ns $dev -o json; echo IDNS-END
echo NSDESC-BEGIN; nvme ns-descs $dev -o json; echo NSDESC-END
dd_patterns $dev 512
nvme disconnect -n ${FILE_NQN} || die "disconnect file"

# Several I/O queues; fio with verify at iodepth 32.
nvme connect -t tcp -a ${A} -s ${port} -n ${FILE_NQN} --nr-io-queues=2 || die "connect file, 2 queues"
dev=$(nvme_wait_dev ${FILE_NQN}) || die "no file namespace (2 queues)"
echo FIO-FILE-BEGIN; ${FIO('$dev')}; echo FIO-FILE-END
nvme disconnect -n ${FILE_NQN} || die "disconnect file (2 queues)"

# Block-device backend with header and data digests.
nvme connect -t tcp -a ${A} -s ${port} -n ${BLOCK_NQN} -g -G --nr-io-queues=1 || die "connect block with digests"
dev=$(nvme_wait_dev ${BLOCK_NQN}) || die "no block namespace"
echo BLOCK-LBA=$(cat /sys/block/\${dev#/dev/}/queue/logical_block_size)
dd_patterns $dev 4096
echo FIO-BLOCK-BEGIN; ${FIO('$dev')}; echo FIO-BLOCK-END
nvme disconnect -n ${BLOCK_NQN} || die "disconnect block"
echo NVME-LEFT=$(ls /sys/class/nvme | wc -l)
`;
  const lines: string[] = [];
  const r = await runGuest({ kernel, script, timeoutMs: 240_000, cpus: 2, fio: true, onLine: (l) => { lines.push(l); if (process.env.E2E_VERBOSE) console.log(l); } });
  const out = r.output;
  assert.equal(r.timedOut, false, `guest timed out:\n${out.slice(-4000)}`);
  assert.equal(r.exitCode, 0, `guest script failed:\n${out.slice(-4000)}\n--- target ---\n${target!.lines.slice(-30).join('\n')}`);

  const disc = block(out, 'DISCOVER');
  assert.match(disc, new RegExp(`subnqn:\\s+${FILE_NQN.replace(/\./g, '\\.')}`));
  assert.match(disc, new RegExp(`subnqn:\\s+${BLOCK_NQN.replace(/\./g, '\\.')}`));
  assert.match(disc, new RegExp(`trsvcid:\\s+${port}`));

  const idctrl = JSON.parse(block(out, 'IDCTRL'));
  assert.equal(idctrl.sn.trim(), deriveSerial(FILE_NQN));
  assert.equal(idctrl.subnqn, FILE_NQN);
  assert.ok(idctrl.kas > 0);
  const ids = deriveNamespaceIds(FILE_NQN, 1);
  const idns = JSON.parse(block(out, 'IDNS'));
  assert.equal(idns.nsze, (256 << 20) / 512);
  assert.equal(idns.nmic, 1);
  assert.equal(String(idns.nguid).replace(/-/g, ''), ids.nguid.toString('hex'));
  assert.equal(BigInt(idns.eui64 === undefined ? 0 : '0x' + String(idns.eui64)).toString(16).padStart(16, '0'), ids.eui64.toString('hex'));
  const descs = block(out, 'NSDESC');
  assert.ok(descs.includes(formatUuid(ids.uuid)), `ns-descs shows the derived UUID ${formatUuid(ids.uuid)}:\n${descs}`);
  const list = block(out, 'LIST');
  assert.ok(list.includes(deriveSerial(FILE_NQN)), 'nvme list shows the serial');

  const queues = [...r.dmesg.matchAll(/creating (\d+) I\/O queues/g)].map((m) => m[1]);
  assert.deepEqual(queues, ['1', '2', '1'], 'one, then two, then one I/O queue');
  assert.equal((out.match(/DD-OK /g) ?? []).length, 12);
  assert.equal(/BLOCK-LBA=(\d+)/.exec(out)?.[1], '4096');
  for (const name of ['FIO-FILE', 'FIO-BLOCK']) {
    const terse = block(out, name).split('\n').find((l) => l.startsWith('3;'));
    assert.ok(terse, `${name}: fio printed its terse line`);
    const f = terse.split(';');
    // terse v3: version;fio;jobname;groupid;error;read fields (41);write_kb;...
    assert.equal(f[4], '0', `${name}: fio error code`);
    assert.ok(Number(f[46]) >= 4096, `${name}: fio wrote at least 4 MiB (wrote ${f[46]} KiB)`);
  }
  assert.equal(/NVME-LEFT=(\d+)/.exec(out)?.[1], '0', 'every controller disconnected');
  assert.doesNotMatch(r.dmesg, /I\/O error|identifiers changed|Buffer I\/O error/);

  // The I/O shows in the metrics, labelled with each subsystem's NQN.
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const value = (re: RegExp) => Number(re.exec(metrics)?.[1] ?? NaN);
  for (const nqn of [FILE_NQN, BLOCK_NQN]) {
    const q = nqn.replace(/\./g, '\\.');
    assert.ok(value(new RegExp(`nvmeof_target_io_total\\{subsystem="${q}",opcode="write"\\} (\\d+)`)) > 1000, `${nqn}: writes counted`);
    assert.ok(value(new RegExp(`nvmeof_target_io_bytes_total\\{subsystem="${q}",direction="read"\\} (\\d+)`)) > 0, `${nqn}: read bytes counted`);
    assert.ok(value(new RegExp(`nvmeof_target_io_duration_seconds_count\\{subsystem="${q}",opcode="read"\\} (\\d+)`)) > 0, `${nqn}: read latency observed`);
    assert.equal(value(new RegExp(`nvmeof_target_connections\\{subsystem="${q}"\\} (\\d+)`)), 0, `${nqn}: every connection closed`);
  }
  assert.equal((await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status, 200);
});
