// The discovery service on port 8009 with the real Linux host (Debian 6.1 in qemu, nvme-cli 2.3): `nvme
// connect-all` connects every subsystem the discovery log lists, and `nvme discover -p` leaves a persistent
// discovery controller that stays (keep-alive) with an AER outstanding for Discovery Log Page Change Notices,
// until `nvme disconnect` closes it cleanly.
//
// Port 8009 on 127.0.0.1 (the guest's 10.0.2.2): the well-known NVMe/TCP discovery port, so connect-all is
// tested with the address a user types. Nothing else in the suite listens there (the suite runs one file at
// a time); a port that is taken fails the target's start with a message naming it.
//
// Where the subsystems listen: connect-all connects to the address the discovery log gives, and the log
// gives the listener's own address. 127.0.0.1 would be the guest's own loopback, and the guest's 10.0.2.2 is
// qemu's alias of this machine's loopback, which no socket here can be bound to. So the subsystems listen on
// `SUBSYSTEM_ADDRESS`, put for the test's life on the host end of a veth pair (`nvdisc18h`; this machine's
// kernel has no dummy links): an address local to this machine, which the guest routes to qemu's user
// networking and qemu connects to here. No packet leaves the machine; the pair is removed after the test
// (and before it, if a killed run left it).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GUEST_KERNELS, runGuest, vmAvailable } from '../vm/guest.js';
import { startTarget, freePort, type TargetProcess } from '../support/target-process.js';
import { DISCOVERY_NQN } from '../../target/protocol/opcodes.js';

const DISCOVERY_PORT = 8009;
const SUBSYSTEM_ADDRESS = '10.214.18.1';
const VETH = 'nvdisc18h';
const NQN_A = 'nqn.2026-01.io.nvmeof.test:disc-a';
const NQN_B = 'nqn.2026-01.io.nvmeof.test:disc-b';
const MiB = 1 << 20;
/** Namespace sizes, all different: a block device's size says which namespace it is. */
const NAMESPACES: Record<string, Array<[number, number]>> = { [NQN_A]: [[1, 24 * MiB]], [NQN_B]: [[1, 40 * MiB], [2, 56 * MiB]] };
/** KATO of the persistent discovery controller, in seconds (nvme-cli's default for -p is 30). */
const KATO_S = 4;
/** How long the persistent discovery controller is left alone: well past KATO. */
const IDLE_S = 3 * KATO_S;

let dir: string;
let target: TargetProcess | undefined;
let port: number;
let metricsPort: number;

