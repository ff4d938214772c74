// In-pod resume through the operator (spec.persistence.inPodResume, issue 10) on the real single-node
// cluster (test/cluster) with the real images: the operator runs the target pod under the supervisor,
// the worker (the target process the supervisor forked) is SIGKILLed from this machine, and the same pod,
// whose container never restarts, goes on serving a host connected across the kill (the TypeScript host,
// test/host, on the node's address); /recovery and status.recovery count the restart. Then the worker hangs
// (SIGSTOP): the supervisor's watchdog kills it, and status.recovery.workerHangs counts it.
//
// Finding the worker: the container's main process (containerd's task) is the supervisor; the worker is
// its child whose PID in the pod's PID namespace (the last NSpid of /proc/<pid>/status) is the one the
// target's /recovery names as serving (resume.workerPid). The other child is the standby worker.
import { describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { Cluster } from '../cluster/cluster.js';
import { HostController } from '../host/index.js';
import { childrenOf, servingWorker, type Recovery } from '../resume/support.js';
import { SUPERVISOR_ENTRYPOINT } from '../../operator/builders/pod.js';
import type { NvmeofSubsystem } from '../../operator/api/types.js';
import {
  containerPid, getSubsystem, listPods, podReady, sleep, waitFor, waitSubsystemReady, type PodInfo,
} from './deploy.js';
import { operatorSuite } from './suite.js';

const NS = 'nvmeof-resume';
const NAME = 'resume-file';
const PORT = 4420;
const METRICS_PORT = 9420;

let c: Cluster;

/** `live`: namespace 1 grown to 96Mi and a namespace 2 added, a change a running target applies (issue 20). */
function manifest(name: string, o: { inPodResume: boolean; backing: 'file' | 'memory'; live?: boolean }): string {
  const backing = o.backing === 'file' ? '{file: {path: ns1.img}}' : '{memory: {}}';
  return `apiVersion: nvmeof.io/v1alpha1
kind: NvmeofSubsystem
metadata:
  name: ${name}
spec:
  allowAnyHost: true
  listener: {port: ${PORT}, metricsPort: ${METRICS_PORT}}
  namespaces:
    - {nsid: 1, size: ${o.live ? '96Mi' : '64Mi'}, backing: ${backing}}${o.live ? '\n    - {nsid: 2, size: 16Mi, backing: {file: {path: ns2.img}}}' : ''}
  persistence: {inPodResume: ${o.inPodResume}}
`;
}

async function sub(): Promise<NvmeofSubsystem> {
  const s = await getSubsystem(c, NS, NAME);
  assert.ok(s, `NvmeofSubsystem ${NS}/${NAME} is gone`);
  return s;
}

async function targetPod(s: NvmeofSubsystem): Promise<PodInfo> {
  const pods = (await listPods(c, NS, `nvmeof.io/role=target,nvmeof.io/subsystem-uid=${s.metadata.uid}`)).filter((p) => !p.metadata.deletionTimestamp);
  assert.equal(pods.length, 1, `one target pod, not ${pods.map((p) => p.metadata.name).join(', ')}`);
  return pods[0];
}

/** The target's GET /recovery, on the node's address (hostNetwork). */
async function recovery(): Promise<Recovery> {
  const r = await fetch(`http://${c.nodeIP}:${METRICS_PORT}/recovery`, { signal: AbortSignal.timeout(2000) });
  assert.equal(r.status, 200, `/recovery answered ${r.status}`);
  return (await r.json()) as Recovery;
}

/** The PID a process has in its own (the pod's) PID namespace. */
function nsPid(pid: number): number | undefined {
  try {
    const m = /^NSpid:\s+(.+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1].trim().split(/\s+/).pop()) : undefined;
  } catch {
    return undefined;
  }
}

const cmdline = (pid: number): string[] => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
};

/** The pod's supervisor (its container's main process) and its serving worker, as this machine's PIDs. */
async function processesOf(pod: PodInfo): Promise<{ supervisor: number; worker: number; workerInPod: number }> {
  const supervisor = await containerPid(c, pod.status.containerStatuses![0].containerID!);
  const rec = await recovery();
  const children = childrenOf(supervisor);
  const worker = children.find((p) => nsPid(p) === rec.resume.workerPid);
  assert.ok(worker, `no child of the supervisor (pid ${supervisor}) has pid ${rec.resume.workerPid} in the pod, as /recovery says; children: ${children.map((p) => `${p} (${nsPid(p)} in the pod)`).join(', ') || 'none'}`);
  return { supervisor, worker, workerInPod: rec.resume.workerPid };
}

