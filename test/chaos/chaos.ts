// The chaos run (issue 7): a real single-node cluster (test/cluster), the operator installed with its
// Helm chart, one file-backed NvmeofSubsystem on the hostPath, the Linux kernel host in qemu writing
// and verifying through the target pod's endpoint, and meanwhile the target pod deleted again and
// again (graceful and `--grace-period=0 --force`, at random intervals), the target process SIGKILLed
// inside its live pod before some of those deletions (the kubelet restarts the container in place: the
// new target restores the state of one that never shut down), the operator's pods deleted once and
// kube-apiserver restarted once. runChaos() does it all and returns the per-kill rows and
// the checks; chaos.test.ts (CI, 20 kills) and cli.ts (`npm run chaos -- --kills N`) call it.
import { createServer, type Server } from 'node:net';
import { closeSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, type Cluster } from '../cluster/cluster.js';
import { repoRoot } from '../cluster/paths.js';
import { runGuest, vmAvailable, type GuestResult } from '../vm/guest.js';
import { containerPid, operatorMissing, sleep, waitFor, waitSubsystemReady } from '../operator/deploy.js';
import type { NvmeofSubsystem } from '../../operator/api/types.js';
import { BLOCKS, chaosGuestScript } from './guest-script.js';
import { LockWatch, type ContainerRecord } from './lock-watch.js';
import { PodLogCollector } from './pod-logs.js';
import { PodProtocolErrorWatch } from '../support/pod-protocol-errors.js';

export const CHART = join(repoRoot, 'charts', 'nvmeof-operator');
const OPERATOR_NS = 'nvmeof-system';
const RELEASE = 'nvmeof-operator';
const OPERATOR_SELECTOR = `app.kubernetes.io/instance=${RELEASE}`;
const NS = 'chaos';
const NAME = 'chaos';
const NQN = `nqn.2024-01.io.nvmeof:${NS}:${NAME}`;
const PORT = 4420;
const METRICS_PORT = 9420;
const CTRL_LOSS_TMO = 600;

/** A deletion of the target pod, or a SIGKILL of the target process in its pod (the container restarts in place). */
export type KillKind = 'graceful' | 'force' | 'sigkill';
export type KillEvent = 'operator' | 'apiserver';

