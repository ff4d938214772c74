// Authentication and TLS keys from a Kubernetes Secret, through the operator (issue 21, 3's acceptance) on the
// real single-node cluster (test/cluster, its own cluster `nvmeofauth`, one operator replica) with the Linux
// 6.12 host in qemu (nvme-cli 2.13, keyutils, tlshd; native multipath off, so each controller has its own
// block device). One NvmeofSubsystem with a TLS 'allowed' listener and two hosts whose keys are in one Secret:
// host A authenticates with DH-HMAC-CHAP (host and controller key), host B connects with TLS (its PSK in the
// guest's keyring). The guest:
//   1. A with a wrong secret: refused;
//   2. A with its secret and the controller secret (nvme connect --dhchap-secret --dhchap-ctrl-secret): a
//      write and read back; this connection stays up to the end;
//   3. B with nvme connect --tls: a write and read back; this connection stays up to the end too;
//   4. ROTATE-NOW: the test replaces A's key in the Secret (kubectl apply); the guest connects A again with the
//      new key (through /dev/nvme-fabrics, duplicate_connect: A is still connected) every 0.5 s until the
//      target takes it: the time from the apply to that connect is printed (the kubelet's Secret refresh plus
//      the target's 1 s check; never asserted, it is the machine's);
//   5. A with the old key: refused; A's first connection is still live and serves a write and read;
//   6. ROTATE-PSK-NOW: the same for B's TLS PSK (the guest's keyring gets the new key; B connects again with
//      tls until the handshake succeeds), then the old PSK is refused and B's first TLS connection still serves.
// The target pod is the same one throughout (uid, no container restart). Before the guest, the apiserver
// refuses authentication with allowAnyHost, keys of a host outside hosts and TLS without a PSK (CEL). After
// it, a live key change: A's dhchapKey renamed to a data key the Secret does not hold yet is ConfigRejected
// naming host and file, then served by the same pod once the key is in the Secret (times printed). Last, a
// subsystem whose Secret lacks the key it names is Ready=False with reason KeyInvalid, naming host and file.
//
// Ports: 4600-4603 (this file's range: 4600/4601 the subsystem, 4602/4603 the one without its key) inside the
// cluster's own network namespace.
import { describe } from 'node:test';
import assert from 'node:assert/strict';
import type { Cluster } from '../cluster/cluster.js';
import { runGuest, vmAvailable, type GuestResult } from '../vm/guest.js';
import type { NvmeofSubsystem, NvmeofSubsystemSpec } from '../../operator/api/types.js';
import { formatDhchapSecret } from '../../target/auth/secret.js';
import { formatInterchangePsk } from '../../target/tls/psk.js';
import { TLS_HOST, TLS_HOST_SETUP, TLS_KEY, TLS_NQN } from '../e2e/tls-support.js';
import { conditionOf, getSubsystem, listPods, waitFor, waitSubsystemReady } from './deploy.js';
import { operatorSuite } from './suite.js';

const NS = 'nvmeof-auth';
const NAME = 'auth';
const SECRET = 'auth-keys';
const PORT = 4600;
const METRICS_PORT = 4601;
const HOST_ID_A = '3f0c6a2e-1b7d-4e59-8c3a-5d2e9f0a1b01';
const A = `nqn.2014-08.org.nvmexpress:uuid:${HOST_ID_A}`;
/** B is the TLS guest's own host NQN (its /etc/nvme/hostnqn and the identity its PSK is inserted for). */
const B = TLS_HOST;
/** B's host ID, given explicitly: nvme-cli would reuse A's, which the kernel refuses with another host NQN ("found same hostid ... but different hostnqn"). */
const B_HOST_ID = TLS_HOST.split(':uuid:')[1];
const key = (fill: number) => formatDhchapSecret({ hh: 1, key: Buffer.alloc(32, fill) });
const KEY_A = key(0xa1);
const KEY_A_NEW = key(0xa2);
const WRONG_KEY_A = key(0xaf);
const CTRL_KEY = key(0xc1);
const TLS_KEY_NEW = formatInterchangePsk({ transform: 1, key: Buffer.alloc(32, 0x5b) });

let c: Cluster;

function secret(dhchapA: string, pskB = TLS_KEY, more: Record<string, string> = {}): string {
  return JSON.stringify({
    apiVersion: 'v1', kind: 'Secret', metadata: { name: SECRET, namespace: NS }, type: 'Opaque',
    stringData: { 'host-a.dhchap': dhchapA, 'ctrl.dhchap': CTRL_KEY, 'host-b.psk': pskB, ...more },
  });
}