describe('in-pod resume through the operator on a real cluster', { timeout: 10 * 60_000 }, () => {
  let host: HostController | undefined;

  const { it } = operatorSuite({
    cluster: 'resume',
    hostPathPrefix: 'nvmeof-resume-test-',
    namespace: NS,
    onCluster: (cl) => (c = cl),
    stopping: async () => {
      if (host) await Promise.race([host.disconnect().catch(() => {}), sleep(5000)]);
    },
  });

  it('refuses inPodResume with a memory namespace at `kubectl apply`, with the rule\'s message', async () => {
    const r = await c.kubectlResult(['-n', NS, 'apply', '-f', '-'], { input: manifest('resume-memory', { inPodResume: true, backing: 'memory' }) });
    assert.notEqual(r.code, 0, 'kubectl apply accepted it');
    assert.match(r.stderr, /The NvmeofSubsystem "resume-memory" is invalid/);
    assert.match(r.stderr, /persistence\.inPodResume cannot be used with a memory namespace/);
    // Only the two together: a memory namespace without the mode is accepted (by a server-side dry run).
    await c.kubectl(['-n', NS, 'apply', '--dry-run=server', '-f', '-'], { input: manifest('resume-memory', { inPodResume: false, backing: 'memory' }) });
  });

  it('runs a file-backed subsystem with inPodResume under the supervisor, its rings in /dev/shm', async () => {
    await c.kubectl(['-n', NS, 'apply', '-f', '-'], { input: manifest(NAME, { inPodResume: true, backing: 'file' }) });
    const s = await waitSubsystemReady(c, NS, NAME);
    assert.equal(s.status!.endpoint, `${c.nodeIP}:${PORT}`);
    const pod = await targetPod(s);
    const spec = JSON.parse(await c.kubectl(['-n', NS, 'get', 'pod', pod.metadata.name, '-o', 'jsonpath={.spec}'])) as {
      containers: { command: string[]; volumeMounts: { name: string; mountPath: string }[] }[];
      volumes: { name: string; emptyDir?: { medium?: string; sizeLimit?: string } }[];
    };
    assert.deepEqual(spec.containers[0].command.slice(0, SUPERVISOR_ENTRYPOINT.length), SUPERVISOR_ENTRYPOINT);
    assert.ok(spec.containers[0].volumeMounts.some((m) => m.name === 'shm' && m.mountPath === '/dev/shm'));
    assert.deepEqual(spec.volumes.find((v) => v.name === 'shm')?.emptyDir, { medium: 'Memory', sizeLimit: '200Mi' });

    const { supervisor, worker } = await processesOf(pod);
    assert.equal(nsPid(supervisor), 1, 'the supervisor is the container\'s PID 1');
    assert.ok(cmdline(supervisor).includes('/app/dist/target/supervisor.js'), `supervisor: ${cmdline(supervisor).join(' ')}`);
    assert.ok(cmdline(worker).includes('/app/dist/target/resume/worker.js'), `worker: ${cmdline(worker).join(' ')}`);
    const rec = await recovery();
    assert.equal(rec.workerRestarts, 0);
    // The operator copies it on its next read of a Ready subsystem.
    await waitFor('status.recovery.workerRestarts 0', async () => (await sub()).status?.recovery?.workerRestarts === 0, 90_000);
    const shm = readdirSync(`/proc/${supervisor}/root/dev/shm`);
    assert.ok(shm.includes('nvmeof-rings'), `the rings' header file is in the pod's /dev/shm: ${shm.join(', ')}`);
  });

  it('a SIGKILLed worker is replaced inside the same pod: no container restart, the host\'s connections go on, workerRestarts 1 in /recovery and status', async () => {
    const s = await sub();
    const pod = await targetPod(s);
    host = await HostController.connect({ host: c.nodeIP, port: PORT, subnqn: s.status!.nqn!, ioQueues: 1, kato: 10_000 });
    const q = host.io[0];
    const before = randomBytes(128 * 1024);
    await q.write(1, 0, before.length / 512, before);
    const was = await recovery();
    const { supervisor, worker, workerInPod } = await processesOf(pod);
    assert.ok(readdirSync(`/proc/${supervisor}/root/dev/shm`).includes('nvmeof-rings.1'), 'a slot file per connection (admin and I/O queue)');

    const t = Date.now();
    process.kill(worker, 'SIGKILL');
    // The next worker answers /recovery as soon as it runs, before it has taken the connections over;
    // servingWorker() waits for /readyz too, which turns 200 once it has (runTarget awaits the attach).
    const now = await waitFor('/recovery with workerRestarts 1 from another worker, ready', async () => {
      const w = await servingWorker(`${c.nodeIP}:${METRICS_PORT}`);
      if (w === undefined || w === workerInPod) return undefined;
      const r = await recovery();
      return r.workerRestarts === 1 && r.resume.workerPid !== workerInPod ? r : undefined;
    }, 30_000, 20);
    console.log(`worker ${worker} (${workerInPod} in the pod) SIGKILLed: worker ${now.resume.workerPid} serves ${((Date.now() - t) / 1000).toFixed(2)} s later` +
      ` (resume ${now.resume.last?.durationSeconds} s, ${now.resume.connectionsResumed - was.resume.connectionsResumed} connections resumed)`);
    assert.equal(now.resume.connectionsResumed - was.resume.connectionsResumed, 2, 'the admin and the I/O queue resumed');

    // The same connections: what was written before the kill reads back, and I/O goes on.
    const back = Buffer.alloc(before.length);
    await q.read(1, 0, before.length / 512, back);
    assert.ok(back.equals(before), 'the host reads back what it wrote before the kill');
    const afterKill = randomBytes(64 * 1024);
    await q.write(1, 1024, afterKill.length / 512, afterKill);
    await q.read(1, 1024, afterKill.length / 512, back.subarray(0, afterKill.length));
    assert.ok(back.subarray(0, afterKill.length).equals(afterKill), 'a write after the kill reads back');
    assert.equal((await host.identifyController()).cntlid, host.cntlid, 'the same controller');
    await host.keepAlive();

    // The same pod and container: the supervisor, PID 1, stayed.
    const p = await targetPod(await sub());
    assert.equal(p.metadata.uid, pod.metadata.uid, 'the same pod');
    assert.equal(p.status.containerStatuses![0].restartCount, 0, 'the container never restarted');
    assert.equal(p.status.containerStatuses![0].containerID, pod.status.containerStatuses![0].containerID);
    assert.ok(podReady(p), 'the pod is Ready');
    assert.equal(await containerPid(c, p.status.containerStatuses![0].containerID!), supervisor, 'the same supervisor');

    const st = await waitFor('status.recovery.workerRestarts 1', async () => {
      const x = await sub();
      return x.status?.recovery?.workerRestarts === 1 ? x : undefined;
    }, 90_000);
    console.log(`status.recovery.workerRestarts 1 ${((Date.now() - t) / 1000).toFixed(1)} s after the kill`);
    assert.equal(st.status!.podName, pod.metadata.name);
    const table = await c.kubectl(['-n', NS, 'get', 'nvmeofsubsystems', '-o', 'wide']);
    assert.match(table, /\bWORKER RESTARTS\b/);
    assert.match(table, new RegExp(`^${NAME}\\s+True\\s.*\\s1\\s*$`, 'm'), table);
  });

  it('a hung worker (SIGSTOP) is killed by its supervisor and replaced: the host\'s connections go on, workerHangs 1 in /recovery and status', async () => {
    assert.ok(host, 'the host of the previous test is connected');
    const q = host.io[0];
    const data = randomBytes(64 * 1024);
    await q.write(1, 2048, data.length / 512, data);
    const pod = await targetPod(await sub());
    const { worker, workerInPod } = await processesOf(pod);
    const t = Date.now();
    process.kill(worker, 'SIGSTOP');
    // Sent while it is stopped: the next worker answers it.
    const back = Buffer.alloc(data.length);
    const read = q.read(1, 2048, data.length / 512, back);
    try {
      await waitFor('/recovery with workerHangs 1 from another worker', async () => {
        const w = await servingWorker(`${c.nodeIP}:${METRICS_PORT}`);
        if (w === undefined || w === workerInPod) return undefined;
        const r = await recovery();
        return r.resume.workerHangs === 1 && r.workerRestarts === 2 ? r : undefined;
      }, 30_000, 20);
    } catch (e) {
      try { process.kill(worker, 'SIGKILL'); } catch { /* gone */ }
      throw e;
    }
    console.log(`worker ${worker} stopped: replaced ${((Date.now() - t) / 1000).toFixed(2)} s later`);
    await read;
    assert.ok(back.equals(data), 'the read sent to the stopped worker returns the data');
    assert.equal((await host.identifyController()).cntlid, host.cntlid, 'the same controller');
    const p = await targetPod(await sub());
    assert.equal(p.metadata.uid, pod.metadata.uid, 'the same pod');
    assert.equal(p.status.containerStatuses![0].restartCount, 0, 'the container never restarted');
    await waitFor('status.recovery.workerHangs 1', async () => (await sub()).status?.recovery?.workerHangs === 1, 90_000);
  });

  it('a live change is applied by the worker in the same pod (issue 20, 5): namespace 2 added and namespace 1 grown, seen by the connected host', async () => {
    assert.ok(host, 'the host of the previous tests is connected');
    const pod = await targetPod(await sub());
    const before = await recovery();
    const t = Date.now();
    await c.kubectl(['-n', NS, 'apply', '-f', '-'], { input: manifest(NAME, { inPodResume: true, backing: 'file', live: true }) });
    const generation = (await sub()).metadata.generation!;
    await waitFor(`the worker serving generation ${generation}`, async () => {
      const r = (await recovery()) as Recovery & { config?: { generation: number } };
      return (r.config?.generation ?? -1) >= generation;
    }, 30_000, 100);
    console.log(`generation ${generation} served ${((Date.now() - t) / 1000).toFixed(2)} s after kubectl apply, under in-pod resume`);
    assert.deepEqual(await host.activeNamespaces(), [1, 2], 'the connected host sees namespace 2');
    assert.equal((await host.identifyNamespace(1)).nsze, (96 * 2 ** 20) / 512, 'and namespace 1 grown');
    const after = await recovery();
    assert.equal(after.workerRestarts, before.workerRestarts, 'no worker was replaced for it');
    const p = await targetPod(await sub());
    assert.equal(p.metadata.uid, pod.metadata.uid, 'the same pod');
    assert.equal(p.status.containerStatuses![0].restartCount, 0, 'the container never restarted');
    await waitFor(`status.config.servedGeneration ${generation}`, async () => ((await sub()).status?.config?.servedGeneration ?? -1) >= generation, 30_000);
  });
});
