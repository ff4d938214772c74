// Acceptance on real parts (issue 9): the Linux kernel host (in qemu, both guests: Debian's 6.1 with nvme-cli 2.3,
// and 6.12 with nvme-cli 2.13) uses reservations on our target with two host identities, and they survive a
// SIGKILL of the target (with and without PTPL) and, with PTPL only, a reboot of the node.
//
// One guest holds two identities: two controllers with different host NQNs and host identifiers, each
// through its own listener (nvme-cli refuses a second connection to the same address and port) and with
// native multipath off, so each controller has its own block devices and nvme-cli commands on them carry
// that controller's host identifier. Namespace 1 gets PTPL (Register with CPTPL 11b), namespace 2 not.
// The guest runs the whole story and, at two points, asks this test (over HTTP, 10.0.2.2) to kill and
// restart the target: once as a plain restart, once as a node reboot, faked by having the state file last
// written under another boot id (what the target finds after the node really rebooted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GUEST_KERNELS, runGuest } from '../vm/guest.js';
import { guestTestScope } from '../vm/guest-test-scope.js';
import { startTarget, freePort } from '../support/target-process.js';
import { openStateFile } from '../../target/state/state-file.js';
import { deriveNamespaceIds } from '../../target/subsystem/identity.js';
import { nullLogger } from '../../target/controller/observer.js';

const NQN = 'nqn.2026-01.io.nvmeof.test:reservations';
const NS_SIZE = 64 << 20;
const HOST_A = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const HOST_B = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
const KEY_A = 161; // 0xa1
const KEY_B = 178; // 0xb2

/** Text between "<name>-BEGIN" and "<name>-END" lines of the guest's output. */
function block(output: string, name: string): string {
  const m = new RegExp(`${name}-BEGIN\\n([\\s\\S]*?)\\n${name}-END`).exec(output);
  assert.ok(m, `guest output has no ${name} block`);
  return m[1];
}

interface Report { gen: number; rtype: number; regctl: number; ptpls: number; regs: Array<{ hostid: string; rkey: number; holder: boolean }> }

/** nvme-cli 2.3's `resv-report -e -o json`. */
function report(output: string, name: string): Report {
  const j = JSON.parse(block(output, name)) as Record<string, unknown>;
  const regs = ((j.regctlext ?? []) as Array<Record<string, unknown>>).map((r) => ({
    hostid: String(r.hostid).replace(/^0x/, '').padStart(32, '0'), rkey: Number(r.rkey), holder: (Number(r.rcsts) & 1) === 1,
  }));
  return { gen: Number(j.gen), rtype: Number(j.rtype), regctl: Number(j.regctl), ptpls: Number(j.ptpls), regs };
}

const hex = (uuid: string) => uuid.replace(/-/g, '');

