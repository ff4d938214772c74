// What a subsystem costs a node (issue 19, 6), measured on the project's real single-node cluster
// (test/cluster) with the operator as users run it. By hand, not in CI (about 10 minutes):
//
//   bash scripts/prepare.sh --parts cluster --build -- node dist/test/bench/node-cost.js \
//     [--subsystems 30] [--modes plain,resume] [--cluster cost] [--idle-seconds 60] [--load-seconds 10] [--out FILE]
//
// For each mode (plain: the target alone; resume: spec.persistence.inPodResume, the supervisor with its
// worker and standby worker) it applies N file-backed subsystems at once with the operator's default
// requests (the one that carries the load requests a whole CPU; it stops first if the node cannot admit
// them all), waits until every one is Ready, then:
// - idle: each pod cgroup's CPU over --idle-seconds (the kubelet's probes included: they are part of
//   what an idle target does), its working set (kubelet's formula) and its processes' PSS at the end;
// - CPU at a stated load: cload (the C client) on one subsystem, 4K random reads at QD 32 on one queue, its
//   IOPS and that pod's CPU between cload's marks, while the other N-1 stay idle;
// - memory under load: the bench's RSS workload on the same subsystem (128 KiB random reads, then writes,
//   at QD 128 on each of LOAD_QUEUES I/O queues, --load-seconds each), sampling the pod's working set and
//   PSS every 200 ms: peak, and settled (median of the second half);
// and deletes them. It prints per-pod figures, per-role PSS, the sizing table (test/bench/node-cost/
// sizing.ts) and how many target pods the node admits at the operator's default requests, and writes
// everything as JSON to --out (default node-cost.json in the cluster's state folder).
// CPU figures are noisy on a shared machine (the load average is printed at the start and the end);
// memory figures are not.
//
// Ports: subsystem i listens on 24420+i (plain) or 24620+i (resume), metrics on 25420+i / 25620+i, inside
// the cluster's own network namespace (its node address, 10.213.<n>.2, reached over the veth pair).
import { readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startCluster, type Cluster } from '../cluster/cluster.js';
import { containerPid, deployOperator, installCrdsWithKubectl, listPods, sleep, waitFor } from '../operator/deploy.js';
import { defaultResources } from '../../operator/builders/pod.js';
import type { NvmeofSubsystem } from '../../operator/api/types.js';
import { LABEL_ROLE } from '../../operator/builders/names.js';
import { parseBytes } from '../../operator/builders/quantity.js';
import { cloadBinary } from './cload/build.js';
import { runCload } from './cload/run.js';
import { median } from './rows.js';
import { processTree, readPodCpuSeconds, readPodMemory, readProcess, type CgroupMemory, type ProcessCost } from './node-cost/proc.js';
import { millicores, podsThatFit, sizingRow, sizingTable, type IdlePod, type LoadedPod, type ModeCost } from './node-cost/sizing.js';

const NAMESPACE = 'cost';
const MODES = { plain: { port: 24420 }, resume: { port: 24620 } } as const;
type Mode = keyof typeof MODES;
/** I/O queues of the memory workload: with the admin queue, the supervisor's 32 connection slots exactly. */
const LOAD_QUEUES = 31;
/** The subsystem that carries the load. */
const LOADED = 0;
const NS_SIZE = '256Mi';
const TARGET_PODS = `${LABEL_ROLE}=target`;
const MIB = 2 ** 20;

const { values: args } = parseArgs({
  options: {
    subsystems: { type: 'string', default: '30' },
    modes: { type: 'string', default: 'plain,resume' },
    cluster: { type: 'string', default: 'cost' },
    'idle-seconds': { type: 'string', default: '60' },
    'load-seconds': { type: 'string', default: '10' },
    out: { type: 'string' },
  },
});
const N = Number(args.subsystems);
const IDLE_S = Number(args['idle-seconds']);
const LOAD_S = Number(args['load-seconds']);
const modes = args.modes.split(',').map((m) => {
  if (!(m in MODES)) throw new Error(`--modes: ${m} is not one of ${Object.keys(MODES).join(', ')}`);
  return m as Mode;
});
const log = (m: string) => console.log(`node-cost: ${m}`);
const mib = (b: number) => (b / MIB).toFixed(1);
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');

