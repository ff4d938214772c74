// Acceptance of the NvmeofSubsystem operator (issue 5) on the real single-node cluster
// (test/cluster) with the real images: the operator runs as its Deployment (two replicas, as
// users run it), the target pods run the target image, and a Linux kernel host (qemu) connects.
// One cluster for the whole file; each phase's time is printed at the end.
//
// How the host reaches a target pod: target pods use hostNetwork inside the cluster's network
// namespace, so they listen on the node's IP 10.213.<n>.2, which this machine reaches over the
// veth pair. The qemu guest uses user networking (slirp): its TCP connections are made by qemu as
// ordinary sockets of this machine, so the guest connects to status.endpoint itself, exactly the
// address a user would use; no forwarder is needed.
//
// The forced deletion: `--grace-period=0 --force` removes the pod object at once, and the kubelet
// ends the old container about 2 s later (its minimum grace), usually before the new container has
// started, so an overlap would be luck. To make "the old container still holds the state-file lock
// and the ports" certain, the test stops the old target (SIGSTOP: a hung process, which never runs
// its SIGTERM handler) and keeps its lock and listening sockets held past its end (hold-fds.ts
// duplicates them with pidfd_getfd), checks that the new target waits instead of failing, then lets
// go: the new target takes over. (Stopping the old container's containerd shim instead would also
// stall the kubelet's PLEG, and with it the new pod.)
import { describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { warningEvents, type Cluster } from '../cluster/cluster.js';
import { repoRoot } from '../cluster/paths.js';
import { runGuest, vmAvailable } from '../vm/guest.js';
import { holdFds, lockAndListenerFds } from './hold-fds.js';
import type { NvmeofSubsystem } from '../../operator/api/types.js';
import {
  conditionOf, containerPid, deployOperator, getSubsystem, installCrdsWithKubectl, leaseHolder, listPods, LEASE_NAME, OPERATOR_NAME,
  OPERATOR_NAMESPACE, podGet, podReady, sampleDir, sleep, waitFor, waitSubsystemReady, type PodInfo,
} from './deploy.js';
import { clusterSuite } from './suite.js';

const NS = 'nvmeof-demo';
const NAME = 'demo-file'; // crds/samples/file-any-host.yaml
const SAMPLE = join(sampleDir, 'file-any-host.yaml');

let c: Cluster;
let hostPathRoot: string;

const subsystemDir = () => join(hostPathRoot, NS, NAME);
const targetSelector = (sub: NvmeofSubsystem) => `nvmeof.io/role=target,nvmeof.io/subsystem-uid=${sub.metadata.uid}`;

async function sub(): Promise<NvmeofSubsystem> {
  const s = await getSubsystem(c, NS, NAME);
  assert.ok(s, `NvmeofSubsystem ${NS}/${NAME} is gone`);
  return s;
}

async function targetPods(s: NvmeofSubsystem): Promise<PodInfo[]> {
  return listPods(c, NS, targetSelector(s));
}

async function operatorLog(): Promise<string> {
  const { holder } = await leaseHolder(c);
  if (!holder) return '';
  return (await c.kubectlResult(['-n', OPERATOR_NAMESPACE, 'logs', holder, '--tail=400'])).stdout;
}

/** status.recovery.count, waiting until the operator has copied it from the target's /recovery. */
async function recoveryCountAbove(min: number, ms = 30_000): Promise<number> {
  try {
    return await waitFor(`status.recovery.count > ${min}`, async () => {
      const n = (await sub()).status?.recovery?.count;
      return n !== undefined && n > min ? n : undefined;
    }, ms);
  } catch (e) {
    const s = await sub();
    const why = (await operatorLog()).split('\n').filter((l) => l.includes('/recovery')).slice(-1)[0] ?? '';
    throw new Error(
      `${(e as Error).message}; status.recovery is ${JSON.stringify(s.status?.recovery) ?? 'absent'}` +
        (why ? `; the operator says: ${why}` : '') +
        `; the target's /recovery: ${await targetRecovery().catch((err: Error) => err.message)}`,
    );
  }
}

async function targetRecovery(): Promise<string> {
  const s = await sub();
  const port = s.spec.listener?.metricsPort ?? 9420;
  return new Promise((resolve, reject) => {
    fetch(`http://${c.nodeIP}:${port}/recovery`, { signal: AbortSignal.timeout(2000) })
      .then(async (r) => resolve(`HTTP ${r.status} ${(await r.text()).trim()}`), reject);
  });
}

const procState = (pid: number): string | undefined => {
  try {
    return /^\d+ \(.*\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
};
const procAlive = (pid: number) => { const s = procState(pid); return s !== undefined && s !== 'Z' && s !== 'X'; };

function md5OfFileStart(path: string, bytes: number): string {
  const buf = Buffer.alloc(bytes);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, buf, 0, bytes, 0);
  } finally {
    closeSync(fd);
  }
  return createHash('md5').update(buf).digest('hex');
}

/** Runs a script in the Linux host (qemu) against the subsystem's endpoint; returns its console output. */
async function onLinuxHost(s: NvmeofSubsystem, body: string): Promise<string> {
  const vm = vmAvailable();
  assert.ok(vm.ok, `the Linux host in qemu is missing: ${vm.missing} (run bash test/vm/prepare.sh)`);
  const [addr, port] = s.status!.endpoint!.split(':');
  const nqn = s.status!.nqn!;
  const r = await runGuest({
    timeoutMs: 90_000,
    script: `nqn=${nqn}
nvme connect -t tcp -a ${addr} -s ${port} -n "$nqn" || die "nvme connect to ${addr}:${port} failed"
dev=$(nvme_wait_dev "$nqn") || die "no namespace device"
${body}
nvme disconnect -n "$nqn" >/dev/null || die "nvme disconnect failed"`,
  });
  assert.equal(r.exitCode, 0, `the Linux host's script failed (exit ${r.exitCode}${r.timedOut ? ', timed out' : ''}):\n${r.output.slice(-3000)}`);
  return r.output;
}

const PATTERN_BYTES = 1 << 20;


describe('NvmeofSubsystem operator on a real cluster', { timeout: 15 * 60_000 }, () => {
  let patternMd5 = '';
  let recoveries = 0;

  const { it } = clusterSuite({ cluster: 'op', hostPathPrefix: 'nvmeof-operator-test-', started: (cl, root) => { c = cl; hostPathRoot = root; } });

  it('installs the CRD with `kubectl apply -f crds/`', async () => {
    const out = await installCrdsWithKubectl(c);
    assert.match(out, /customresourcedefinition\.apiextensions\.k8s\.io\/nvmeofsubsystems\.nvmeof\.io (created|configured|unchanged)/);
    assert.match(await c.kubectl(['api-resources', '--api-group=nvmeof.io']), /nvmeofsubsystems\s+\S*\s*nvmeof\.io\/v1alpha1\s+true\s+NvmeofSubsystem/);
  });

  it('runs the operator from its image, two replicas, exactly one leading (Lease holder)', async () => {
    await deployOperator(c, { hostPathRoot, replicas: 2 });
    const pods = await listPods(c, OPERATOR_NAMESPACE, `app.kubernetes.io/name=${OPERATOR_NAME}`);
    assert.equal(pods.filter(podReady).length, 2, 'both replicas Ready (a follower is ready to take over)');
    const { holder } = await waitFor('the Lease to have a holder', async () => { const l = await leaseHolder(c); return l.holder ? l : undefined; }, 30_000);
    assert.ok(pods.some((p) => p.metadata.name === holder), `Lease ${LEASE_NAME} held by ${holder}, not one of the replicas`);
    const leaders = await waitFor('exactly one replica reporting nvmeof_operator_leader 1', async () => {
      const l: string[] = [];
      for (const p of pods) if (/^nvmeof_operator_leader 1$/m.test(await podGet(c, OPERATOR_NAMESPACE, p.metadata.name, 8080, '/metrics'))) l.push(p.metadata.name);
      return l.length === 1 ? l : undefined;
    }, 20_000);
    assert.deepEqual(leaders, [holder]);
  });

  it('brings a sample resource to a Ready target pod on the node, with endpoint and identities', async () => {
    await c.kubectl(['create', 'namespace', NS]);
    await c.kubectl(['label', 'namespace', NS, 'pod-security.kubernetes.io/enforce=privileged']);
    await c.kubectl(['-n', NS, 'apply', '-f', SAMPLE]);
    const s = await waitSubsystemReady(c, NS, NAME);
    const st = s.status!;
    assert.equal(st.node, c.nodeName);
    assert.equal(st.endpoint, `${c.nodeIP}:4420`);
    assert.equal(st.nqn, `nqn.2024-01.io.nvmeof:${NS}:${NAME}`);
    assert.equal(conditionOf(s, 'Ready')?.reason, 'TargetReady');
    assert.equal(conditionOf(s, 'Degraded')?.status, 'False');
    assert.equal(st.namespaces?.length, 1);
    assert.match(st.namespaces![0].uuid ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.match(st.namespaces![0].nguid ?? '', /^[0-9a-f]{32}$/);
    assert.match(st.namespaces![0].eui64 ?? '', /^[0-9a-f]{16}$/);
    const [pod] = await targetPods(s);
    assert.equal(pod.metadata.name, st.podName);
    assert.equal(pod.status.phase, 'Running');
    assert.equal(pod.spec.nodeName, c.nodeName);
    assert.ok(existsSync(join(subsystemDir(), 'ns1.img')), `no backing file in ${subsystemDir()}`);
    const table = await c.kubectl(['-n', NS, 'get', 'nvmeofsubsystems']);
    assert.match(table, /NAME\s+READY\s+NODE\s+ENDPOINT\s+RECOVERIES\s+AGE/);
    assert.match(table, new RegExp(`${NAME}\\s+True\\s+${c.nodeName}\\s+${c.nodeIP.replace(/\./g, '\\.')}:4420`));
  });

  // Here, before the tests below, which delete pods by force and hang a target on purpose. The node's
  // CgroupV1 warning is the machine's (MACHINE_WARNINGS). A pod's first readiness probe waits one period
  // (operator/builders/pod.ts, the operator's Deployment): one at the container's start failed before node
  // listened, a Warning on every healthy start.
  const usedNamespaces = () => ['default', 'kube-system', OPERATOR_NAMESPACE, NS];
  it('raises no Warning events on a healthy start', async () => {
    const warnings = await warningEvents(c, usedNamespaces());
    assert.deepEqual(warnings, [], `Warning events:\n${warnings.join('\n')}`);
  });

  it("runs the pinned Node (package.json's engines.node) in the target and operator pods", async () => {
    const pinned = `v${(JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node}`;
    const s = await sub();
    const { holder } = await leaseHolder(c);
    assert.ok(holder, 'no operator replica leads');
    for (const [ns, pod] of [[NS, s.status!.podName!], [OPERATOR_NAMESPACE, holder]]) {
      const r = await c.kubectlResult(['-n', ns, 'exec', pod, '--', 'node', '-p', 'process.version']);
      assert.equal(r.code, 0, `kubectl -n ${ns} exec ${pod} -- node -p process.version: ${r.stderr}`);
      assert.equal(r.stdout.trim(), pinned, `pod ${ns}/${pod} runs Node ${r.stdout.trim()}, not the pinned ${pinned}`);
    }
  });

  it('lets a Linux host connect to status.endpoint, see the identities in status, write and read', async () => {
    const s = await sub();
    const out = await onLinuxHost(s, `b=/sys/block/\${dev#/dev/}
echo "ID uuid=$(cat $b/uuid) nguid=$(cat $b/nguid | tr -d -) eui=$(cat $b/eui | tr -d ' ')"
head -c ${PATTERN_BYTES} /dev/urandom > /tmp/pat
dd if=/tmp/pat of=$dev bs=64k oflag=direct 2>/dev/null || die "write failed"
dd if=$dev of=/tmp/back bs=64k count=${PATTERN_BYTES / 65536} iflag=direct 2>/dev/null || die "read failed"
cmp /tmp/pat /tmp/back || die "read back differs from what was written"
echo "MD5 $(md5sum /tmp/pat | cut -d' ' -f1)"`);
    const id = /ID uuid=(\S+) nguid=(\S+) eui=(\S+)/.exec(out);
    assert.ok(id, out);
    const want = s.status!.namespaces![0];
    assert.deepEqual({ uuid: id[1], nguid: id[2], eui64: id[3] }, { uuid: want.uuid, nguid: want.nguid, eui64: want.eui64 }, 'the host sees the identities status reports');
    patternMd5 = /MD5 ([0-9a-f]{32})/.exec(out)?.[1] ?? '';
    assert.ok(patternMd5, out);
    assert.equal(md5OfFileStart(join(subsystemDir(), 'ns1.img'), PATTERN_BYTES), patternMd5, 'the data is in the backing file on the node');
  });

  it('recreates the target on the same node within seconds after `kubectl delete pod`, and counts the recovery', async () => {
    const s = await sub();
    recoveries = s.status?.recovery?.count ?? 0;
    const old = s.status!.podName!;
    const t = Date.now();
    await c.kubectl(['-n', NS, 'delete', 'pod', old, '--timeout=60s'], { timeoutMs: 70_000 });
    const again = await waitSubsystemReady(c, NS, NAME, { notPod: old, ms: 30_000 });
    const took = (Date.now() - t) / 1000;
    console.log(`graceful delete: the new pod ${again.status!.podName} was Ready ${took.toFixed(1)} s after \`kubectl delete pod\` began`);
    assert.ok(took < 20, `took ${took} s`);
    assert.equal(again.status!.node, s.status!.node);
    const [pod] = (await targetPods(again)).filter((p) => !p.metadata.deletionTimestamp);
    assert.equal(pod.spec.nodeName, c.nodeName);
    assert.equal(pod.status.containerStatuses?.[0].restartCount, 0);
    recoveries = await recoveryCountAbove(recoveries);
  });

  it('after `--grace-period=0 --force`, the new target waits for the old container (lock, ports) and takes over', async () => {
    const s = await sub();
    const before = s.status?.recovery?.count ?? 0;
    const oldName = s.status!.podName!;
    const [oldPod] = (await targetPods(s)).filter((p) => p.metadata.name === oldName);
    const pid = await containerPid(c, oldPod.status.containerStatuses![0].containerID!);
    // A hung target: it never runs its SIGTERM handler (which would unlock), and the kubelet's SIGKILL
    // ends it about 2 s after the deletion; its lock and listening sockets are kept past that.
    process.kill(pid, 'SIGSTOP');
    const fds = lockAndListenerFds(pid);
    assert.ok(fds.some((f) => f.what.endsWith('.lock')), `the old target holds no state-file lock: ${JSON.stringify(fds)}`);
    assert.ok(fds.filter((f) => f.what.includes('listening')).length >= 2, `the old target listens on fewer than 2 ports: ${JSON.stringify(fds)}`);
    const held = await holdFds(pid, fds);
    let newPod: PodInfo | undefined;
    let log = '';
    const t = Date.now();
    try {
      await c.kubectl(['-n', NS, 'delete', 'pod', oldName, '--grace-period=0', '--force']);
      await waitFor('the kubelet to end the old container', async () => !procAlive(pid), 30_000);
      // The operator creates a new pod at once, on the same node; its target must start and wait.
      newPod = await waitFor('a new target pod with its container started', async () => {
        const p = (await targetPods(s)).find((x) => x.metadata.name !== oldName);
        const cs = p?.status.containerStatuses?.[0];
        return cs && (cs.state?.running || cs.restartCount > 0 || cs.state?.terminated) ? p : undefined;
      }, 30_000);
      assert.equal(newPod.spec.nodeName, c.nodeName, 'the new pod is on the node with the state');
      log = await waitFor('the new target to log that it waits for the old one', async () => {
        const l = (await c.kubectlResult(['-n', NS, 'logs', newPod!.metadata.name])).stdout;
        return /wait/i.test(l) ? l : undefined;
      }, 15_000).catch(async (e: Error) => {
        const p = (await targetPods(s)).find((x) => x.metadata.name === newPod!.metadata.name);
        const cs = p?.status.containerStatuses?.[0];
        const prevLines = (await c.kubectlResult(['-n', NS, 'logs', newPod!.metadata.name, '--previous'])).stdout.trim().split('\n');
        const prev = [...prevLines.filter((l) => /error/i.test(l)).slice(0, 2), prevLines[prevLines.length - 1]].join(' | ');
        const now = (await c.kubectlResult(['-n', NS, 'logs', newPod!.metadata.name])).stdout.trim().split('\n').slice(-3).join(' | ');
        throw new Error(`${e.message}. The old container's ${held.what.join(', ')} were still held; the new container has ` +
          `restartCount=${cs?.restartCount}, state ${JSON.stringify(cs?.state)}, last termination ${JSON.stringify(cs?.lastState?.terminated)}; ` +
          `its log: ${now || '(empty)'}; previous log: ${prev || '(none)'}`);
      });
      // Give it time to fail if it were going to: it must still be running, not Ready, not restarted.
      await sleep(3000);
      const p = (await targetPods(s)).find((x) => x.metadata.name === newPod!.metadata.name)!;
      const cs = p.status.containerStatuses![0];
      assert.equal(cs.restartCount, 0, `the new target exited instead of waiting: ${JSON.stringify(cs.lastState)}; log: ${log.slice(-800)}`);
      assert.ok(cs.state?.running, `the new target is not running: ${JSON.stringify(cs.state)}`);
      assert.equal(podReady(p), false, 'the new pod must not be Ready while the old container holds the state');
      const ready = (await sub()).status?.conditions?.find((x: { type: string }) => x.type === 'Ready');
      assert.notEqual(ready?.status, 'True', `status must not say Ready while the new target waits: ${JSON.stringify(ready)}`);
      console.log(`forced delete: the new target waits: ${log.split('\n').filter((l) => /wait/i.test(l))[0]?.slice(0, 300)}`);
    } finally {
      await held.release();
      if (procAlive(pid)) process.kill(pid, 'SIGCONT');
    }
    const tr = Date.now();
    const again = await waitSubsystemReady(c, NS, NAME, { notPod: oldName, ms: 30_000 });
    console.log(`forced delete: ${again.status!.podName} Ready ${((Date.now() - tr) / 1000).toFixed(1)} s after the old container's lock and ports were let go (${((Date.now() - t) / 1000).toFixed(1)} s after the deletion)`);
    assert.equal(again.status!.podName, newPod!.metadata.name);
    const [p] = (await targetPods(again)).filter((x) => x.metadata.name === newPod!.metadata.name);
    assert.equal(p.status.containerStatuses?.[0].restartCount, 0, 'the new target never restarted');
    // The data written before both deletions is still there.
    const out = await onLinuxHost(again, `dd if=$dev of=/tmp/back bs=64k count=${PATTERN_BYTES / 65536} iflag=direct 2>/dev/null || die "read failed"
echo "MD5 $(md5sum /tmp/back | cut -d' ' -f1)"`);
    assert.equal(/MD5 ([0-9a-f]{32})/.exec(out)?.[1], patternMd5, 'the host reads back what it wrote before the deletions');
    recoveries = await recoveryCountAbove(Math.max(before, recoveries));
  });

  it('grows a namespace live in the same pod, and rolls the pod for a change a running target cannot take', async () => {
    const s = await sub();
    const old = s.status!.podName!;
    const [oldPod] = await targetPods(s);
    const hash = oldPod.metadata.annotations?.['nvmeof.io/spec-hash'];
    // Growing a namespace is live (issue 20): the running target extends the file and serves the new size.
    await c.kubectl(['-n', NS, 'patch', 'nvmeofsubsystem', NAME, '--type=json', '-p', JSON.stringify([{ op: 'replace', path: '/spec/namespaces/0/size', value: '320Mi' }])]);
    const grown = s.metadata.generation! + 1;
    const live = await waitFor(`generation ${grown} served by the same pod`, async () => {
      const x = await sub();
      return (x.status?.config?.servedGeneration ?? -1) >= grown && conditionOf(x, 'ConfigApplied')?.status === 'True' ? x : undefined;
    }, 60_000, 100);
    assert.equal(live.status!.podName, old, 'a live change replaces no pod');
    assert.deepEqual((await targetPods(live)).map((p) => p.metadata.name), [old], 'one pod, the same');
    assert.equal(statSync(join(subsystemDir(), 'ns1.img')).size, 320 << 20, 'the backing file was extended');
    assert.equal(md5OfFileStart(join(subsystemDir(), 'ns1.img'), PATTERN_BYTES), patternMd5, 'and kept its data');
    // Resources are the pod's own: a change of them replaces it.
    await c.kubectl(['-n', NS, 'patch', 'nvmeofsubsystem', NAME, '--type=merge', '-p', JSON.stringify({ spec: { resources: { requests: { cpu: '30m', memory: '64Mi' } } } })]);
    const again = await waitSubsystemReady(c, NS, NAME, { notPod: old, ms: 60_000 });
    assert.equal(again.status!.observedGeneration, grown + 1);
    const pods = await targetPods(again);
    assert.deepEqual(pods.map((p) => p.metadata.name), [again.status!.podName], 'one pod, the new one');
    assert.notEqual(pods[0].metadata.annotations?.['nvmeof.io/spec-hash'], hash);
    assert.equal(statSync(join(subsystemDir(), 'ns1.img')).size, 320 << 20, 'the size stays');
    assert.equal(md5OfFileStart(join(subsystemDir(), 'ns1.img'), PATTERN_BYTES), patternMd5, 'and the data');
  });

  it('refuses an invalid resource at `kubectl apply` with a readable message', async () => {
    const bad = `apiVersion: nvmeof.io/v1alpha1
kind: NvmeofSubsystem
metadata:
  name: bad
spec:
  nqn: not-an-nqn
  namespaces:
    - {nsid: 1, size: 64Mi, backing: {memory: {}}}
    - {nsid: 1, size: 64Mi, backing: {file: {path: ../../etc/passwd}}}
`;
    const r = await c.kubectlResult(['-n', NS, 'apply', '-f', '-'], { input: bad });
    assert.notEqual(r.code, 0, 'kubectl apply accepted it');
    for (const want of [/The NvmeofSubsystem "bad" is invalid/, /nsids must be unique/, /spec\.nqn: Invalid value/, /allowAnyHost/, /path must not contain '\.\.'/]) {
      assert.match(r.stderr, want);
    }
    assert.equal(await getSubsystem(c, NS, 'bad'), undefined);
  });

  it('reports NamespaceNotPrivileged in a namespace without the privileged Pod Security label', async () => {
    await c.kubectl(['create', 'namespace', 'nvmeof-unprivileged']);
    await c.kubectl(['-n', 'nvmeof-unprivileged', 'apply', '-f', join(sampleDir, 'memory.yaml')]);
    const s = await waitFor('Ready=False NamespaceNotPrivileged', async () => {
      const x = await getSubsystem(c, 'nvmeof-unprivileged', 'demo-memory');
      return conditionOf(x, 'Ready')?.reason === 'NamespaceNotPrivileged' ? x : undefined;
    }, 30_000);
    assert.equal(conditionOf(s, 'Ready')?.status, 'False');
    assert.match(conditionOf(s, 'Ready')!.message, /pod-security\.kubernetes\.io\/enforce=privileged/);
    assert.equal((await listPods(c, 'nvmeof-unprivileged', 'nvmeof.io/role=target')).length, 0, 'no target pod');
    await c.kubectl(['delete', 'namespace', 'nvmeof-unprivileged', '--wait=false']);
  });

  it('hands over to the other replica at once when the leader is deleted', async () => {
    const { holder, transitions } = await leaseHolder(c);
    assert.ok(holder);
    const t = Date.now();
    await c.kubectl(['-n', OPERATOR_NAMESPACE, 'delete', 'pod', holder, '--timeout=60s'], { timeoutMs: 70_000 });
    const next = await waitFor('another replica to hold the Lease', async () => {
      const l = await leaseHolder(c);
      return l.holder && l.holder !== holder ? l : undefined;
    }, 30_000);
    const took = (Date.now() - t) / 1000;
    console.log(`leader ${holder} deleted: ${next.holder} leads ${took.toFixed(1)} s later`);
    assert.ok(took < 10, `took ${took} s: the old leader did not release the Lease (its duration is 15 s)`);
    assert.equal(next.transitions, transitions + 1);
    // The new leader reconciles: the subsystem stays Ready, and a change is still acted upon (next test).
    await waitSubsystemReady(c, NS, NAME, { ms: 30_000 });
  });

  it('removes what it owned when the resource is deleted (reclaimPolicy Delete: the directory too)', async () => {
    const s = await sub();
    const uid = s.metadata.uid!;
    const owned = async () => {
      const out = await c.kubectl(['-n', NS, 'get', 'pods,configmaps,services', '-l', `nvmeof.io/subsystem-uid=${uid}`, '-o', 'name']);
      return out.split('\n').filter(Boolean);
    };
    const had = await owned();
    assert.ok(had.some((n) => n.startsWith('pod/')) && had.some((n) => n.startsWith('configmap/')) && had.some((n) => n.startsWith('service/')), had.join(' '));
    assert.ok(existsSync(subsystemDir()));
    await c.kubectl(['-n', NS, 'delete', 'nvmeofsubsystem', NAME, '--timeout=90s'], { timeoutMs: 100_000 });
    assert.equal(await getSubsystem(c, NS, NAME), undefined);
    await waitFor('the owned objects to be gone', async () => (await owned()).length === 0, 30_000);
    assert.equal(existsSync(subsystemDir()), false, `${subsystemDir()} is still on the node`);
    const events = await c.kubectl(['-n', NS, 'get', 'events', '--field-selector', `involvedObject.uid=${uid}`, '-o', 'jsonpath={.items[*].reason}']);
    assert.match(events, /DirectoryRemoved/);
  });
});