before(async () => {
  for (const kernel of GUEST_KERNELS) {
    const vm = vmAvailable(kernel);
    assert.ok(vm.ok, `the Linux ${kernel} host VM is missing: ${vm.missing} (run: bash test/vm/prepare.sh)`);
  }
  dir = mkdtempSync(join(tmpdir(), 'nvmeof-e2e-disc-'));
  spawnSync('ip', ['link', 'del', VETH]); // a killed earlier run's
  try {
    execFileSync('ip', ['link', 'add', VETH, 'type', 'veth', 'peer', 'name', 'nvdisc18n'], { stdio: 'pipe' });
    execFileSync('ip', ['addr', 'add', `${SUBSYSTEM_ADDRESS}/32`, 'dev', VETH], { stdio: 'pipe' });
    execFileSync('ip', ['link', 'set', VETH, 'up'], { stdio: 'pipe' });
  } catch (e) {
    assert.fail(`cannot make the veth pair that carries ${SUBSYSTEM_ADDRESS} (needs root and iproute2): ${(e as Error).message}`);
  }
  port = await freePort();
  metricsPort = await freePort();
  const config = {
    apiVersion: 'nvmeof.io/v1alpha1',
    kind: 'TargetConfig',
    subsystems: Object.entries(NAMESPACES).map(([nqn, nss]) => ({
      nqn, allowAnyHost: true, listeners: [{ address: SUBSYSTEM_ADDRESS, port }],
      namespaces: nss.map(([nsid, size]) => ({ nsid, blockSize: 512, backing: { kind: 'memory', size } })),
    })),
    discoveryListeners: [{ address: '127.0.0.1', port: DISCOVERY_PORT }],
    metrics: { address: '127.0.0.1', port: metricsPort },
    logLevel: 'info',
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  target = await startTarget(['--config', join(dir, 'config.json')], { keepLines: 5000 });
});

after(async () => {
  try {
    await target?.kill('SIGTERM');
  } finally {
    spawnSync('ip', ['link', 'del', VETH]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
});

/** Lines of the guest's output that start with `tag `, split into words after it. */
function tagged(output: string, tag: string): string[][] {
  return output.split('\n').filter((l) => l.startsWith(`${tag} `)).map((l) => l.slice(tag.length + 1).trim().split(/\s+/));
}

/** The target's JSON log entries with `message`, logged at `since` (an ISO time) or later. */
function logged(message: string, since: string): Array<Record<string, unknown>> {
  return target!.lines.filter((l) => l.includes(`"message":"${message}"`)).map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((e) => String(e.timestamp) >= since);
}

async function keepAlives(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const m = new RegExp(`^nvmeof_target_admin_commands_total\\{subsystem="${DISCOVERY_NQN}",opcode="keep_alive"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

// One target for both guests, one after the other: each run counts only what was logged since it began.
for (const kernel of GUEST_KERNELS) {
  test(`the Linux ${kernel} host: nvme connect-all through port 8009 connects both subsystems; nvme discover -p keeps a discovery controller alive until disconnect`, { timeout: 240_000 }, async () => {
    const since = new Date().toISOString();
    const A = '10.0.2.2';
    const script = `
  set -u
  # Each controller: name, subsystem NQN, state.
  ctrls() { for c in /sys/class/nvme/nvme*; do [ -e "$c" ] && echo "$1 \${c##*/} $(cat $c/subsysnqn) $(cat $c/state)"; done; }

  nvme connect-all -t tcp -a ${A} -s ${DISCOVERY_PORT} || die "connect-all"
  for spec in ${Object.entries(NAMESPACES).flatMap(([nqn, nss]) => nss.map(([nsid]) => `${nqn}:${nsid}`)).join(' ')}; do
    nqn=\${spec%:*}; nsid=\${spec##*:}
    dev=$(nvme_wait_dev $nqn $nsid) || die "no namespace $nsid of $nqn"
    echo "NS $nqn $nsid $(cat /sys/block/\${dev#/dev/}/size)"
  done
  ctrls AFTER-CONNECT-ALL
  nvme disconnect -n ${NQN_A} || die "disconnect A"
  nvme disconnect -n ${NQN_B} || die "disconnect B"

  nvme discover -t tcp -a ${A} -s ${DISCOVERY_PORT} -p --keep-alive-tmo=${KATO_S} > /tmp/disc || die "discover -p"
  awk '/^subtype:/ { t = $2 } /^trsvcid:/ { s = $2 } /^subnqn:/ { n = $2 } /^traddr:/ { print "ENTRY", t, n, $2, s }' /tmp/disc
  ctrls PERSISTENT
  echo MARK-IDLE-START
  sleep ${IDLE_S}
  echo MARK-IDLE-END
  ctrls STILL
  d=$(for c in /sys/class/nvme/nvme*; do [ "$(cat $c/subsysnqn)" = "${DISCOVERY_NQN}" ] && echo \${c##*/}; done | head -n 1)
  [ -n "$d" ] || die "the persistent discovery controller is gone"
  nvme disconnect -d $d || die "disconnect $d"
  ctrls LEFT
  echo CTRLS-LEFT $(ls /sys/class/nvme | wc -l)
  `;
    let idleStart: number | undefined;
    let idleEnd: number | undefined;
    let kaAtStart = 0;
    let kaAtEnd = 0;
    const pending: Array<Promise<void>> = [];
    const r = await runGuest({
      kernel, script, timeoutMs: 180_000,
      onLine: (l) => {
        if (process.env.E2E_VERBOSE) console.log(l);
        if (l.startsWith('MARK-IDLE-START')) { idleStart = Date.now(); pending.push(keepAlives().then((n) => { kaAtStart = n; })); }
        if (l.startsWith('MARK-IDLE-END')) { idleEnd = Date.now(); pending.push(keepAlives().then((n) => { kaAtEnd = n; })); }
      },
    });
    await Promise.all(pending);
    const out = r.output;
    const tail = `\n${out.slice(-4000)}\n--- target ---\n${target!.lines.slice(-40).join('\n')}`;
    assert.equal(r.timedOut, false, `guest timed out:${tail}`);
    assert.equal(r.exitCode, 0, `guest script failed:${tail}`);

    // connect-all: every namespace of both subsystems, each the size of its own backing; no discovery
    // controller left behind (connect-all without -p disconnects it).
    const ns = tagged(out, 'NS').map(([nqn, nsid, sectors]) => [nqn, Number(nsid), Number(sectors) * 512]);
    assert.deepEqual(ns, Object.entries(NAMESPACES).flatMap(([nqn, nss]) => nss.map(([nsid, size]) => [nqn, nsid, size])));
    const afterAll = tagged(out, 'AFTER-CONNECT-ALL');
    assert.deepEqual(afterAll.map(([, nqn, state]) => `${nqn} ${state}`).sort(), [`${NQN_A} live`, `${NQN_B} live`], out);

    // discover -p: the discovery log lists both subsystems where they listen; the controller stays.
    const entries = tagged(out, 'ENTRY').filter(([type]) => type === 'nvme').map(([, nqn, addr, svc]) => `${nqn} ${addr}:${svc}`);
    assert.deepEqual(entries.sort(), [NQN_A, NQN_B].map((n) => `${n} ${SUBSYSTEM_ADDRESS}:${port}`), out);
    const persistent = tagged(out, 'PERSISTENT');
    assert.deepEqual(persistent.map(([, nqn, state]) => `${nqn} ${state}`), [`${DISCOVERY_NQN} live`]);
    const still = tagged(out, 'STILL');
    assert.deepEqual(still, persistent, `the same discovery controller, still live after ${IDLE_S} s (KATO ${KATO_S} s)`);
    assert.deepEqual(tagged(out, 'LEFT'), []);
    assert.deepEqual(tagged(out, 'CTRLS-LEFT'), [['0']]);

    // The target's side: one persistent discovery controller with the KATO asked, never timed out and never
    // reconnected; its host enabled the change notice and kept an AER outstanding; Keep Alives kept coming.
    const created = logged('controller created', since).filter((e) => e.subnqn === DISCOVERY_NQN);
    const persistentCtrl = created.find((e) => e.kato === KATO_S * 1000);
    assert.ok(persistentCtrl, `a discovery controller with KATO ${KATO_S * 1000} ms: ${JSON.stringify(created)}`);
    assert.equal(created.filter((e) => e.kato === KATO_S * 1000).length, 1, 'no reconnect of the persistent discovery controller');
    const removed = logged('controller removed', since).filter((e) => e.subnqn === DISCOVERY_NQN && e.cntlid === persistentCtrl.cntlid);
    assert.equal(removed.length, 1, JSON.stringify(removed));
    assert.doesNotMatch(String(removed[0].reason), /keep-alive|protocol|internal/, 'closed by the host, not by a timeout or an error');
    assert.ok(idleStart !== undefined && idleEnd !== undefined && idleEnd - idleStart >= IDLE_S * 1000 - 500, 'the guest slept through the idle period');
    // The Linux host sends Keep Alive every KATO / 2 (6.1: drivers/nvme/host/core.c nvme_keep_alive_work),
    // with TBKAS skipping a period only if a command completed in it: none does on an idle discovery queue.
    const kas = kaAtEnd - kaAtStart;
    assert.ok(kas >= Math.floor(IDLE_S / KATO_S), `Keep Alives while idle for ${IDLE_S} s (KATO ${KATO_S} s): ${kas}`);

    // What the Linux host asked of the discovery controllers (every one, connect-all's too): the notice
    // enabled (Set Features of AEC to bit 31), and AERs sent (the persistent one's is never completed).
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const count = (opcode: string) => Number(new RegExp(`^nvmeof_target_admin_commands_total\\{subsystem="${DISCOVERY_NQN}",opcode="${opcode}"\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0);
    assert.ok(count('set_features') >= 2, `Set Features on the discovery controllers: ${count('set_features')}\n${metrics}`);
    assert.equal(r.dmesg.match(/Failed to configure AEN/g), null, r.dmesg);
    assert.doesNotMatch(r.dmesg, /nvme\d+: (starting error recovery|Reconnecting|failed nvme_keep_alive)/, r.dmesg);
    assert.match(r.dmesg, new RegExp(`new ctrl: NQN "${DISCOVERY_NQN.replace(/\./g, '\\.')}"`));
  });
}