function subsystem(mode: Mode, i: number): NvmeofSubsystem {
  return {
    apiVersion: 'nvmeof.io/v1alpha1',
    kind: 'NvmeofSubsystem',
    metadata: { name: `${mode}-${i}`, namespace: NAMESPACE },
    spec: {
      allowAnyHost: true,
      listener: { port: MODES[mode].port + i, metricsPort: MODES[mode].port + 1000 + i },
      namespaces: [{ nsid: 1, size: NS_SIZE, backing: { file: { path: 'ns1.img' } } }],
      persistence: { durability: 'process', ...(mode === 'resume' ? { inPodResume: true } : {}) },
      reclaimPolicy: 'Delete',
      // The operator's default requests, as users get them, but for the subsystem that carries the load: a
      // pod's CPU request is its cgroup's cpu.shares, and on a machine whose other jobs keep both CPUs busy
      // 25m (25 shares against the 1024 of every other job) would measure how little CPU it is given, not
      // what it uses.
      ...(i === LOADED ? { resources: { requests: { cpu: '1' } } } : {}),
    },
  } as NvmeofSubsystem;
}

interface Served { name: string; nqn: string; port: number; pod: string; pid: number }

async function listSubsystems(c: Cluster): Promise<NvmeofSubsystem[]> {
  return (JSON.parse(await c.kubectl(['-n', NAMESPACE, 'get', 'nvmeofsubsystems', '-o', 'json'])) as { items: NvmeofSubsystem[] }).items;
}

const isReady = (s: NvmeofSubsystem) => s.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True') === true && !!s.status?.podName;

/** The container's main PID and, in resume mode, its worker and standby: the processes a pod should have. */
async function servedPods(c: Cluster, mode: Mode, subs: NvmeofSubsystem[]): Promise<Served[]> {
  const pods = await listPods(c, NAMESPACE, TARGET_PODS);
  const out: Served[] = [];
  for (const s of subs) {
    const pod = pods.find((p) => p.metadata.name === s.status!.podName);
    const id = pod?.status.containerStatuses?.[0]?.containerID;
    if (!id) throw new Error(`${s.metadata!.name}: pod ${s.status!.podName} has no container`);
    out.push({ name: s.metadata!.name!, nqn: s.status!.nqn!, port: s.spec.listener!.port!, pod: pod!.metadata.name, pid: await containerPid(c, id) });
  }
  const want = mode === 'resume' ? 3 : 1;
  await waitFor(`every ${mode} pod to run its ${want} process(es)`, async () => out.every((p) => processTree(p.pid).length >= want), 120_000, 1000);
  return out;
}

const podProcesses = (pid: number): ProcessCost[] => processTree(pid).map(readProcess);
const pssOf = (ps: ProcessCost[]) => ps.reduce((a, p) => a + p.smaps.pss, 0);
function byRole(ps: ProcessCost[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of ps) out[x.role] = (out[x.role] ?? 0) + x.smaps.pss;
  return out;
}

async function measureIdle(served: Served[]): Promise<IdlePod[]> {
  const cpu0 = served.map((p) => readPodCpuSeconds(p.pid));
  const t0 = process.hrtime.bigint();
  await sleep(IDLE_S * 1000);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return served.map((p, i) => {
    const ps = podProcesses(p.pid);
    return { millicores: ((readPodCpuSeconds(p.pid) - cpu0[i]) / seconds) * 1000, workingSet: readPodMemory(p.pid).workingSet, pss: pssOf(ps), pssByRole: byRole(ps) };
  });
}

async function cload(c: Cluster, bin: string, p: Served, extra: string[], onMark?: (m: 'start' | 'end') => void) {
  const r = await runCload(bin, ['--host', c.nodeIP, '--port', String(p.port), '--nqn', p.nqn, '--marks', ...extra], { onMark, timeoutMs: (LOAD_S + 60) * 1000 });
  if (r.code !== 0 || !r.result) throw new Error(`cload ${extra.join(' ')} against ${p.name}: exit ${r.code}: ${r.stderr.trim()}`);
  return r.result;
}

