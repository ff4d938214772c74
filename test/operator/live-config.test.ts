// Live reconfiguration through the operator (issue 20's acceptance) on the real single-node cluster
// (test/cluster, its own cluster `nvmeoflive`, one operator replica) with a Linux kernel host in qemu
// (each guest of GUEST_KERNELS, 6.1 and 6.12, in turn, each with a subsystem of its own; native multipath off
// so each controller has its own block devices, as in test/e2e/reservations.test.ts). The guest connects
// with two host NQNs, A and B, both in spec.hosts (B through /dev/nvme-fabrics: one address and port), and
// runs fio with crc32c verify on A's namespace 1 the whole time. Then, each by `kubectl apply` of the resource:
//   1. namespace 2 added       -> it appears on A, no reconnect, no I/O error;
//   2. namespace 1 grown       -> A sees the new size;
//   3. host B removed          -> B's controller leaves `live`, A sees nothing;
//   4. host B added back       -> B connects again;
//   5. a memory namespace added, then grown -> the target refuses the growth (a memory namespace's size
//      is fixed for its process): ConfigApplied=False/ConfigRejected with the target's message and a
//      Warning event, the generation before keeps serving; that namespace removed, the next one is served.
// After each step the target pod is the same (uid, no container restart). Last, with the host gone, a change
// of resources does roll the pod, and its PodReplaced event names exactly that field. Printed (never asserted, they
// are the machine's): per step, the time from `kubectl apply` to the target's /recovery serving the
// generation, to status.config.servedGeneration, and to the host seeing the change; the reconnects and
// I/O errors in the guest's kernel log.
//
// Ports: 4470/9470 (6.1) and 4472/9472 (6.12), this file's range, inside the cluster's own network namespace;
// the guest's control channel is a TCP server on this machine's 127.0.0.1, an ephemeral port (the guest
// reaches it as 10.0.2.2).
import { describe } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import type { Cluster } from '../cluster/cluster.js';
import { GUEST_KERNELS, runGuest, vmAvailable, type GuestKernel, type GuestResult } from '../vm/guest.js';
import type { NvmeofSubsystem, NvmeofSubsystemSpec } from '../../operator/api/types.js';
import { conditionOf, getSubsystem, listPods, sleep, waitFor, waitSubsystemReady, type PodInfo } from './deploy.js';
import { operatorSuite } from './suite.js';

const NS = 'nvmeof-live';
/** One subsystem per guest kernel, each on ports of its own; the running test's are NAME, PORT, METRICS_PORT. */
const SUBJECTS: Record<GuestKernel, { name: string; port: number; metricsPort: number }> = {
  '6.1': { name: 'live61', port: 4470, metricsPort: 9470 },
  '6.12': { name: 'live612', port: 4472, metricsPort: 9472 },
};
let { name: NAME, port: PORT, metricsPort: METRICS_PORT } = SUBJECTS['6.1'];
const HOST_ID_A = '6a1e0b52-5a7e-4c2e-9d55-2b0c3c9e0a01';
const HOST_ID_B = '6a1e0b52-5a7e-4c2e-9d55-2b0c3c9e0b02';
const A = `nqn.2014-08.org.nvmexpress:uuid:${HOST_ID_A}`;
const B = `nqn.2014-08.org.nvmexpress:uuid:${HOST_ID_B}`;
const NS1 = { nsid: 1, size: '128Mi', backing: { file: { path: 'ns1.img' } } };
const NS1_GROWN = { ...NS1, size: '192Mi' };
const NS2 = { nsid: 2, size: '64Mi', backing: { file: { path: 'ns2.img' } } };
const NS3 = { nsid: 3, size: '16Mi', backing: { memory: {} } };
const SECTORS_GROWN = (192 * 2 ** 20) / 512;

let c: Cluster;

function resource(spec: Partial<NvmeofSubsystemSpec>): string {
  return JSON.stringify({
    apiVersion: 'nvmeof.io/v1alpha1', kind: 'NvmeofSubsystem', metadata: { name: NAME, namespace: NS },
    spec: { listener: { port: PORT, metricsPort: METRICS_PORT }, hosts: [A, B], namespaces: [NS1], ...spec },
  });
}

async function sub(): Promise<NvmeofSubsystem> {
  const s = await getSubsystem(c, NS, NAME);
  assert.ok(s, `NvmeofSubsystem ${NS}/${NAME} is gone`);
  return s;
}