for (const kernel of GUEST_KERNELS) {
  test(`the Linux ${kernel} host: reservations and conflicts as the spec says; kept across a kill, and across a reboot with PTPL only`, { timeout: 600_000 }, async (t) => {
    const scope = guestTestScope(t, kernel, 'nvmeof-resv-e2e-');
    const dir = scope.dir;
    let sync: Server | undefined;
    t.after(() => sync?.close());
    const [portA, portB, syncPort] = [await freePort(), await freePort(), await freePort()];
    const stateFile = join(dir, 'state.bin');
    const config = {
      apiVersion: 'nvmeof.io/v1alpha1', kind: 'TargetConfig',
      subsystems: [{
        nqn: NQN, allowAnyHost: true, stateFile,
        listeners: [{ address: '127.0.0.1', port: portA }, { address: '127.0.0.1', port: portB }],
        namespaces: [1, 2].map((nsid) => ({ nsid, blockSize: 512, backing: { kind: 'file', path: join(dir, `ns${nsid}.img`), size: NS_SIZE } })),
      }],
    };
    const configPath = join(dir, 'config.json');
    writeFileSync(configPath, JSON.stringify(config));
    const start = async () => { scope.target = await startTarget(['--config', configPath], { keepLines: 2000 }); };
    await start();

    // What the guest asks for between its steps: the step number it may go on to.
    let step = 0;
    const events: string[] = [];
    const kill = async () => {
      const r = await scope.target!.kill('SIGKILL');
      assert.equal(r.signal, 'SIGKILL');
    };
    const actions: Record<string, () => Promise<void>> = {
      async kill() {
        await kill();
        await start();
      },
      async reboot() {
        await kill();
        // The state file as a target that ran under another boot would have left it.
        const sf = await openStateFile({
          path: stateFile, durability: 'process', bootId: 'boot-before-the-reboot', log: nullLogger,
          identity: { nqn: NQN, namespaces: [1, 2].map((nsid) => ({ nsid, size: NS_SIZE, blockSize: 512, ...deriveNamespaceIds(NQN, nsid) })) },
        });
        assert.equal(sf.outcome, 'restored', 'the killed target left its state file');
        sf.close();
        await start();
      },
    };
    let busy: Promise<void> = Promise.resolve();
    sync = createServer((_req, res) => res.end(String(step)));
    await new Promise<void>((r) => sync!.listen(syncPort, '127.0.0.1', r));

    const A = `nqn.2014-08.org.nvmexpress:uuid:${HOST_A}`;
    const B = `nqn.2014-08.org.nvmexpress:uuid:${HOST_B}`;
    const script = `
  set -u
  # try NAME CMD...: runs CMD, prints "R NAME rc=<exit status> st=<NVMe status from nvme-cli, or none>".
  try() {
    local name=$1 out rc st
    shift
    out=$("$@" 2>&1); rc=$?
    st=$(echo "$out" | grep -o '(0x[0-9a-f]*)' | tail -n 1 | tr -d '()')
    echo "R $name rc=$rc st=\${st:-none}"
  }
  report() { echo "$1-BEGIN"; nvme resv-report "$2" -e -o json || die "resv-report $1"; echo "$1-END"; }
  wait_step() {
    local i=0
    while [ "$(wget -q -O - http://10.0.2.2:${syncPort}/ 2>/dev/null)" != "$1" ]; do
      sleep 0.2; i=$((i + 1)); [ $i -lt 300 ] || die "no step $1 from the test"
    done
  }
  ctrl_of() { for c in /sys/class/nvme/nvme*; do [ "$(cat $c/hostnqn)" = "$1" ] && echo \${c##*/}; done; }
  ns_dev() { for b in /sys/class/nvme/$1/nvme*n*; do [ "$(cat $b/nsid 2>/dev/null)" = "$2" ] && echo /dev/\${b##*/} && return 0; done; return 1; }
  wait_live() {
    local i=0
    while [ "$(cat /sys/class/nvme/$CA/state)" != live ] || [ "$(cat /sys/class/nvme/$CB/state)" != live ]; do
      sleep 0.2; i=$((i + 1)); [ $i -lt 300 ] || die "controllers not live again"
    done
  }
  blk() { head -c 512 /dev/zero | tr '\\0' "$1" > /tmp/blk-$1; }
  blk A; blk B

  nvme connect -t tcp -a 10.0.2.2 -s ${portA} -n ${NQN} --hostnqn=${A} --hostid=${HOST_A} --reconnect-delay=1 --ctrl-loss-tmo=120 --nr-io-queues=1 || die "connect A"
  nvme connect -t tcp -a 10.0.2.2 -s ${portB} -n ${NQN} --hostnqn=${B} --hostid=${HOST_B} --reconnect-delay=1 --ctrl-loss-tmo=120 --nr-io-queues=1 || die "connect B"
  CA=$(ctrl_of ${A}); CB=$(ctrl_of ${B})
  [ -n "$CA" ] && [ -n "$CB" ] || die "controllers of A and B"
  i=0; until A1=$(ns_dev $CA 1) && A2=$(ns_dev $CA 2) && B1=$(ns_dev $CB 1) && B2=$(ns_dev $CB 2); do sleep 0.1; i=$((i+1)); [ $i -lt 100 ] || die "namespaces"; done
  echo "DEVICES A=$CA $A1 $A2 B=$CB $B1 $B2"
  echo IDNS-BEGIN; nvme id-ns $A1 -o json; echo IDNS-END
  echo IDCTRL-BEGIN; nvme id-ctrl /dev/$CA -o json; echo IDCTRL-END
  nvme_rw() { nvme $1 $2 --start-block=0 --block-count=0 --data-size=512 --data=$3; }

  # Registration (namespace 1 with PTPL).
  try reg-a nvme resv-register $A1 --rrega=0 --nrkey=${KEY_A} --cptpl=3
  try reg-b nvme resv-register $B1 --rrega=0 --nrkey=${KEY_B}
  try reg-b-other-key nvme resv-register $B1 --rrega=0 --nrkey=999
  try report-no-eds nvme resv-report $A1
  try report-eds0 nvme io-passthru $A1 --opcode=0x0e --namespace-id=1 --cdw10=0x3ff --cdw11=0 --data-len=4096 --read
  # Write Exclusive held by A.
  try acq-a-we nvme resv-acquire $A1 --crkey=${KEY_A} --rtype=1 --racqa=0
  try acq-b-we nvme resv-acquire $B1 --crkey=${KEY_B} --rtype=1 --racqa=0
  try we-b-read nvme_rw read $B1 /tmp/out
  try we-b-write nvme_rw write $B1 /tmp/blk-B
  try we-b-dd dd if=/tmp/blk-B of=$B1 bs=512 count=1 oflag=direct
  try we-a-write nvme_rw write $A1 /tmp/blk-A
  try rel-a-wrong-type nvme resv-release $A1 --crkey=${KEY_A} --rtype=2 --rrela=0
  try rel-a-we nvme resv-release $A1 --crkey=${KEY_A} --rtype=1 --rrela=0
  try free-b-write nvme_rw write $B1 /tmp/blk-B
  # Exclusive Access held by A: B may not even read.
  try acq-a-ea nvme resv-acquire $A1 --crkey=${KEY_A} --rtype=2 --racqa=0
  try ea-b-read nvme_rw read $B1 /tmp/out
  try ea-b-dd-read dd if=$B1 of=/dev/null bs=512 count=1 iflag=direct
  # B preempts A into Write Exclusive - Registrants Only: A is no longer registered, and is told.
  try preempt-b nvme resv-acquire $B1 --crkey=${KEY_B} --prkey=${KEY_A} --rtype=3 --racqa=1
  echo LOG-A-BEGIN; nvme get-log /dev/$CA --log-id=0x80 --log-len=64 --namespace-id=0xffffffff --raw-binary | od -An -v -tx1 | tr -d '\\n'; echo; echo LOG-A-END
  try wero-a-write nvme_rw write $A1 /tmp/blk-A
  try wero-a-read nvme_rw read $A1 /tmp/out
  try reg-a-again nvme resv-register $A1 --rrega=0 --nrkey=${KEY_A}
  try wero-a-registered-write nvme_rw write $A1 /tmp/blk-A
  try rel-b-wero nvme resv-release $B1 --crkey=${KEY_B} --rtype=3 --rrela=0
  # All Registrants: both hold it; A preempts B's registration and aborts its commands.
  try acq-b-wear nvme resv-acquire $B1 --crkey=${KEY_B} --rtype=5 --racqa=0
  report REPORT-WEAR $A1
  try pa-a nvme resv-acquire $A1 --crkey=${KEY_A} --prkey=${KEY_B} --rtype=5 --racqa=2
  try wear-b-write nvme_rw write $B1 /tmp/blk-B
  try reg-b-again nvme resv-register $B1 --rrega=0 --nrkey=${KEY_B}
  try rel-a-wear nvme resv-release $A1 --crkey=${KEY_A} --rtype=5 --rrela=0
  try final-acq-a-we nvme resv-acquire $A1 --crkey=${KEY_A} --rtype=1 --racqa=0
  echo PTPL-BEGIN; nvme get-feature $A1 --feature-id=0x83 --namespace-id=1; nvme get-feature $A1 --feature-id=0x83 --namespace-id=2; echo PTPL-END

  # Namespace 2, no PTPL: a clear, then B holds Exclusive Access.
  try ns2-reg-a nvme resv-register $A2 --rrega=0 --nrkey=${KEY_A}
  try ns2-reg-b nvme resv-register $B2 --rrega=0 --nrkey=${KEY_B}
  try ns2-acq-a nvme resv-acquire $A2 --crkey=${KEY_A} --rtype=1 --racqa=0
  try ns2-clear-b nvme resv-release $B2 --crkey=${KEY_B} --rrela=1
  try ns2-reg-a-again nvme resv-register $A2 --rrega=0 --nrkey=${KEY_A}
  try ns2-reg-b-again nvme resv-register $B2 --rrega=0 --nrkey=${KEY_B}
  try ns2-acq-b-ea nvme resv-acquire $B2 --crkey=${KEY_B} --rtype=2 --racqa=0

  report BEFORE-1 $A1
  report BEFORE-2 $A2

  echo "SYNC kill"
  wait_step 1
  wait_live
  report KILL-1 $B1
  report KILL-2 $B2
  try kill-b-write-1 nvme_rw write $B1 /tmp/blk-B
  try kill-a-write-2 nvme_rw write $A2 /tmp/blk-A

  echo "SYNC reboot"
  wait_step 2
  wait_live
  report REBOOT-1 $B1
  report REBOOT-2 $B2
  try reboot-b-write-1 nvme_rw write $B1 /tmp/blk-B
  try reboot-a-write-2 nvme_rw write $A2 /tmp/blk-A

  nvme disconnect -n ${NQN} || die "disconnect"
  echo NVME-LEFT=$(ls /sys/class/nvme | wc -l)
  `;
    const r = await runGuest({
      kernel, signal: scope.signal, script, timeoutMs: 300_000, kernelArgs: ['nvme_core.multipath=N'],
      onLine: (l) => {
        if (process.env.E2E_VERBOSE) console.log(l);
        const m = /SYNC (kill|reboot)/.exec(l);
        if (!m) return;
        busy = busy.then(async () => {
          events.push(m[1]);
          await actions[m[1]]();
          step++;
        });
      },
    });
    await busy;
    const out = r.output;
    const tail = `\n${out.slice(-5000)}\n--- target ---\n${scope.target?.lines.slice(-40).join('\n')}`;
    assert.equal(r.timedOut, false, `guest timed out:${tail}`);
    assert.equal(r.exitCode, 0, `guest script failed:${tail}`);
    assert.deepEqual(events, ['kill', 'reboot']);

    // Every step's outcome: exit status 0, or the NVMe status nvme-cli printed.
    const steps = new Map([...out.matchAll(/^R (\S+) rc=(\d+) st=(\S+)$/gm)].map((m) => [m[1], m[2] === '0' ? 'ok' : m[3]]));
    const CONFLICT = '0x4083'; // Reservation Conflict, DNR
    const INVALID_FIELD = '0x4002';
    const HOSTID_INCONSISTENT = '0x4018';
    const want: Record<string, string> = {
      // A Reservation Report with EDS=0 is refused: the host identifiers are 128-bit. nvme-cli 2.3's resv-report
      // without -e sends EDS=0; 2.13's always sends EDS=1 (seen on the wire: CDW11 = 1), so there it succeeds.
      'reg-a': 'ok', 'reg-b': 'ok', 'reg-b-other-key': CONFLICT, 'report-no-eds': kernel === '6.1' ? HOSTID_INCONSISTENT : 'ok',
      'report-eds0': HOSTID_INCONSISTENT,
      'acq-a-we': 'ok', 'acq-b-we': CONFLICT, 'we-b-read': 'ok', 'we-b-write': CONFLICT, 'we-a-write': 'ok',
      'rel-a-wrong-type': INVALID_FIELD, 'rel-a-we': 'ok', 'free-b-write': 'ok',
      'acq-a-ea': 'ok', 'ea-b-read': CONFLICT,
      'preempt-b': 'ok', 'wero-a-write': CONFLICT, 'wero-a-read': 'ok', 'reg-a-again': 'ok', 'wero-a-registered-write': 'ok', 'rel-b-wero': 'ok',
      'acq-b-wear': 'ok', 'pa-a': 'ok', 'wear-b-write': CONFLICT, 'reg-b-again': 'ok', 'rel-a-wear': 'ok', 'final-acq-a-we': 'ok',
      'ns2-reg-a': 'ok', 'ns2-reg-b': 'ok', 'ns2-acq-a': 'ok', 'ns2-clear-b': 'ok', 'ns2-reg-a-again': 'ok', 'ns2-reg-b-again': 'ok', 'ns2-acq-b-ea': 'ok',
      'kill-b-write-1': CONFLICT, 'kill-a-write-2': CONFLICT,
      'reboot-b-write-1': CONFLICT, 'reboot-a-write-2': 'ok',
    };
    assert.deepEqual(Object.fromEntries(Object.keys(want).map((k) => [k, steps.get(k)])), want);
    // The block layer sees the fence too (EIO from dd, not only nvme-cli's passthrough).
    for (const k of ['we-b-dd', 'ea-b-dd-read']) assert.notEqual(steps.get(k), 'ok', `${k} must fail`);
    assert.match(r.dmesg, /reservation conflict|nexus error/i, 'the kernel logged the conflict');

    // Identify as the host sees it.
    const idns = JSON.parse(block(out, 'IDNS'));
    assert.equal(idns.rescap, 0xff, 'RESCAP: PTPL, all six types, IEKEY');
    assert.equal(idns.nmic, 1);
    assert.ok(JSON.parse(block(out, 'IDCTRL')).oncs & 0x20, 'ONCS: reservations');

    // A was told its registration was preempted (log page 80h: count, type 1, nsid 1).
    const log = Buffer.from(block(out, 'LOG-A').trim().split(/\s+/).map((x) => parseInt(x, 16)));
    assert.equal(log.length, 64);
    assert.ok(log.readBigUInt64LE(0) >= 1n);
    assert.equal(log[8], 1, 'Registration Preempted');
    assert.equal(log.readUInt32LE(12), 1);

    // All Registrants: every registrant holds it.
    const wear = report(out, 'REPORT-WEAR');
    assert.equal(wear.rtype, 5);
    assert.deepEqual(wear.regs.map((x) => x.holder), [true, true]);

    // PTPL: on for namespace 1 (CPTPL 11b), off for namespace 2.
    const ptpl = block(out, 'PTPL');
    assert.deepEqual([...ptpl.matchAll(/Current value:\s*(?:0x)?([0-9a-f]+)/g)].map((m) => parseInt(m[1], 16)), [1, 0], ptpl);

    const before1 = report(out, 'BEFORE-1');
    const before2 = report(out, 'BEFORE-2');
    assert.deepEqual(before1.regs, [{ hostid: hex(HOST_A), rkey: KEY_A, holder: true }, { hostid: hex(HOST_B), rkey: KEY_B, holder: false }]);
    assert.deepEqual({ rtype: before1.rtype, ptpls: before1.ptpls }, { rtype: 1, ptpls: 1 });
    assert.deepEqual(before2.regs, [{ hostid: hex(HOST_A), rkey: KEY_A, holder: false }, { hostid: hex(HOST_B), rkey: KEY_B, holder: true }]);
    assert.deepEqual({ rtype: before2.rtype, ptpls: before2.ptpls }, { rtype: 2, ptpls: 0 });
    // Generations: namespace 1 saw four registrations and two preempts; namespace 2 four registrations and a clear.
    assert.equal(before1.gen, 6);
    assert.equal(before2.gen, 5);

    // A SIGKILL and restart is not a power loss: everything as it was, PTPL or not.
    assert.deepEqual(report(out, 'KILL-1'), before1, 'after the kill, namespace 1 (PTPL)');
    assert.deepEqual(report(out, 'KILL-2'), before2, 'after the kill, namespace 2 (no PTPL)');
    // A node reboot: PTPL keeps namespace 1's state; namespace 2's is cleared.
    assert.deepEqual(report(out, 'REBOOT-1'), before1, 'after the reboot, namespace 1 (PTPL)');
    assert.deepEqual(report(out, 'REBOOT-2'), { gen: 0, rtype: 0, regctl: 0, ptpls: 0, regs: [] }, 'after the reboot, namespace 2 (no PTPL)');
    assert.equal(/NVME-LEFT=(\d+)/.exec(out)?.[1], '0');
    assert.ok(scope.target!.lines.some((l) => l.includes('reservations cleared: the node rebooted')), 'the target logged the clearing');
  });
}