async function measureLoad(c: Cluster, bin: string, p: Served): Promise<LoadedPod & { cpuLoad: string; workingSetAfter: number; pssAfter: number; atPeak: { memory: CgroupMemory; pssByRole: Record<string, number> } }> {
  // CPU at a stated load.
  let cpuStart = 0;
  let cpuEnd = 0;
  const cpuLoad = `4K random read, QD 32, one queue, ${LOAD_S} s`;
  const r = await cload(c, bin, p, ['--qd', '32', '--bs', '4096', '--op', 'read', '--pattern', 'rand', '--seconds', String(LOAD_S)], (m) => {
    if (m === 'start') cpuStart = readPodCpuSeconds(p.pid);
    else cpuEnd = readPodCpuSeconds(p.pid);
  });
  const millicoresAtLoad = ((cpuEnd - cpuStart) / r.seconds) * 1000;
  log(`${p.name}: ${cpuLoad}: ${r.iops.toFixed(0)} IOPS, pod CPU ${millicoresAtLoad.toFixed(0)}m, cload ${((r.client_cpu_s / r.seconds) * 100).toFixed(0)} % of a CPU`);

  // Memory under the RSS workload.
  const samples: { ws: number; activeFile: number; pss: number; memory: CgroupMemory; pssByRole: Record<string, number> }[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const m = readPodMemory(p.pid);
      const ps = podProcesses(p.pid);
      samples.push({ ws: m.workingSet, activeFile: m.activeFile, pss: pssOf(ps), memory: m, pssByRole: byRole(ps) });
      await sleep(200);
    }
  })();
  try {
    for (const op of ['read', 'write']) {
      const w = await cload(c, bin, p, ['--queues', String(LOAD_QUEUES), '--qd', String(LOAD_QUEUES * 128), '--bs', String(128 * 1024), '--op', op, '--pattern', 'rand', '--seconds', String(LOAD_S)]);
      log(`${p.name}: 128K random ${op}, ${LOAD_QUEUES} queues x QD 128: ${w.mibps.toFixed(0)} MiB/s`);
    }
  } finally {
    sampling = false;
    await sampler;
  }
  const peak = samples.reduce((a, s) => (s.ws > a.ws ? s : a));
  const settled = median(samples.slice(Math.floor(samples.length / 2)).map((s) => s.ws));
  await sleep(10_000);
  const after = readPodMemory(p.pid);
  return {
    iops: r.iops, millicores: millicoresAtLoad, cpuLoad,
    workingSetPeak: peak.ws, workingSetSettled: settled, unreclaimablePeak: Math.max(...samples.map((s) => s.memory.anon + s.memory.shmem)), activeFileAtPeak: peak.activeFile, pssPeak: Math.max(...samples.map((s) => s.pss)),
    workingSetAfter: after.workingSet, pssAfter: pssOf(podProcesses(p.pid)),
    atPeak: { memory: peak.memory, pssByRole: peak.pssByRole },
  };
}

async function measureMode(c: Cluster, bin: string, mode: Mode): Promise<ModeCost & { secondsToReady: number; loadDetail: unknown }> {
  log(`${mode}: applying ${N} subsystems at once (load average ${load()})`);
  const t0 = Date.now();
  await c.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: Array.from({ length: N }, (_, i) => subsystem(mode, i)) }) });
  const subs = await waitFor(`${N} ${mode} subsystems Ready`, async () => {
    const all = (await listSubsystems(c)).filter((s) => s.metadata!.name!.startsWith(`${mode}-`));
    return all.length === N && all.every(isReady) ? all : undefined;
  }, 600_000, 2000);
  const secondsToReady = (Date.now() - t0) / 1000;
  log(`${mode}: ${N} Ready in ${secondsToReady.toFixed(0)} s`);
  subs.sort((a, b) => a.spec.listener!.port! - b.spec.listener!.port!);
  const served = await servedPods(c, mode, subs);
  await sleep(20_000); // start-up garbage settles; the standby is forked a moment after the worker serves
  log(`${mode}: idle for ${IDLE_S} s`);
  const idle = await measureIdle(served);
  const roles = [...new Set(idle.flatMap((p) => Object.keys(p.pssByRole)))];
  log(`${mode}: idle per pod (median of ${idle.length}): CPU ${median(idle.map((p) => p.millicores)).toFixed(2)}m, working set ${mib(median(idle.map((p) => p.workingSet)))} MiB, ` +
    `PSS ${mib(median(idle.map((p) => p.pss)))} MiB (${roles.map((r) => `${r} ${mib(median(idle.map((p) => p.pssByRole[r] ?? 0)))}`).join(', ')})`);
  const loaded = await measureLoad(c, bin, served[LOADED]);
  log(`${mode}: under the memory workload: working set peak ${mib(loaded.workingSetPeak)} MiB (page cache ${mib(loaded.activeFileAtPeak)}), settled ${mib(loaded.workingSetSettled)}, ` +
    `PSS peak ${mib(loaded.pssPeak)} (${Object.entries(loaded.atPeak.pssByRole).map(([r, b]) => `${r} ${mib(b)}`).join(', ')}; pod shmem ${mib(loaded.atPeak.memory.shmem)}, anon ${mib(loaded.atPeak.memory.anon)}); 10 s later working set ${mib(loaded.workingSetAfter)}, PSS ${mib(loaded.pssAfter)}`);
  await c.kubectl(['-n', NAMESPACE, 'delete', 'nvmeofsubsystems', '--all', '--wait', '--timeout=300s'], { timeoutMs: 310_000 });
  await waitFor(`${mode} pods gone`, async () => (await listPods(c, NAMESPACE, TARGET_PODS)).length === 0, 300_000, 2000);
  return { mode, subsystems: N, ready: subs.length, idle, loaded, secondsToReady, loadDetail: { ...loaded, idlePods: idle } };
}