export interface KillRow {
  n: number;
  kind: KillKind;
  /** done together with this kill: the operator's pods deleted first, or kube-apiserver restarted right after */
  event?: KillEvent;
  oldPod: string;
  newPod: string;
  /** The container's restart count in the old and the new pod: which target instance (log file n.log) */
  oldRestart: number;
  newRestart: number;
  /** the node the new pod runs on */
  node: string;
  /** Date.now() just before the deletion was sent */
  at: number;
  /** ms from the deletion (or the SIGKILL) to the new pod's phase Running (the restarted container running) */
  runningMs: number;
  /** ms from the deletion to the new target answering /recovery with the next boot count */
  servingMs: number;
  /** the new target's /recovery: last.durationSeconds and last.outcome */
  recoverySeconds: number;
  outcome: string;
  bootCount: number;
  /** how long the new target waited for the state-file lock (from its log), 0 if it did not */
  lockWaitMs: number;
  /** how the old target ended, from its log: "stopped" (SIGTERM handled to the end), "shutting down" (killed during it), "killed" */
  oldEnd?: string;
  /** the host-visible stall: the writer's gap in completed I/O that spans the kill (ms) */
  stallMs?: number;
  /** kube-apiserver's downtime, for the row that restarted it */
  apiserverDownMs?: number;
  notes: string[];
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface ChaosOptions {
  /** deletions of the target pod */
  kills: number;
  /** SIGKILLs of the target in its live pod, each before a distinct deletion; default kills / 4 */
  sigkills?: number;
  seed?: number;
  /** random pause after the host has resumed I/O, before the next kill (ms); default 300..4000 */
  minPauseMs?: number;
  maxPauseMs?: number;
  clusterName?: string;
  log?: (m: string) => void;
  /** print every guest console line */
  verbose?: boolean;
}

export interface ChaosResult {
  seed: number;
  rows: KillRow[];
  checks: Check[];
  table: string;
  timings: [string, number][];
  guest?: GuestResult;
  summary: string[];
}

interface RecoveryDoc {
  count: number;
  bootCount: number;
  outcomes: Record<string, number>;
  last: { outcome: string; durationSeconds: number; startedAt: string } | null;
}

interface PodJson {
  metadata: { name: string; uid: string; deletionTimestamp?: string };
  spec: { nodeName?: string };
  status: {
    phase?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { restartCount: number; ready: boolean; containerID?: string; state?: { running?: object } }[];
  };
}

/** A small seeded generator (mulberry32), so that a run can be repeated with its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(a: T[], random: () => number): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/**
 * The kills in order: `deletions` pod deletions, half graceful and half forced, shuffled, and `sigkills`
 * SIGKILLs of the target in its pod, each just before a distinct deletion. So no pod's container is
 * SIGKILLed twice: the kubelet restarts a container at once the first time, then backs off (10 s, 20 s,
 * ...) while the pod lives. The operator and apiserver restarts go with two deletions (row indices).
 */
export function plan(deletions: number, random: () => number, sigkills = Math.floor(deletions / 4)): { kinds: KillKind[]; events: Map<number, KillEvent> } {
  const dels: KillKind[] = shuffle(Array.from({ length: deletions }, (_, i) => (i % 2 === 0 ? 'graceful' : 'force')), random);
  const preceded = new Set(shuffle(Array.from({ length: deletions }, (_, i) => i), random).slice(0, Math.min(sigkills, deletions)));
  const kinds: KillKind[] = [];
  const rowOf: number[] = [];
  dels.forEach((k, d) => {
    if (preceded.has(d)) kinds.push('sigkill');
    rowOf.push(kinds.length);
    kinds.push(k);
  });
  const events = new Map<number, KillEvent>();
  const op = Math.min(deletions - 1, Math.floor(deletions * 0.3));
  const api = Math.min(deletions - 1, Math.floor(deletions * 0.65));
  events.set(rowOf[op], 'operator');
  // One deletion: the apiserver restart wins; the operator gets none (callers ask for more).
  events.set(rowOf[api !== op ? api : deletions - 1 === api ? 0 : deletions - 1], 'apiserver');
  return { kinds, events };
}

function splitRef(ref: string): { repository: string; tag: string } {
  const i = ref.lastIndexOf(':');
  return { repository: ref.slice(0, i), tag: ref.slice(i + 1) };
}

const s1 = (ms: number | undefined) => (ms === undefined || Number.isNaN(ms) ? '-' : (ms / 1000).toFixed(1));

export function formatTable(rows: KillRow[]): string {
  const head = ['#', 'kill', 'with', 'old target', 'new pod Running (s)', 'target serving (s)', 'recovery (s)', 'outcome', 'lock wait (s)', 'host stall (s)'];
  const lines = rows.map((r) => [
    String(r.n),
    r.kind === 'force' ? '--grace-period=0 --force' : r.kind === 'sigkill' ? 'SIGKILL in the pod' : 'graceful delete',
    r.event === 'operator' ? 'operator pods deleted' : r.event === 'apiserver' ? `apiserver restart (${s1(r.apiserverDownMs)} s down)` : '',
    r.oldEnd ?? '',
    s1(r.runningMs),
    s1(r.servingMs),
    r.recoverySeconds.toFixed(3),
    r.outcome,
    r.lockWaitMs ? s1(r.lockWaitMs) : '0',
    s1(r.stallMs),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  const out = [fmt(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(fmt)];
  const nums = (f: (r: KillRow) => number | undefined) => rows.map(f).filter((x): x is number => x !== undefined && !Number.isNaN(x)).sort((a, b) => a - b);
  const stat = (name: string, v: number[], scale = 1000) =>
    v.length ? `${name}: median ${(v[Math.floor(v.length / 2)] / scale).toFixed(2)} s, max ${(v[v.length - 1] / scale).toFixed(2)} s` : `${name}: -`;
  out.push('', [
    stat('new pod Running', nums((r) => r.runningMs)),
    stat('target serving', nums((r) => r.servingMs)),
    stat('recovery', nums((r) => r.recoverySeconds), 1),
    stat('host stall', nums((r) => r.stallMs)),
  ].join('; '));
  return out.join('\n');
}

async function fetchJson<T>(url: string, timeoutMs = 1500): Promise<T> {
  const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (r.status !== 200) throw new Error(`GET ${url}: HTTP ${r.status}`);
  return (await r.json()) as T;
}

/** The new target's wait for the state-file lock, from its log (0 if it did not wait). */
function lockWaitFromLog(text: string): number {
  const m = /state-file lock acquired[^\n]*"waitedMs":(\d+)/.exec(text);
  return m ? Number(m[1]) : 0;
}

/** How a target ended, from its log. */
function endFromLog(text: string): string {
  if (/"message":"stopped"/.test(text)) return 'stopped';
  if (/"message":"shutting down"/.test(text)) return 'shutting down';
  return 'killed';
}

export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const log = o.log ?? ((m: string) => console.log(`chaos: ${m}`));
  if (!Number.isInteger(o.kills) || o.kills < 2) throw new Error(`--kills must be an integer of at least 2 (one kill carries the operator restart, another the apiserver restart), not ${o.kills}`);
  const seed = o.seed ?? Math.floor(Math.random() * 2 ** 31);
  const random = rng(seed);
  const minPause = o.minPauseMs ?? 300;
  const maxPause = o.maxPauseMs ?? 4000;
  const sigkills = o.sigkills ?? Math.floor(o.kills / 4);
  if (!Number.isInteger(sigkills) || sigkills < 0 || sigkills > o.kills) throw new Error(`--sigkills must be an integer from 0 to --kills (${o.kills}), not ${sigkills}`);
  const { kinds, events } = plan(o.kills, random, sigkills);
  const timings: [string, number][] = [];
  const t0 = Date.now();
  let phaseT = t0;
  const phase = (name: string) => {
    timings.push([name, (Date.now() - phaseT) / 1000]);
    log(`${name}: ${((Date.now() - phaseT) / 1000).toFixed(1)} s`);
    phaseT = Date.now();
  };
  log(`${o.kills} deletions and ${sigkills} SIGKILLs in the pod, seed ${seed}`);

  // Missing parts fail here, each with what installs it.
  const vm = vmAvailable();
  if (!vm.ok) throw new Error(`the Linux host in qemu is missing: ${vm.missing} (run: bash test/vm/prepare.sh)`);
  const opMissing = operatorMissing();
  if (opMissing) throw new Error(`the operator is not built: missing ${opMissing}`);

  let c: Cluster | undefined;
  let hostPathRoot: string | undefined;
  let watch: LockWatch | undefined;
  let server: Server | undefined;
  let podLogs: PodLogCollector | undefined;
  const onExit = () => { if (hostPathRoot) rmSync(hostPathRoot, { recursive: true, force: true }); };
  process.on('exit', onExit);
  let stopGuest = false;
  const abort = new AbortController();
  try {
    c = await startCluster({ name: o.clusterName ?? 'chaos' });
    const cl = c;
    hostPathRoot = mkdtempSync(join(tmpdir(), 'nvmeof-chaos-data-'));
    podLogs = new PodLogCollector(join(cl.stateDir, 'pod-logs'), join(cl.logDir, 'targets'), NS, 'target');
    podLogs.start();
    const protocolErrors = new PodProtocolErrorWatch(join(cl.stateDir, 'pod-logs')).start();
    phase('cluster start');

    // --- the operator, with its Helm chart ------------------------------------------------------
    await cl.kubectl(['create', 'namespace', OPERATOR_NS]);
    await cl.kubectl(['label', 'namespace', OPERATOR_NS, 'pod-security.kubernetes.io/enforce=restricted']);
    const op = splitRef(cl.images.operator);
    const tg = splitRef(cl.images.target);
    await cl.helm([
      'install', RELEASE, CHART, '-n', OPERATOR_NS,
      '--set', `image.repository=${op.repository}`, '--set', `image.tag=${op.tag}`, '--set', 'image.pullPolicy=Never',
      '--set', `targetImage.repository=${tg.repository}`, '--set', `targetImage.tag=${tg.tag}`, '--set', 'targetImage.pullPolicy=Never',
      '--set', `hostPathRoot=${hostPathRoot}`,
      '--wait', '--timeout', '180s',
    ], { timeoutMs: 200_000 });
    phase('helm install');

    // --- the subsystem --------------------------------------------------------------------------
    await cl.kubectl(['create', 'namespace', NS]);
    await cl.kubectl(['label', 'namespace', NS, 'pod-security.kubernetes.io/enforce=privileged']);
    await cl.kubectl(['-n', NS, 'apply', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'nvmeof.io/v1alpha1', kind: 'NvmeofSubsystem', metadata: { name: NAME },
        spec: {
          allowAnyHost: true,
          listener: { port: PORT, metricsPort: METRICS_PORT },
          namespaces: [{ nsid: 1, size: '256Mi', backing: { file: { path: 'ns1.img' } } }],
          persistence: { durability: 'process' },
          reclaimPolicy: 'Retain',
        },
      }),
    });
    const ready = await waitSubsystemReady(cl, NS, NAME, { ms: 120_000 });
    const endpoint = ready.status!.endpoint!;
    const [address, port] = endpoint.split(':');
    if (ready.status!.nqn !== NQN) throw new Error(`status.nqn is ${ready.status!.nqn}, expected ${NQN}`);
    phase('subsystem Ready');

    const subDir = join(hostPathRoot, NS, NAME);
    const statePath = join(subDir, 'state.bin');
    const recoveryUrl = `http://${cl.nodeIP}:${METRICS_PORT}/recovery`;
    const subPath = `/apis/nvmeof.io/v1alpha1/namespaces/${NS}/nvmeofsubsystems/${NAME}`;
    const podsPath = `/api/v1/namespaces/${NS}/pods?labelSelector=${encodeURIComponent(`nvmeof.io/role=target,nvmeof.io/subsystem-uid=${ready.metadata.uid}`)}`;
    const targetPods = async () => ((await cl.apiGet(podsPath)) as { items: PodJson[] }).items;

    for (const p of await targetPods()) podLogs.track(p.metadata.name, p.metadata.uid);
    watch = new LockWatch({ cgroupName: `nvmeof-${cl.name}`, statePath });
    watch.start();
    const rec0 = await fetchJson<RecoveryDoc>(recoveryUrl);
    const status0 = await waitFor('status.recovery', async () => ((await cl.apiGet(subPath)) as NvmeofSubsystem).status?.recovery, 30_000);
    log(`target /recovery at the start: ${JSON.stringify(rec0)}`);

    // --- the Linux host --------------------------------------------------------------------------
    server = createServer((sock) => {
      sock.on('error', () => {});
      sock.end(stopGuest ? 'stop\n' : 'go\n');
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const controlPort = (server.address() as { port: number }).port;
    const gaps: { recvAt: number; ms: number }[] = [];
    let deviceLine = '';
    let guestFail = '';
    let lastGen = '';
    let lastGenAt = 0;
    const guestP = runGuest({
      script: chaosGuestScript({ address, port: Number(port), nqn: NQN, controlPort, ctrlLossTmo: CTRL_LOSS_TMO }),
      timeoutMs: 180_000 + kinds.length * 60_000,
      fio: true,
      signal: abort.signal,
      onLine: (l) => {
        if (o.verbose) log(`guest: ${l}`);
        if (l.startsWith('DEVICE=')) deviceLine = l;
        else if (l.startsWith('GAP ')) {
          const [, from, to] = l.split(' ');
          gaps.push({ recvAt: Date.now(), ms: (Number(to) - Number(from)) * 10 });
        } else if (l.startsWith('GEN ')) {
          lastGen = l;
          lastGenAt = Date.now();
        }
        else if (l.startsWith('FAIL:') || l.startsWith('FIO-FAIL')) {
          guestFail ||= l;
          log(`guest: ${l}`);
        }
      },
    });
    let guestDone = false;
    void guestP.finally(() => { guestDone = true; });
    await waitFor('the Linux host to connect and find the namespace', async () => {
      if (guestDone) throw new Error(`the guest ended: ${(await guestP).output.slice(-2000)}`);
      return deviceLine || undefined;
    }, 120_000, 100);
    log(`host: ${deviceLine}`);
    await waitFor('the host writer to complete a generation', async () => lastGen || guestFail || (guestDone ? 'done' : undefined), 60_000, 100);
    phase('Linux host connected and writing');

    // --- the kills --------------------------------------------------------------------------------
    const rows: KillRow[] = [];
    let current = ready.status!.podName!;
    let currentRestarts = 0;
    let boot = rec0.bootCount;
    const operatorPodsBefore = ((await cl.apiGet(`/api/v1/namespaces/${OPERATOR_NS}/pods?labelSelector=${encodeURIComponent(OPERATOR_SELECTOR)}`)) as { items: PodJson[] }).items.map((p) => p.metadata.name);
    const bootJumps: string[] = [];
    for (let i = 0; i < kinds.length; i++) {
      if (guestFail || guestDone) break;
      const kind = kinds[i];
      const event = events.get(i);
      const row: KillRow = {
        n: i + 1, kind, event, oldPod: current, newPod: '', oldRestart: currentRestarts, newRestart: 0, node: '', at: 0, runningMs: NaN, servingMs: NaN,
        recoverySeconds: NaN, outcome: '', bootCount: 0, lockWaitMs: 0, notes: [],
      };
      // The target process of a SIGKILL: the container's main process, found before the clock starts.
      let victim = 0;
      if (kind === 'sigkill') {
        const cs = (await targetPods()).find((x) => x.metadata.name === current)?.status.containerStatuses?.[0];
        if (!cs?.containerID || cs.restartCount !== currentRestarts) throw new Error(`kill ${i + 1}: pod ${current} has no running container of restart ${currentRestarts}: ${JSON.stringify(cs)}`);
        victim = await containerPid(cl, cs.containerID);
      }
      row.at = Date.now();
      if (event === 'operator') await cl.kubectl(['-n', OPERATOR_NS, 'delete', 'pod', '-l', OPERATOR_SELECTOR, '--wait=false']);
      if (kind === 'sigkill') process.kill(victim, 'SIGKILL');
      else if (kind === 'graceful') await cl.kubectl(['-n', NS, 'delete', 'pod', current, '--wait=false']);
      else await cl.kubectl(['-n', NS, 'delete', 'pod', current, '--grace-period=0', '--force']);
      if (event === 'apiserver') row.apiserverDownMs = (await cl.restartApiserver({ graceMs: 5000 })).downMs;
      const newPod = kind === 'sigkill'
        ? await waitFor(`kill ${i + 1}: ${current}'s container restarted in place and running`, async () => {
          const p = (await targetPods()).find((x) => x.metadata.name === current);
          const cs = p?.status.containerStatuses?.[0];
          return p && p.status.phase === 'Running' && cs && cs.restartCount > currentRestarts && cs.state?.running ? p : undefined;
        }, 180_000, 100)
        : await waitFor(`kill ${i + 1}: a new target pod Running instead of ${current}`, async () => {
          const p = (await targetPods()).find((x) => x.metadata.name !== current && !x.metadata.deletionTimestamp && x.status.phase === 'Running');
          return p;
        }, 180_000, 100);
      row.runningMs = Date.now() - row.at;
      row.newPod = newPod.metadata.name;
      row.newRestart = newPod.status.containerStatuses?.[0]?.restartCount ?? 0;
      podLogs.track(newPod.metadata.name, newPod.metadata.uid);
      row.node = newPod.spec.nodeName ?? '';
      const rec = await waitFor(`kill ${i + 1}: the new target ${newPod.metadata.name} to answer /recovery with boot count above ${boot}`, async () => {
        const r = await fetchJson<RecoveryDoc>(recoveryUrl, 1000);
        return r.bootCount > boot ? r : undefined;
      }, 120_000, 100);
      const servingAt = Date.now();
      row.servingMs = servingAt - row.at;
      if (rec.bootCount !== boot + 1) bootJumps.push(`kill ${i + 1}: boot count ${boot} -> ${rec.bootCount}`);
      boot = rec.bootCount;
      row.bootCount = rec.bootCount;
      row.recoverySeconds = rec.last?.durationSeconds ?? NaN;
      row.outcome = rec.last?.outcome ?? '?';
      row.lockWaitMs = lockWaitFromLog(podLogs.text(newPod.metadata.name, row.newRestart));
      current = newPod.metadata.name;
      currentRestarts = row.newRestart;
      rows.push(row);
      log(`kill ${row.n}/${kinds.length} (${kind}${event ? ` + ${event}` : ''}): ${row.oldPod}#${row.oldRestart} -> ${row.newPod}#${row.newRestart}, Running ${s1(row.runningMs)} s, serving ${s1(row.servingMs)} s, ` +
        `recovery ${row.recoverySeconds} s (${row.outcome}), lock wait ${s1(row.lockWaitMs)} s`);
      // Let the host resume (its writer completes a generation of 32 blocks after the new target
      // answered), then pause at random.
      await waitFor(`kill ${i + 1}: the host to resume I/O`, async () => guestFail || guestDone || lastGenAt > servingAt, 60_000, 100)
        .catch((e: Error) => row.notes.push(e.message));
      await sleep(minPause + random() * (maxPause - minPause));
    }
    phase(`${rows.length} kills`);

    // --- the end of the host's run ----------------------------------------------------------------
    stopGuest = true;
    const guest = await guestP;
    watch.stop();
    server.close();
    podLogs.stop();
    for (const r of rows) r.oldEnd = endFromLog(podLogs.text(r.oldPod, r.oldRestart));
    phase('Linux host done');

    // Host-visible stall of each kill: the writer's longest gap in completed I/O that overlaps the
    // replacement, from the deletion to the new target serving (a GAP line arrives when its gap ends,
    // so the gap spans [arrival - length, arrival]).
    for (const r of rows) {
      const spans = gaps.filter((g) => g.recvAt > r.at && g.recvAt - g.ms < r.at + r.servingMs);
      r.stallMs = spans.length ? Math.max(...spans.map((g) => g.ms)) : undefined;
    }

    // --- checks -------------------------------------------------------------------------------------
    const checks: Check[] = [];
    const check = (name: string, ok: boolean, detail = '') => checks.push({ name, ok, detail });
    const out = guest.output;
    const failLine = out.split('\n').find((l) => l.startsWith('FAIL:') || l.startsWith('FIO-FAIL')) ?? '';
    check(`all ${kinds.length} kills were done (${o.kills} deletions, ${sigkills} SIGKILLs in the pod)`, rows.length === kinds.length, `${rows.length} done${guestFail ? `; the guest failed: ${guestFail}` : ''}`);
    check('the host saw no I/O error and no verify mismatch (O_DIRECT blocks, fio crc32c)',
      guest.exitCode === 0 && !guest.timedOut && out.includes('CHAOS-GUEST-OK') && !failLine,
      guest.exitCode === 0 && !failLine ? `${/WRITER-DONE.*/.exec(out)?.[0] ?? ''}; ${(out.match(/^FIO-ROUND .*$/gm) ?? []).length} fio rounds` :
        `exit ${guest.exitCode}${guest.timedOut ? ' (timed out)' : ''}: ${failLine || out.slice(-3000)}`);
    const fioErrs = (out.match(/^FIO-ROUND .*$/gm) ?? []).filter((l) => !/rc=0 err=0\b/.test(l));
    check('every fio round ended without error', fioErrs.length === 0 && /FIO-ROUND/.test(out), fioErrs.join('; ') || `${(out.match(/^FIO-ROUND .*$/gm) ?? []).length} rounds`);
    const badKernel = guest.dmesg.split('\n').filter((l) => /identifiers changed|I\/O error|blk_update_request|critical medium error|Buffer I\/O|print_req_error/i.test(l));
    check('the host kernel log has no "identifiers changed" and no I/O error', badKernel.length === 0, badKernel.slice(0, 5).join(' | ') ||
      `${guest.dmesg.split('\n').filter((l) => /nvme/.test(l)).length} nvme lines, ${(guest.dmesg.match(/Successfully reconnected|reconnect/gi) ?? []).length} mentioning reconnects`);
    const dev0 = /^DEVICE=(.*)$/m.exec(out)?.[1];
    const dev1 = /^DEVICE-END=(.*)$/m.exec(out)?.[1];
    check('the namespace stayed the same device, with the same identifiers', !!dev0 && dev0 === dev1, `start: ${dev0}; end: ${dev1}`);

    const rec1 = await fetchJson<RecoveryDoc>(recoveryUrl);
    check(`the target's cumulative /recovery count rose by exactly the number of target deaths (${rows.length})`,
      rec1.count - rec0.count === rows.length, `${rec0.count} -> ${rec1.count}; outcomes ${JSON.stringify(rec0.outcomes)} -> ${JSON.stringify(rec1.outcomes)}`);
    let status1 = status0;
    try {
      status1 = await waitFor('status.recovery.count to catch up', async () => {
        const r = ((await cl.apiGet(subPath)) as NvmeofSubsystem).status?.recovery;
        return r && r.count - status0.count >= rows.length ? r : undefined;
      }, 60_000, 500);
    } catch {
      status1 = ((await cl.apiGet(subPath)) as NvmeofSubsystem).status?.recovery ?? status0;
    }
    check(`status.recovery.count rose by exactly the number of target deaths (${rows.length})`,
      status1.count - status0.count === rows.length, `${status0.count} -> ${status1.count}`);
    check('every new target used the same state file: its boot count rose by one per death',
      rec1.bootCount - rec0.bootCount === rows.length && bootJumps.length === 0 && rec1.outcomes.corrupt === rec0.outcomes.corrupt,
      `boot count ${rec0.bootCount} -> ${rec1.bootCount}${bootJumps.length ? `; ${bootJumps.join('; ')}` : ''}; corrupt ${rec0.outcomes.corrupt} -> ${rec1.outcomes.corrupt}`);
    const ino = watch.inodes();
    const holders = watch.holders();
    const expectedPods = [ready.status!.podName!, ...rows.filter((r) => r.kind !== 'sigkill').map((r) => r.newPod)];
    const holderSeq = holders.map((h: ContainerRecord) => h.podUid);
    check('no two target processes held the state file at once (flock holder and mappings sampled from /proc)',
      watch.violations.length === 0 && ino.state[0] === ino.state[1] && ino.lock[0] === ino.lock[1] && holders.length === rows.length + 1,
      `${watch.violations.length} violations${watch.violations.length ? `: ${watch.violations.slice(0, 5).map((v) => v.what).join(' | ')}` : ''}; ` +
        `${holders.length} successive lock holders for ${rows.length + 1} targets (${new Set(holderSeq).size} pods); ${watch.samples} samples, longest gap ${watch.maxGapMs} ms; ` +
        `state file inode ${ino.state[0]} -> ${ino.state[1]}, lock file inode ${ino.lock[0]} -> ${ino.lock[1]}`);
    // Each hand-over: the next holder got the lock after the previous one was last seen holding it.
    const overlaps = holders.slice(1).filter((h, k) => h.lockFrom! <= holders[k].lockTo!).map((h, k) => `${holders[k].id.slice(0, 12)} until ${holders[k].lockTo}, ${h.id.slice(0, 12)} from ${h.lockFrom}`);
    check('each new target got the lock only after the previous one had let it go', overlaps.length === 0 && holders.length === rows.length + 1,
      overlaps.join('; ') || `${holders.length - 1} hand-overs; ${rows.filter((r) => r.lockWaitMs > 0).length} new targets waited for the lock (logged)`);
    const pods = await targetPods();
    const live = pods.filter((p) => !p.metadata.deletionTimestamp);
    check('one target pod at the end, on the node, restarted in place only by the SIGKILLs', live.length === 1 && live[0].metadata.name === current &&
      live[0].spec.nodeName === cl.nodeName && (live[0].status.containerStatuses?.[0]?.restartCount ?? 0) === currentRestarts && rows.every((r) => r.node === cl.nodeName),
      `${live.map((p) => `${p.metadata.name} on ${p.spec.nodeName}, restarts ${p.status.containerStatuses?.[0]?.restartCount}`).join(', ')}; expected ${expectedPods[expectedPods.length - 1]} with ${currentRestarts}` +
        `${rows.some((r) => r.node !== cl.nodeName) ? `; new pods on other nodes: ${rows.filter((r) => r.node !== cl.nodeName).map((r) => `${r.newPod} on ${r.node}`).join(', ')}` : ''}`);
    // The data is in the backing file on the node: each block holds its final generation.
    const finalGen = Number(/^FINAL-GEN (\d+)$/m.exec(out)?.[1] ?? NaN);
    const badBlocks: number[] = [];
    if (Number.isFinite(finalGen)) {
      const fd = openSync(join(subDir, 'ns1.img'), 'r');
      try {
        for (let b = 0; b < BLOCKS; b++) {
          const buf = Buffer.alloc(4096);
          readSync(fd, buf, 0, 4096, b * 4096);
          const want = Buffer.alloc(4096);
          want.write(`blk ${String(b).padStart(8, '0')} gen ${String(finalGen).padStart(8, '0')}\n`);
          if (!buf.equals(want)) badBlocks.push(b);
        }
      } finally {
        closeSync(fd);
      }
    }
    check('the backing file on the node holds every block\'s final generation', Number.isFinite(finalGen) && badBlocks.length === 0,
      Number.isFinite(finalGen) ? `generation ${finalGen}${badBlocks.length ? `; blocks differing: ${badBlocks.join(', ')}` : ''}` : 'the host printed no final generation');
    const opPods = ((await cl.apiGet(`/api/v1/namespaces/${OPERATOR_NS}/pods?labelSelector=${encodeURIComponent(OPERATOR_SELECTOR)}`)) as { items: PodJson[] }).items;
    const opReplaced = opPods.every((p) => !operatorPodsBefore.includes(p.metadata.name));
    check('the operator was restarted (its pods replaced) and the apiserver was restarted, and both kinds of deletion and the SIGKILLs asked for were done',
      opReplaced && rows.some((r) => r.event === 'operator') && rows.some((r) => r.event === 'apiserver') &&
        rows.some((r) => r.kind === 'graceful') && rows.some((r) => r.kind === 'force') && rows.filter((r) => r.kind === 'sigkill').length === sigkills,
      `operator pods ${operatorPodsBefore.join(', ')} -> ${opPods.map((p) => `${p.metadata.name} (restarts ${p.status.containerStatuses?.[0]?.restartCount ?? '?'})`).join(', ')}; ` +
        `${rows.filter((r) => r.kind === 'graceful').length} graceful, ${rows.filter((r) => r.kind === 'force').length} forced, ${rows.filter((r) => r.kind === 'sigkill').length} SIGKILLs`);
    // A SIGKILLed target never shut down: the next one, in the same pod, restores its state ("restored").
    const sig = rows.filter((r) => r.kind === 'sigkill');
    const badSig = sig.filter((r) => r.newPod !== r.oldPod || r.newRestart !== r.oldRestart + 1 || r.oldEnd !== 'killed' || r.outcome !== 'restored');
    check('each SIGKILLed target was replaced in the same pod by a target that restored its state (outcome "restored")', badSig.length === 0,
      badSig.map((r) => `kill ${r.n}: ${r.oldPod}#${r.oldRestart} (${r.oldEnd}) -> ${r.newPod}#${r.newRestart}, outcome ${r.outcome}`).join('; ') ||
        `${sig.length} SIGKILLs, each restored in place (recovery ${sig.map((r) => r.recoverySeconds.toFixed(3)).join(', ')} s)`);
    // A target that dies mid-PDU is not a protocol error: the host's next connection starts afresh.
    let protocolErrorProblem = '';
    try {
      protocolErrors.check();
    } catch (e) {
      protocolErrorProblem = (e as Error).message;
    }
    check('the targets logged no protocol error (C2HTermReq, internal error, host\'s H2CTermReq)', !protocolErrorProblem,
      protocolErrorProblem || `${protocolErrors.filesRead} target container logs read as they grew`);
    phase('checks');

    const summary = [
      `seed ${seed}; ${rows.length} kills in ${((Date.now() - t0) / 1000).toFixed(0)} s`,
      `host: ${/WRITER-DONE.*/.exec(out)?.[0] ?? '-'}; ${(out.match(/^FIO-ROUND .*$/gm) ?? []).length} fio rounds; device ${dev0}`,
      `target /recovery: ${JSON.stringify(rec1)}`,
      `lock watch: ${watch.samples} samples (longest gap ${watch.maxGapMs} ms), ${holders.length} holders`,
      `old targets: ${['stopped', 'shutting down', 'killed'].map((e) => `${rows.filter((r) => r.oldEnd === e).length} ${e}`).join(', ')} ` +
        '("shutting down": SIGTERM received, but killed before its shutdown ended, so no clean flag)',
      ...rows.filter((r) => r.notes.length).map((r) => `kill ${r.n}: ${r.notes.join('; ')}`),
    ];
    return { seed, rows, checks, table: formatTable(rows), timings, guest, summary };
  } finally {
    stopGuest = true;
    abort.abort();
    watch?.stop();
    server?.close();
    podLogs?.stop();
    if (c) {
      log(`cluster logs stay in ${c.logDir} (the target pods' in ${join(c.logDir, 'targets')})`);
      await c.stop();
    }
    if (hostPathRoot) rmSync(hostPathRoot, { recursive: true, force: true });
    process.removeListener('exit', onExit);
  }
}