function resource(name: string, spec: Partial<NvmeofSubsystemSpec>): string {
  return JSON.stringify({ apiVersion: 'nvmeof.io/v1alpha1', kind: 'NvmeofSubsystem', metadata: { name, namespace: NS }, spec });
}

const SPEC: Partial<NvmeofSubsystemSpec> = {
  // The NQN the guest's PSK is inserted for (tls-support.ts).
  nqn: TLS_NQN,
  listener: { port: PORT, metricsPort: METRICS_PORT, tls: 'allowed' },
  hosts: [A, B],
  namespaces: [{ nsid: 1, size: '64Mi', backing: { file: { path: 'ns1.img' } } }],
  authentication: {
    secretName: SECRET,
    hosts: [
      { nqn: A, dhchapKey: 'host-a.dhchap', dhchapCtrlKey: 'ctrl.dhchap' },
      { nqn: B, tlsPsk: 'host-b.psk' },
    ],
  },
};

async function targetPods(s: NvmeofSubsystem) {
  return (await listPods(c, NS, `nvmeof.io/role=target,nvmeof.io/subsystem-uid=${s.metadata.uid}`)).filter((p) => !p.metadata.deletionTimestamp);
}

function guestScript(address: string, port: string): string {
  return String.raw`set -u
${TLS_HOST_SETUP}
insert_psk "${TLS_KEY}"
nqn=${TLS_NQN}
up() { cut -d' ' -f1 /proc/uptime; }
ctrl_of() { for c in /sys/class/nvme/nvme*; do [ "$(cat $c/hostnqn 2>/dev/null)" = "$1" ] && echo $${'{'}c##*/}; done; return 0; }
rw() { printf "auth-$2-%0500d" 0 | dd of=/dev/$1 bs=512 count=1 conv=sync oflag=direct 2>/dev/null && dd if=/dev/$1 bs=512 count=1 iflag=direct 2>/dev/null | grep -q "auth-$2-"; }
connect() { nvme connect -t tcp -a ${address} -s ${port} -n $nqn --nr-io-queues=1 --ctrl-loss-tmo=60 --reconnect-delay=1 "$@"; }
# A second controller of a host while its first one stays: the kernel's fabrics interface, as nvme-cli writes
# it (nvme-cli answers "already connected"). OPTIONS: the host's and its keys'.
fabrics() {
  exec 3<>/dev/nvme-fabrics || return 1
  echo "nqn=$nqn,transport=tcp,traddr=${address},trsvcid=${port},nr_io_queues=1,duplicate_connect,$1" >&3 2>/dev/null || { exec 3>&-; return 1; }
  read -r made <&3
  exec 3>&-
  echo "$made" | sed -n 's/.*instance=\([0-9]*\).*/nvme\1/p'
}
fabrics_a() { fabrics "hostnqn=${A},hostid=${HOST_ID_A},dhchap_secret=$1,dhchap_ctrl_secret=${CTRL_KEY}"; }
# The kernel finds B's PSK in the .nvme keyring by its identity and hands the handshake to tlshd.
fabrics_b() { fabrics "hostnqn=${B},hostid=${B_HOST_ID},tls"; }
# until_connected WHAT CONNECT: CONNECT every 0.5 s until it makes a controller (at most 200 s); prints it.
until_connected() {
  local n=0 made
  until made=$($2) && [ -n "$made" ]; do
    n=$((n + 1)); [ $n -lt 400 ] || die "$1 never accepted (200 s)"
    sleep 0.5
  done
  echo "$made $n"
}

dmesg -c >/dev/null
if connect --hostnqn=${A} --hostid=${HOST_ID_A} --dhchap-secret=${WRONG_KEY_A} 2>/tmp/err; then die "A with a wrong secret connected"; fi
echo "REFUSED wrong-secret | $(head -1 /tmp/err) | $(dmesg | grep -o 'qid 0: .*' | head -1)"

dmesg -c >/dev/null
connect --hostnqn=${A} --hostid=${HOST_ID_A} --dhchap-secret=${KEY_A} --dhchap-ctrl-secret=${CTRL_KEY} 2>/tmp/err || die "A with its secret: $(head -1 /tmp/err) $(dmesg | tail -3)"
CA=$(ctrl_of ${A})
i=0; until [ -b /dev/$${'{'}CA}n1 ]; do sleep 0.1; i=$((i + 1)); [ $i -lt 100 ] || die "no namespace of A"; done
rw $${'{'}CA}n1 a || die "write and read back on A"
echo "CASE dhchap ok $CA | $(dmesg | grep -o 'qid 0: .*authenticated.*' | head -1)"

dmesg -c >/dev/null
connect --hostnqn=${B} --hostid=${B_HOST_ID} --tls 2>/tmp/err || { cat /tmp/tlshd.log; die "B over TLS: $(head -1 /tmp/err)"; }
CB=$(ctrl_of ${B})
i=0; until [ -b /dev/$${'{'}CB}n1 ]; do sleep 0.1; i=$((i + 1)); [ $i -lt 100 ] || die "no namespace of B"; done
rw $${'{'}CB}n1 b || die "write and read back on B over TLS"
echo "CASE tls ok $CB | $(dmesg | grep -io 'tls.*' | head -1)"

echo "ROTATE-NOW $(up)"
set -- $(until_connected "the new key of A" "fabrics_a ${KEY_A_NEW}")
new=$1
echo "ROTATED new key accepted after $2 refused attempts, $new $(up)"
i=0; until [ -b /dev/$${'{'}new}n1 ]; do sleep 0.1; i=$((i + 1)); [ $i -lt 100 ] || die "no namespace of A's new controller"; done
rw $${'{'}new}n1 new || die "write and read back with the new key"
echo 1 >/sys/class/nvme/$new/delete_controller

dmesg -c >/dev/null
if old=$(fabrics_a ${KEY_A}) && [ -n "$old" ]; then die "the old key of A was accepted after the rotation ($old)"; fi
echo "REFUSED old-key-after-rotation | $(dmesg | grep -o 'qid 0: .*' | head -1)"

[ "$(cat /sys/class/nvme/$CA/state)" = live ] || die "A's first controller is $(cat /sys/class/nvme/$CA/state)"
rw $${'{'}CA}n1 still || die "write and read back on A's first connection after the rotation"
echo "LIVE-STAYED $CA"

# B's PSK rotated: the keyring gets the new key, the test the Secret.
clear_psks
insert_psk "${TLS_KEY_NEW}"
echo "ROTATE-PSK-NOW $(up)"
set -- $(until_connected "the new PSK of B" fabrics_b)
newb=$1
echo "PSK-ROTATED new PSK accepted after $2 refused attempts, $newb $(up)"
i=0; until [ -b /dev/$${'{'}newb}n1 ]; do sleep 0.1; i=$((i + 1)); [ $i -lt 100 ] || die "no namespace of B's new controller"; done
rw $${'{'}newb}n1 newpsk || die "write and read back with the new PSK"
echo 1 >/sys/class/nvme/$newb/delete_controller
clear_psks
insert_psk "${TLS_KEY}"
if old=$(fabrics_b) && [ -n "$old" ]; then die "the old PSK of B was accepted after the rotation ($old)"; fi
echo "REFUSED old-psk-after-rotation"
[ "$(cat /sys/class/nvme/$CB/state)" = live ] || die "B's first controller is $(cat /sys/class/nvme/$CB/state)"
rw $${'{'}CB}n1 stillb || die "write and read back on B's first TLS connection after the rotation"
echo "LIVE-STAYED-TLS $CB"
nvme disconnect -n $nqn >/dev/null
echo AUTH-GUEST-OK
`;
}