/** How many target pods of the operator's default requests the node admits beside what runs on it now. */
async function defaultsFit(c: Cluster, mode: Mode): Promise<{ text: string; pods: number; requestMillicores: number }> {
  const node = JSON.parse(await c.kubectl(['get', 'node', c.nodeName, '-o', 'json'])) as { status: { allocatable: Record<string, string> } };
  const pods = (JSON.parse(await c.kubectl(['get', 'pods', '-A', '--field-selector', `spec.nodeName=${c.nodeName},status.phase!=Succeeded,status.phase!=Failed`, '-o', 'json'])) as
    { items: { spec: { containers: { resources?: { requests?: Record<string, string> } }[] } }[] }).items;
  let usedCpu = 0;
  let usedMem = 0;
  for (const p of pods) {
    for (const ct of p.spec.containers) {
      usedCpu += millicores(ct.resources?.requests?.cpu) ?? 0;
      usedMem += ct.resources?.requests?.memory ? parseBytes(ct.resources.requests.memory) : 0;
    }
  }
  const req = defaultResources(subsystem(mode, 0), { image: '', imagePullPolicy: 'Never', hostPathRoot: '/' } as Parameters<typeof defaultResources>[1]).requests ?? {};
  const fit = podsThatFit(
    { millicores: millicores(node.status.allocatable.cpu)! - usedCpu, bytes: parseBytes(node.status.allocatable.memory) - usedMem },
    { millicores: millicores(req.cpu) ?? 0, bytes: req.memory ? parseBytes(req.memory) : 0 },
  );
  return { pods: fit.pods, requestMillicores: millicores(req.cpu) ?? 0, text: `${mode}: the default requests (${req.cpu} CPU, ${req.memory}) admit ${fit.pods} target pods on ${c.nodeName} (allocatable ${node.status.allocatable.cpu} CPU, ` +
    `${node.status.allocatable.memory}; ${usedCpu}m and ${mib(usedMem)} MiB requested by the pods there), bound by ${fit.bound}` };
}

async function main(): Promise<void> {
  const bin = cloadBinary();
  log(`load average at start ${load()}`);
  const c = await startCluster({ name: args.cluster, log: (m) => log(`cluster: ${m}`) });
  try {
    await installCrdsWithKubectl(c);
    await deployOperator(c, { hostPathRoot: join(c.stateDir, 'nvmeof'), replicas: 1 });
    await c.kubectl(['create', 'namespace', NAMESPACE]);
    await c.kubectl(['label', 'namespace', NAMESPACE, 'pod-security.kubernetes.io/enforce=privileged']);
    const fits = await Promise.all(modes.map((m) => defaultsFit(c, m)));
    for (const f of fits) log(f.text);
    // The loaded subsystem's whole CPU takes the room of 1000 / request default pods.
    const short = fits.find((f) => f.pods < N - 1 + Math.ceil(1000 / f.requestMillicores));
    if (short) throw new Error(`${short.text}: fewer than the ${N} subsystems asked for (one of them requests a whole CPU); run with fewer --subsystems`);
    const results = [];
    for (const mode of modes) results.push(await measureMode(c, bin, mode));
    console.log('');
    for (const f of fits) console.log(f.text);
    console.log(`\nnode: ${readFileSync('/proc/cpuinfo', 'utf8').match(/^processor/gm)?.length} CPUs; load average at the end ${load()}\n`);
    console.log(sizingTable(results.map(sizingRow)));
    const out = args.out ?? join(c.stateDir, '..', 'node-cost.json');
    writeFileSync(out, JSON.stringify({ subsystems: N, idleSeconds: IDLE_S, loadSeconds: LOAD_S, loadQueues: LOAD_QUEUES, fits: fits.map((f) => f.text), results, rows: results.map(sizingRow) }, null, 2));
    log(`details in ${out}`);
  } finally {
    await c.stop();
  }
}

main().then(() => process.exit(0), (e: unknown) => {
  console.error(e instanceof Error ? e.stack ?? e.message : e);
  process.exit(1);
});