async function livePods(s: NvmeofSubsystem): Promise<PodInfo[]> {
  return (await listPods(c, NS, `nvmeof.io/role=target,nvmeof.io/subsystem-uid=${s.metadata.uid}`)).filter((p) => !p.metadata.deletionTimestamp);
}

/** The generation the target serves, from its own /recovery on the node's address (hostNetwork). */
async function targetConfig(): Promise<{ generation?: number; rejected?: { generation: number; error: string } } | undefined> {
  const r = await fetch(`http://${c.nodeIP}:${METRICS_PORT}/recovery`, { signal: AbortSignal.timeout(2000) });
  return ((await r.json()) as { config?: { generation?: number; rejected?: { generation: number; error: string } } }).config;
}

/** The guest's script: connect A and B, fio verify on A's namespace 1, then each step as the test names it. */
function guestScript(address: string, port: string, nqn: string, controlPort: number): string {
  return `set -u
nqn=${nqn}
up() { cut -d' ' -f1 /proc/uptime; }
ctrl_of() { for c in /sys/class/nvme/nvme*; do [ "$(cat $c/hostnqn 2>/dev/null)" = "$1" ] && [ "$(cat $c/subsysnqn 2>/dev/null)" = "$nqn" ] && echo \${c##*/}; done; return 0; }
ns_dev() { for b in /sys/class/nvme/$1/nvme*n*; do [ "$(cat $b/nsid 2>/dev/null)" = "$2" ] && echo \${b##*/} && return 0; done; return 1; }
state() { cat /sys/class/nvme/$1/state 2>/dev/null || echo gone; }
# nvme-cli 2.3 refuses a second controller to one address and port ("already connected", --duplicate-connect
# or not); the kernel takes one per host NQN: B is connected through /dev/nvme-fabrics, as nvme-cli would.
connect() {
  exec 3<>/dev/nvme-fabrics || return 1
  echo "nqn=$nqn,transport=tcp,traddr=${address},trsvcid=${port},hostnqn=$1,hostid=$2,nr_io_queues=1,reconnect_delay=1,ctrl_loss_tmo=600" >&3 || { exec 3>&-; return 1; }
  read -r made <&3
  exec 3>&-
  echo "CONNECTED $1 $made"
}
connect ${A} ${HOST_ID_A} || die "connect A"
connect ${B} ${HOST_ID_B} || die "connect B"
CA=$(ctrl_of ${A}); CB=$(ctrl_of ${B})
[ -n "$CA" ] && [ -n "$CB" ] || die "no controller of A or B: A=$CA B=$CB"
i=0; until A1=$(ns_dev $CA 1) && B1=$(ns_dev $CB 1) && [ -b /dev/$A1 ]; do sleep 0.1; i=$((i + 1)); [ $i -lt 100 ] || die "namespace 1 of A and B"; done
echo "DEVICES A=$CA $A1 B=$CB $B1"

# The test's step, asked every 0.3 s (busybox nc does not exit when the peer closes: it is ended).
(
  while [ ! -e /tmp/stop ]; do
    rm -f /tmp/ctl
    nc 10.0.2.2 ${controlPort} </dev/null >/tmp/ctl 2>/dev/null &
    p=$!
    sleep 0.3
    kill $p 2>/dev/null
    read -r s </tmp/ctl 2>/dev/null && [ -n "$s" ] && echo "$s" >/tmp/step && [ "$s" = stop ] && touch /tmp/stop
  done
) &

# fio with crc32c verify on A's namespace 1, in rounds until the test says stop; a failed round stops all.
fio_rounds /dev/$A1 5 --size=64M --iodepth=16 --verify_backlog=256 &
fio_pid=$!

wait_step() {
  local i=0
  while [ "$(cat /tmp/step 2>/dev/null)" != "$1" ]; do
    sleep 0.1; i=$((i + 1)); [ $i -lt 3000 ] || die "no step $1 from the test"
    [ -e /tmp/fio-failed ] && die "fio failed"
  done
}
# until_ SECONDS WHAT CMD...: runs CMD every 0.1 s until it succeeds (die after SECONDS).
until_() {
  local n=$(($1 * 10)) what=$2 i=0
  shift 2
  until "$@"; do sleep 0.1; i=$((i + 1)); [ $i -lt $n ] || die "$what"; done
}
echo "LIVE-READY $(up)"

wait_step ns2
until_ 60 "namespace 2 never appeared on A" ns_dev $CA 2 >/dev/null
echo "NS2-SEEN $(ns_dev $CA 2) A=$(state $CA) $(up)"

wait_step grow
grown() { [ "$(cat /sys/class/nvme/$CA/$A1/size)" = ${SECTORS_GROWN} ]; }
until_ 60 "A never saw namespace 1 grow: $(cat /sys/class/nvme/$CA/$A1/size) sectors" grown
echo "GROWN $(cat /sys/class/nvme/$CA/$A1/size) A=$(state $CA) $(up)"

wait_step remove-b
notlive() { [ "$(state $CB)" != live ]; }
until_ 60 "B's controller stayed live after B was removed" notlive
echo "B-GONE B=$(state $CB) A=$(state $CA) $(up)"

wait_step add-b
back() {
  [ "$(state $CB)" = live ] && return 0
  # The kernel gave up on B (a Connect refused with DNR ends its reconnects): connect B anew.
  if [ "$(state $CB)" = gone ]; then connect ${B} ${HOST_ID_B} >/dev/null 2>&1 && CB=$(ctrl_of ${B}) && echo "B-RECONNECT-BY-HAND $CB"; fi
  return 1
}
until_ 60 "B never connected again" back
echo "B-BACK B=$CB $(state $CB) A=$(state $CA) $(up)"

wait_step stop
wait $fio_pid || die "fio failed"
echo "FIO-DONE A=$(state $CA)"
[ "$(state $CA)" = live ] || die "A's controller is $(state $CA) at the end"
nvme disconnect -n "$nqn" >/dev/null || die "nvme disconnect failed"
echo LIVE-GUEST-OK
`;
}

