// The sizing table from node-cost.ts's measurements: how many subsystems a core and a GiB hold, idle and
// under the stated load, in each mode; and how many target pods a node's allocatable admits at given
// requests. Pure.
import { median } from '../rows.js';

const MIB = 2 ** 20;

/** One pod, idle: its CPU over the idle window and its memory at the window's end. */
export interface IdlePod { millicores: number; workingSet: number; pss: number; pssByRole: Record<string, number> }

/** One pod under load: the CPU it used serving `iops`, and the memory peaks of the memory workload. */
export interface LoadedPod {
  iops: number;
  millicores: number;
  /** the pod cgroup's working set: highest sample, and the median of the second half of the samples */
  workingSetPeak: number;
  workingSetSettled: number;
  /** of which page cache (active file pages), at the peak sample */
  activeFileAtPeak: number;
  /**
   * the pod's anonymous and tmpfs pages (memory.stat rss + shmem), highest sample: what the kernel cannot
   * reclaim, where the page cache of a file namespace's hot blocks, counted in the working set, can be
   */
  unreclaimablePeak: number;
  /** the sum of the pod's processes' PSS: highest sample */
  pssPeak: number;
}

export interface ModeCost { mode: string; subsystems: number; ready: number; idle: IdlePod[]; loaded: LoadedPod }

export interface SizingRow {
  mode: string;
  idleMillicores: number;
  idleWorkingSetMiB: number;
  idlePssMiB: number;
  perCoreIdle: number;
  perGiBIdle: number;
  loadIops: number;
  loadMillicores: number;
  /** CPU the load added, per 1,000 IOPS: (CPU at load - idle CPU) / (IOPS / 1000) */
  millicoresPerKiops: number;
  /** per core with every subsystem serving LOADED_IOPS: idle CPU plus LOADED_IOPS' share of the above */
  perCoreLoaded: number;
  /** per GiB with every subsystem at the memory workload's peak of unreclaimable pages */
  perGiBLoaded: number;
  loadUnreclaimablePeakMiB: number;
  loadWorkingSetPeakMiB: number;
  loadWorkingSetSettledMiB: number;
}

/** The load each subsystem carries in the "loaded" CPU column: 1,000 4K IOPS. */
export const LOADED_IOPS = 1000;

/** Medians over the idle pods (one pod's noise, e.g. a probe that coincided with a GC, does not move them). */
export function sizingRow(c: ModeCost): SizingRow {
  if (c.idle.length === 0) throw new Error(`${c.mode}: no idle pod measured`);
  const idleMillicores = median(c.idle.map((p) => p.millicores));
  const idleWorkingSet = median(c.idle.map((p) => p.workingSet));
  const idlePss = median(c.idle.map((p) => p.pss));
  const perKiops = Math.max(0, c.loaded.millicores - idleMillicores) / (c.loaded.iops / 1000);
  return {
    mode: c.mode,
    idleMillicores,
    idleWorkingSetMiB: idleWorkingSet / MIB,
    idlePssMiB: idlePss / MIB,
    perCoreIdle: Math.floor(1000 / idleMillicores),
    // The larger of the two: the working set misses the Node binary's pages charged to another pod's
    // cgroup (the first to touch them), PSS misses the page cache and tmpfs pages no process maps.
    perGiBIdle: Math.floor((1024 * MIB) / Math.max(idleWorkingSet, idlePss)),
    loadIops: c.loaded.iops,
    loadMillicores: c.loaded.millicores,
    millicoresPerKiops: perKiops,
    perCoreLoaded: Math.floor(1000 / (idleMillicores + (perKiops * LOADED_IOPS) / 1000)),
    perGiBLoaded: Math.floor((1024 * MIB) / c.loaded.unreclaimablePeak),
    loadUnreclaimablePeakMiB: c.loaded.unreclaimablePeak / MIB,
    loadWorkingSetPeakMiB: c.loaded.workingSetPeak / MIB,
    loadWorkingSetSettledMiB: c.loaded.workingSetSettled / MIB,
  };
}

/** CPU quantity in millicores ("100m", "0.5", 2); undefined when it is not one. */
export function millicores(q: string | number | undefined): number | undefined {
  if (q === undefined) return undefined;
  if (typeof q === 'number') return q * 1000;
  const m = /^([0-9]+(?:\.[0-9]*)?)(m?)$/.exec(q.trim());
  if (!m) return undefined;
  return m[2] ? Number(m[1]) : Number(m[1]) * 1000;
}

/**
 * How many more pods of `request` the node admits: what the scheduler checks, allocatable minus the requests
 * of the pods already there, for CPU and memory, the smaller of the two (and which one binds).
 */
export function podsThatFit(
  free: { millicores: number; bytes: number },
  request: { millicores: number; bytes: number },
): { pods: number; bound: 'cpu' | 'memory' } {
  const byCpu = request.millicores > 0 ? Math.floor(free.millicores / request.millicores) : Infinity;
  const byMem = request.bytes > 0 ? Math.floor(free.bytes / request.bytes) : Infinity;
  return byCpu <= byMem ? { pods: byCpu, bound: 'cpu' } : { pods: byMem, bound: 'memory' };
}

const f0 = (x: number) => x.toFixed(0);
const f1 = (x: number) => x.toFixed(1);

/** The README's table, one line per mode (markdown). */
export function sizingTable(rows: SizingRow[]): string {
  const head = [
    '| mode | idle CPU | idle working set (PSS) | per core, idle | per GiB, idle | CPU per 1K IOPS (measured at) | per core, 1K IOPS each | under load: anon + tmpfs (working set) | per GiB, loaded |',
    '| --- | --: | --: | --: | --: | --: | --: | --: | --: |',
  ];
  return [
    ...head,
    ...rows.map((r) => `| ${r.mode} | ${f1(r.idleMillicores)}m | ${f1(r.idleWorkingSetMiB)} MiB (${f1(r.idlePssMiB)}) | ${r.perCoreIdle} | ${r.perGiBIdle} | ` +
      `${f0(r.millicoresPerKiops)}m (${f0(r.loadMillicores)}m at ${f1(r.loadIops / 1000)}K) | ${r.perCoreLoaded} | ${f0(r.loadUnreclaimablePeakMiB)} MiB (${f0(r.loadWorkingSetPeakMiB)}) | ${r.perGiBLoaded} |`),
  ].join('\n');
}
