// A bench row (one config, one workload: the median trial and every trial by round) and the paired ratio
// the bench compares rows with.
import type { WorkloadResult } from './workload.js';

export interface Row extends WorkloadResult {
  config: string;
  workload: string;
  /** IOPS of each trial, by round: trial i of every config of a workload ran in the same round. */
  trialIops: number[];
  /** The server's CPU microseconds per I/O of each trial, by round. */
  trialCpu: number[];
}

export function median(xs: number[]): number {
  const r = [...xs].sort((x, y) => x - y);
  const n = r.length;
  return n % 2 ? r[(n - 1) / 2] : (r[n / 2 - 1] + r[n / 2]) / 2;
}

/**
 * a's figure (IOPS, or CPU per I/O) as a share of b's, from trials of the same rounds: the median of the per-round ratios. A round
 * visits every config within seconds, so a slow spell of the machine (the client shares its two CPUs) lowers
 * both sides of a ratio, where it would move one median and not the other.
 */
export function pairedRatio(a: Row, b: Row, of: 'trialIops' | 'trialCpu' = 'trialIops'): number {
  const n = Math.min(a[of].length, b[of].length);
  return median(Array.from({ length: n }, (_, i) => a[of][i] / b[of][i]));
}

/** The row of the median trial, with every trial's IOPS and CPU kept by round and the errors of them all. */
export function medianRow(config: string, workload: string, trials: WorkloadResult[]): Row {
  const sorted = [...trials].sort((a, b) => a.iops - b.iops);
  const mid = sorted[Math.floor(sorted.length / 2)];
  return { config, workload, ...mid, errors: sorted.reduce((n, x) => n + x.errors, 0), trialIops: trials.map((x) => x.iops), trialCpu: trials.map((x) => x.cpuPerMio) };
}