interface Step {
  name: string;
  spec: Partial<NvmeofSubsystemSpec>;
  /** The guest's line that says the host saw the change. */
  seen?: RegExp;
}

describe('live reconfiguration through the operator (issue 20)', { timeout: 12 * 60_000 }, () => {
  let control: Server | undefined;
  const { it } = operatorSuite({
    // The brief's name, nvmeof-live, without the dash: cluster names are 1-12 lowercase letters or digits.
    cluster: 'nvmeoflive',
    hostPathPrefix: 'nvmeof-live-test-',
    namespace: NS,
    onCluster: (cl) => (c = cl),
    stopping: async () => {
      await new Promise<void>((r) => (control ? control.close(() => r()) : r()));
    },
  });

  for (const kernel of GUEST_KERNELS) it(`adds and grows namespaces and changes the host list with no pod roll, no reconnect and no I/O error on the Linux ${kernel} host`, async () => {
    ({ name: NAME, port: PORT, metricsPort: METRICS_PORT } = SUBJECTS[kernel]);
    const vm = vmAvailable(kernel);
    assert.ok(vm.ok, `the Linux host in qemu is missing: ${vm.missing} (run bash test/vm/prepare.sh)`);
    await c.kubectl(['apply', '-f', '-'], { input: resource({}) });
    const first = await waitSubsystemReady(c, NS, NAME, { ms: 120_000 });
    const [pod0] = await livePods(first);
    assert.ok(pod0, 'a target pod');
    const [address, port] = first.status!.endpoint!.split(':');
    const served0 = await waitFor('status.config.servedGeneration', async () => (await sub()).status?.config?.servedGeneration, 30_000);
    console.log(`LIVE start: pod ${pod0.metadata.name}, generation ${first.metadata.generation}, served ${served0}, endpoint ${first.status!.endpoint}`);

    let step = 'wait';
    control = createServer((sock) => {
      sock.on('error', () => {});
      sock.end(`${step}\n`);
    });
    await new Promise<void>((r) => control!.listen(0, '127.0.0.1', r));
    const controlPort = (control.address() as { port: number }).port;

    const lines: Array<{ at: number; line: string }> = [];
    const abort = new AbortController();
    const guest: Promise<GuestResult> = runGuest({
      kernel,
      script: guestScript(address, port, first.status!.nqn!, controlPort),
      timeoutMs: 8 * 60_000,
      fio: true,
      kernelArgs: ['nvme_core.multipath=N'],
      signal: abort.signal,
      onLine: (line) => lines.push({ at: Date.now(), line }),
    });
    let ended = false;
    void guest.finally(() => { ended = true; }).catch(() => undefined);
    /** The first guest line matching `re` since `since`; fails at once when the guest failed or ended. */
    const guestLine = async (re: RegExp, since: number, ms = 90_000) => {
      for (const until = Date.now() + ms; ;) {
        const fail = lines.find((l) => /^(FAIL:|FIO-FAIL)/.test(l.line));
        if (fail) throw new Error(`the guest failed: ${fail.line}`);
        const found = lines.find((l) => l.at >= since && re.test(l.line));
        if (found) return found;
        if (ended) throw new Error(`the guest ended without ${re}`);
        if (Date.now() > until) throw new Error(`timed out after ${ms / 1000} s waiting for the guest's ${re}`);
        await sleep(50);
      }
    };

    try {
      await guestLine(/^LIVE-READY/, 0, 120_000);
      const ctrlA = lines.map((l) => /DEVICES A=(nvme\d+)/.exec(l.line)?.[1]).find(Boolean);
      assert.ok(ctrlA, `the guest named A's controller: ${lines.map((l) => l.line).join('\n')}`);

      const steps: Step[] = [
        { name: 'ns2', spec: { namespaces: [NS1, NS2] }, seen: /^NS2-SEEN/ },
        { name: 'grow', spec: { namespaces: [NS1_GROWN, NS2] }, seen: /^GROWN/ },
        { name: 'remove-b', spec: { hosts: [A], namespaces: [NS1_GROWN, NS2] }, seen: /^B-GONE/ },
        { name: 'add-b', spec: { hosts: [A, B], namespaces: [NS1_GROWN, NS2] }, seen: /^B-BACK/ },
      ];
      const report: string[] = [];
      let lastSpec: Partial<NvmeofSubsystemSpec> = {};
      for (const s of steps) {
        step = s.name;
        await sleep(700); // the guest's poller has read the step before the change can land
        const t0 = Date.now();
        await c.kubectl(['apply', '-f', '-'], { input: resource(s.spec) });
        lastSpec = s.spec;
        const gen = (await sub()).metadata.generation!;
        const tTarget = await waitFor(`the target serving generation ${gen}`, async () => ((await targetConfig().catch(() => undefined))?.generation ?? -1) >= gen && Date.now(), 60_000, 100);
        const tStatus = await waitFor(`status.config.servedGeneration ${gen}`, async () => ((await sub()).status?.config?.servedGeneration ?? -1) >= gen && Date.now(), 60_000, 100);
        const seen = s.seen ? await guestLine(s.seen, t0) : undefined;
        const now = await sub();
        assert.equal(conditionOf(now, 'ConfigApplied')?.status, 'True', `${s.name}: ConfigApplied ${JSON.stringify(conditionOf(now, 'ConfigApplied'))}`);
        const pods = await livePods(now);
        assert.deepEqual(pods.map((p) => p.metadata.uid), [pod0.metadata.uid], `${s.name}: the same target pod`);
        assert.equal(pods[0].status.containerStatuses?.[0]?.restartCount, 0, `${s.name}: no container restart`);
        const line = `LIVE ${s.name}: generation ${gen}; target serving it after ${tTarget - t0} ms, status.config after ${tStatus - t0} ms` +
          (seen ? `, the host saw it after ${seen.at - t0} ms (${seen.line})` : '');
        console.log(line);
        report.push(line);
      }

      // A change the target refuses: a memory namespace's size is fixed for its process.
      const withNs3 = { ...lastSpec, namespaces: [...(lastSpec.namespaces ?? []), NS3] };
      await c.kubectl(['apply', '-f', '-'], { input: resource(withNs3) });
      const genNs3 = (await sub()).metadata.generation!;
      await waitFor(`generation ${genNs3} served`, async () => ((await sub()).status?.config?.servedGeneration ?? -1) >= genNs3, 60_000, 100);
      const t0 = Date.now();
      await c.kubectl(['apply', '-f', '-'], { input: resource({ ...lastSpec, namespaces: [...(lastSpec.namespaces ?? []), { ...NS3, size: '32Mi' }] }) });
      const genBad = (await sub()).metadata.generation!;
      const refused = await waitFor('ConfigApplied=False ConfigRejected', async () => {
        const s = await sub();
        const cond = conditionOf(s, 'ConfigApplied');
        return cond?.status === 'False' && cond.reason === 'ConfigRejected' ? s : undefined;
      }, 60_000, 100);
      console.log(`LIVE reject: generation ${genBad} refused after ${Date.now() - t0} ms: ${conditionOf(refused, 'ConfigApplied')!.message}`);
      assert.equal(refused.status?.config?.servedGeneration, genNs3, 'the generation before keeps serving');
      assert.equal(refused.status?.config?.rejected?.generation, genBad);
      assert.match(refused.status!.config!.rejected!.error, /namespaces\[2\]/, 'the target names the field');
      const events = await c.kubectl(['-n', NS, 'get', 'events', '--field-selector', `involvedObject.name=${NAME},reason=ConfigRejected,type=Warning`, '-o', 'name']);
      assert.ok(events.trim(), 'a Warning ConfigRejected event');
      // The CRD lets a size only grow: the way out is to remove the namespace (live) or to replace the pod.
      await c.kubectl(['apply', '-f', '-'], { input: resource(lastSpec) });
      const genBack = (await sub()).metadata.generation!;
      await waitFor(`generation ${genBack} served again`, async () => {
        const s = await sub();
        return (s.status?.config?.servedGeneration ?? -1) >= genBack && !s.status?.config?.rejected && conditionOf(s, 'ConfigApplied')?.status === 'True';
      }, 60_000, 100);
      assert.deepEqual((await livePods(await sub())).map((p) => p.metadata.uid), [pod0.metadata.uid], 'still the same target pod');

      step = 'stop';
      const r = await guest;
      const out = r.output;
      assert.equal(r.exitCode, 0, `the guest failed (exit ${r.exitCode}${r.timedOut ? ', timed out' : ''}):\n${out.slice(-4000)}`);
      assert.match(out, /LIVE-GUEST-OK/);
      const rounds = out.match(/^FIO-ROUND .*$/gm) ?? [];
      assert.ok(rounds.length > 0 && rounds.every((l) => /rc=0 err=0\b/.test(l)), `fio rounds: ${rounds.join('; ')}`);
      const reconnectsA = r.dmesg.split('\n').filter((l) => l.includes(`${ctrlA}: Successfully reconnected`));
      const resetsA = r.dmesg.split('\n').filter((l) => new RegExp(`${ctrlA}: (resetting controller|starting error recovery|I/O tag)`).test(l));
      const ioErrors = r.dmesg.split('\n').filter((l) => /I\/O error|blk_update_request|Buffer I\/O/.test(l));
      const reconnectsAll = r.dmesg.split('\n').filter((l) => /Successfully reconnected/.test(l));
      console.log(`LIVE host: ${rounds.length} fio verify rounds without error on A's namespace 1; A (${ctrlA}) reconnects ${reconnectsA.length}, resets ${resetsA.length}; ` +
        `all reconnects ${reconnectsAll.length} (${reconnectsAll.join(' | ')}); I/O errors ${ioErrors.length}; ` +
        `B ${lines.some((l) => l.line.startsWith('B-RECONNECT-BY-HAND')) ? 'connected anew (the kernel had given up on it)' : 'reconnected by itself'}`);
      for (const l of report) console.log(l);
      assert.deepEqual(reconnectsA, [], 'A never reconnected');
      assert.deepEqual(resetsA, [], 'A was never reset');
      assert.deepEqual(ioErrors, [], 'no I/O error on the host');
      assert.match(r.dmesg, /detected capacity change/, 'the host noticed the new size');

      // What does roll the pod, once the host is gone: the event names exactly the field that changed, read
      // against the pod as the apiserver returns it (its defaults filled in).
      const before = await sub();
      const tRoll = Date.now();
      await c.kubectl(['apply', '-f', '-'], { input: resource({ ...lastSpec, resources: { requests: { cpu: '30m', memory: '64Mi' } } }) });
      const rolled = await waitSubsystemReady(c, NS, NAME, { ms: 120_000, notPod: before.status!.podName! });
      const replaced = await c.kubectl(['-n', NS, 'get', 'events', '--field-selector', `involvedObject.name=${NAME},reason=PodReplaced`, '-o', 'jsonpath={.items[*].message}']);
      console.log(`LIVE roll: a resources change replaced ${before.status!.podName} with ${rolled.status!.podName} in ${Date.now() - tRoll} ms: ${replaced}`);
      assert.match(replaced, new RegExp(`replacing pod ${before.status!.podName} with \\S+ on node \\S+: changed: resources$`));
    } catch (e) {
      console.log(`the guest's last lines:\n${lines.slice(-80).map((l) => l.line).join('\n')}`);
      throw e;
    } finally {
      step = 'stop';
      abort.abort();
      await guest.catch(() => undefined);
      await new Promise<void>((r) => control!.close(() => r()));
      control = undefined;
    }
  });
});