describe('authentication and TLS keys from a Secret, through the operator (issue 21, 3)', { timeout: 15 * 60_000 }, () => {
  const { it } = operatorSuite({
    cluster: 'nvmeofauth',
    hostPathPrefix: 'nvmeof-auth-test-',
    namespace: NS,
    onCluster: (cl) => (c = cl),
  });

  it('DH-HMAC-CHAP and TLS with keys from a Secret; a rotated key reaches the running target; a missing key is KeyInvalid', async () => {
    const vm = vmAvailable('6.12');
    assert.ok(vm.ok, `the Linux 6.12 host in qemu is missing: ${vm.missing} (run bash test/vm/prepare.sh)`);

    // The schema (CEL, evaluated by the apiserver) refuses keys for any host, keys of a host outside the host
    // list, and a TLS listener no host has a PSK for.
    const refused = (name: string, spec: Partial<NvmeofSubsystemSpec>) =>
      c.kubectl(['apply', '-f', '-'], { input: resource(name, spec) }).then(() => `${name} accepted`, (e: Error) => e.message);
    assert.match(await refused('anyhost', { ...SPEC, hosts: undefined, allowAnyHost: true }), /authentication requires a host list: it cannot be used with allowAnyHost/);
    assert.match(await refused('outside', { ...SPEC, hosts: [B] }), /every authentication.hosts\[\].nqn must also be in hosts/);
    assert.match(await refused('nopsk', { ...SPEC, authentication: { secretName: SECRET, hosts: [SPEC.authentication!.hosts[0]] } }), /listener.tls required or allowed needs at least one host with a tlsPsk/);

    await c.kubectl(['apply', '-f', '-'], { input: secret(KEY_A) });
    await c.kubectl(['apply', '-f', '-'], { input: resource(NAME, SPEC) });
    const first = await waitSubsystemReady(c, NS, NAME, { ms: 120_000 });
    const [pod0] = await targetPods(first);
    assert.ok(pod0, 'a target pod');
    const [address, port] = first.status!.endpoint!.split(':');
    console.log(`AUTH start: pod ${pod0.metadata.name}, endpoint ${first.status!.endpoint}, nqn ${first.status!.nqn}`);

    const lines: Array<{ at: number; line: string }> = [];
    let rotatedAt = 0;
    let rotation: Promise<unknown> | undefined;
    let pskRotatedAt = 0;
    let pskRotation: Promise<unknown> | undefined;
    const r: GuestResult = await runGuest({
      kernel: '6.12',
      script: guestScript(address, port),
      timeoutMs: 8 * 60_000,
      kernelArgs: ['nvme_core.multipath=N'],
      onLine: (line) => {
        lines.push({ at: Date.now(), line });
        if (line.startsWith('ROTATE-NOW') && !rotation) {
          rotatedAt = Date.now();
          rotation = c.kubectl(['apply', '-f', '-'], { input: secret(KEY_A_NEW) });
        }
        if (line.startsWith('ROTATE-PSK-NOW') && !pskRotation) {
          pskRotatedAt = Date.now();
          pskRotation = c.kubectl(['apply', '-f', '-'], { input: secret(KEY_A_NEW, TLS_KEY_NEW) });
        }
        if (process.env.E2E_VERBOSE) console.log(line);
      },
    });
    await rotation;
    await pskRotation;
    const out = r.output.split('\n');
    for (const l of out.filter((x) => /^(REFUSED|CASE|ROTATED|PSK-ROTATED|LIVE-STAYED)/.test(x))) console.log(`AUTH host: ${l}`);
    assert.equal(r.exitCode, 0, `the guest failed (exit ${r.exitCode}${r.timedOut ? ', timed out' : ''}):\n${r.output.slice(-5000)}`);
    assert.ok(out.some((l) => l.startsWith('REFUSED wrong-secret')), 'a wrong secret refused');
    assert.ok(out.some((l) => /^CASE dhchap ok .*authenticated/.test(l)), 'A authenticated with its secret and the controller secret');
    assert.ok(out.some((l) => l.startsWith('CASE tls ok')), 'B connected over TLS');
    assert.ok(out.some((l) => l.startsWith('REFUSED old-key-after-rotation')), 'the old key refused after the rotation');
    assert.ok(out.some((l) => l.startsWith('REFUSED old-psk-after-rotation')), 'the old PSK refused after the rotation');
    assert.ok(out.some((l) => l.startsWith('LIVE-STAYED-TLS')), 'B\'s TLS connection made with the old PSK stayed');
    assert.ok(out.includes('AUTH-GUEST-OK'));
    const rotated = lines.find((l) => l.line.startsWith('ROTATED'));
    assert.ok(rotated && rotatedAt > 0);
    console.log(`AUTH rotation: kubectl apply of the Secret -> the new key accepted by the running target: ${rotated.at - rotatedAt} ms (${rotated.line})`);
    const pskRotated = lines.find((l) => l.line.startsWith('PSK-ROTATED'));
    assert.ok(pskRotated && pskRotatedAt > 0);
    console.log(`AUTH PSK rotation: kubectl apply of the Secret -> a TLS handshake with the new PSK: ${pskRotated.at - pskRotatedAt} ms (${pskRotated.line})`);
    const reconnects = r.dmesg.split('\n').filter((l) => /Successfully reconnected|resetting controller/.test(l));
    assert.deepEqual(reconnects, [], 'no connection was reset or reconnected');

    const now = await getSubsystem(c, NS, NAME);
    const pods = await targetPods(now!);
    assert.deepEqual(pods.map((p) => p.metadata.uid), [pod0.metadata.uid], 'the same target pod throughout');
    assert.equal(pods[0].status.containerStatuses?.[0]?.restartCount, 0, 'no container restart');
    assert.equal(conditionOf(now!, 'Ready')?.status, 'True');

    // A host's keys changed in the resource are live: A named by another data key the Secret does not hold yet
    // is refused by the running target (ConfigRejected naming host and file), which reads the refused
    // configuration again every 2 s; once the kubelet brings the key, the target applies it by itself.
    const recovery = async () => ((await (await fetch(`http://${c.nodeIP}:${METRICS_PORT}/recovery`, { signal: AbortSignal.timeout(2000) })).json()) as { config?: { generation?: number } }).config;
    const v2 = { ...SPEC, authentication: { secretName: SECRET, hosts: [{ ...SPEC.authentication!.hosts[0], dhchapKey: 'host-a.v2' }, SPEC.authentication!.hosts[1]] } };
    await c.kubectl(['apply', '-f', '-'], { input: resource(NAME, v2) });
    const gen = (await getSubsystem(c, NS, NAME))!.metadata.generation!;
    const rejected = await waitFor('ConfigApplied=False ConfigRejected', async () => {
      const s = await getSubsystem(c, NS, NAME);
      const cond = conditionOf(s, 'ConfigApplied');
      return cond?.status === 'False' && cond.reason === 'ConfigRejected' ? cond : undefined;
    }, 60_000, 250);
    console.log(`AUTH live key change before the key exists: ${rejected.message}`);
    assert.ok(rejected.message.includes(A) && rejected.message.includes('/etc/nvmeof-auth/host-a.v2'), rejected.message);
    const tKey = Date.now();
    await c.kubectl(['apply', '-f', '-'], { input: secret(KEY_A_NEW, TLS_KEY_NEW, { 'host-a.v2': KEY_A }) });
    const tServed = await waitFor(`the target serving generation ${gen}`, async () => ((await recovery().catch(() => undefined))?.generation ?? -1) >= gen && Date.now(), 120_000, 250);
    const tStatus = await waitFor(`status.config.servedGeneration ${gen}`, async () => {
      const s = await getSubsystem(c, NS, NAME);
      return (s?.status?.config?.servedGeneration ?? -1) >= gen && conditionOf(s, 'ConfigApplied')?.status === 'True' && Date.now();
    }, 90_000, 500);
    console.log(`AUTH live key change: the key added to the Secret -> the target serving generation ${gen} after ${tServed - tKey} ms, status.config after ${tStatus - tKey} ms`);
    const after = await targetPods((await getSubsystem(c, NS, NAME))!);
    assert.deepEqual(after.map((p) => p.metadata.uid), [pod0.metadata.uid], 'a live key change: the same target pod');
    assert.equal(after[0].status.containerStatuses?.[0]?.restartCount, 0);

    // A key the Secret does not hold: the target says which host and file, the operator says KeyInvalid.
    await c.kubectl(['apply', '-f', '-'], {
      input: resource('nokey', {
        ...SPEC, nqn: undefined, listener: { port: PORT + 2, metricsPort: METRICS_PORT + 2 },
        authentication: { secretName: SECRET, hosts: [{ nqn: A, dhchapKey: 'not-in-the-secret' }] },
      }),
    });
    const bad = await waitFor('nokey Ready=False KeyInvalid', async () => {
      const s = await getSubsystem(c, NS, 'nokey');
      return conditionOf(s!, 'Ready')?.reason === 'KeyInvalid' ? s : undefined;
    }, 120_000, 500);
    const msg = conditionOf(bad, 'Ready')!.message;
    console.log(`AUTH missing key: ${msg}`);
    assert.ok(msg.includes(A) && msg.includes('/etc/nvmeof-auth/not-in-the-secret'), msg);
    for (const k of [KEY_A, KEY_A_NEW, CTRL_KEY, TLS_KEY]) assert.ok(!msg.includes(k.slice(10, 40)), 'no key in the condition');
  });
});
