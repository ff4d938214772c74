// The bench's rows driven by cload, the C client (test/bench/cload/), beside the TypeScript host's: the
// TypeScript client saturates well below what the target can serve (issue 19), so these rows measure the
// target, and cload's own rows against the raw floor show what the client itself can do. A target row
// within CLIENT_LIMIT of the floor row of its round is marked: there the client (and loopback) is the
// limit, and the figure is a lower bound for the target.
import { cpuSeconds } from '../host/target-process.js';
import { runCload, runCloadOk } from './cload/run.js';
import { pairedRatio, type Row } from './rows.js';
import type { Workload, WorkloadResult } from './workload.js';

/** C rows are named `C: <config>`. */
export const C_PREFIX = 'C: ';
/** The configs (by their name in bench.ts) cload drives: the floor, and issue 19's columns. */
export const C_CONFIGS: readonly string[] = ['floor (raw TCP)', 'memory', 'memory +state', 'file +state', 'file +state +supervisor'];
export const C_FLOOR = `${C_PREFIX}floor (raw TCP)`;
/** In-capsule data the floor takes (it answers every capsule; it never sends R2T). */
const FLOOR_IN_CAPSULE = 8192;
/**
 * A target row at or above this share of the client's own rate against the floor (paired), or one where cload
 * (one thread) was on a CPU this share of the time, measures the client rather than the target. The floor is a
 * Node server, so the first often says the floor, not cload, is the limit; the second is cload's own.
 */
export const CLIENT_LIMIT = 0.9;
/**
 * When cload spins on its sockets instead of sleeping in epoll_wait (`--poll`, as spdk_nvme_perf always polls):
 * BENCH_CLOAD_POLL `qd1` (the default) at QD 1 only, `1` at every depth, `0` never. At QD 1 a round trip is
 * mostly the wake-up of an idle vCPU (this VM's halted vCPU wakes slowly), so the QD 1 goal is measured as
 * issue 19's SPDK baseline was, with a polling client: epoll QD 1 rows measured the VM's wake-up latency
 * (the Node floor did 17K IOPS epoll, 33K polled, on a quiet machine). At QD 32 and deeper a spinning client
 * takes CPU the target's kernel work needs on 2 CPUs, so cload sleeps there.
 */
const POLL_MODE = process.env.BENCH_CLOAD_POLL ?? 'qd1';
if (!['qd1', '1', '0'].includes(POLL_MODE)) throw new Error(`BENCH_CLOAD_POLL=${POLL_MODE}: expected qd1, 1 or 0`);
export const cloadPolls = (qd: number): boolean => POLL_MODE === '1' || (POLL_MODE === 'qd1' && qd === 1);
/** How the bench's header says it. */
export const cloadPollSaying = POLL_MODE === '1' ? 'polling' : POLL_MODE === 'qd1' ? 'polling at QD 1, epoll deeper' : 'epoll';

export interface CServer {
  host: string;
  port: number;
  nqn: string;
  pid: number;
  floor: boolean;
}

function endpoint(s: CServer, blocks: number, lbaSize: number): string[] {
  const where = ['--host', s.host, '--port', String(s.port)];
  return s.floor ? [...where, '--raw', '--blocks', String(blocks), '--lba', String(lbaSize), '--in-capsule', String(FLOOR_IN_CAPSULE)] : [...where, '--nqn', s.nqn];
}

/** One trial: a fresh cload process (its own controller and one I/O queue), the server's CPU read at cload's marks. */
export async function cloadTrial(bin: string, s: CServer, w: Workload, o: { seconds: number; warmupSeconds: number; blocks: number; lbaSize: number }): Promise<WorkloadResult> {
  let cpu0 = 0;
  let cpu1 = 0;
  const args = [...endpoint(s, o.blocks, o.lbaSize), '--op', w.op, '--pattern', w.pattern, '--bs', String(w.bs), '--qd', String(w.qd),
    '--seconds', String(o.seconds), '--warmup', String(o.warmupSeconds), '--marks', ...(cloadPolls(w.qd) ? ['--poll'] : [])];
  const r = await runCload(bin, args, {
    onMark: (m) => {
      if (m === 'start') cpu0 = cpuSeconds(s.pid);
      else cpu1 = cpuSeconds(s.pid);
    },
  });
  if (!r.result || r.code === 1 || r.code === 2) throw new Error(`cload ${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
  const x = r.result;
  return {
    ios: x.ios, seconds: x.seconds, iops: x.iops, mibps: x.mibps, p50us: x.lat_p50_us, p99us: x.lat_p99_us,
    cpuPerMio: x.ios && cpu1 > cpu0 ? ((cpu1 - cpu0) / x.ios) * 1e6 : 0, errors: x.errors + x.stuck,
    clientCpuShare: x.seconds ? x.client_cpu_s / x.seconds : 0,
    clientPolled: cloadPolls(w.qd),
  };
}

/** Writes the whole namespace once, in order, 128 KiB at a time (not measured): the C rows run on written blocks. */
export async function cloadFill(bin: string, s: CServer, blocks: number, lbaSize: number): Promise<void> {
  await runCloadOk(bin, [...endpoint(s, blocks, lbaSize), '--fill', '--op', 'write', '--pattern', 'seq', '--bs', '131072', '--qd', '32', '--seconds', '0'], `fill of ${s.host}:${s.port}`);
}

/**
 * Why a C row may measure the client: at CLIENT_LIMIT of the floor row, or cload's CPU at CLIENT_LIMIT of one
 * CPU (not for a polling cload: it is on its CPU all the time whatever the target does); '' if neither.
 */
export function clientBound(r: Row, floor: Row | undefined): string {
  const why: string[] = [];
  if (floor && r.config !== floor.config && pairedRatio(r, floor) >= CLIENT_LIMIT) why.push('at the floor');
  if (!r.clientPolled && (r.clientCpuShare ?? 0) >= CLIENT_LIMIT) why.push('client CPU saturated');
  return why.join(', ');
}

/** Issue 19's goals with the C client, as lines "- what: figures (goal): met | NOT MET". */
export function cClientGoals(get: (config: string, workload: string) => Row | undefined): string[] {
  const lines: string[] = [];
  const row = (config: string, w: string) => get(`${C_PREFIX}${config}`, w);
  const verdict = (ok: boolean) => (ok ? 'met' : 'NOT MET');
  const bound = (...rs: Row[]) => {
    const why = [...new Set(rs.map((r) => clientBound(r, get(C_FLOOR, r.workload))).filter(Boolean))];
    return why.length ? ` (client-bound row, ${why.join('; ')}: the target may do more)` : '';
  };
  for (const [w, goal] of [['4K randread QD32', 215_000], ['4K randread QD1', 26_000]] as const) {
    const r = row('memory', w);
    if (r) lines.push(`- memory, ${w}: ${r.iops.toFixed(0)} IOPS (median of ${r.trialIops.length} interleaved rounds; goal >= ${goal}): ${verdict(r.iops >= goal)}${bound(r)}`);
  }
  const paired = (what: string, a: Row | undefined, b: Row | undefined, goal: string, ok: (ratio: number) => boolean, show: (ratio: number) => string) => {
    if (!a || !b) return;
    const x = pairedRatio(a, b);
    lines.push(`- ${what}: ${show(x)} (median of ${Math.min(a.trialIops.length, b.trialIops.length)} per-round ratios; medians ${a.iops.toFixed(0)} / ${b.iops.toFixed(0)} IOPS; goal ${goal}): ${verdict(ok(x))}${bound(a, b)}`);
  };
  const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
  for (const w of ['4K randread QD32', '4K randwrite QD32']) {
    paired(`file +state vs memory +state, ${w}`, row('file +state', w), row('memory +state', w), '>= 70%', (x) => x >= 0.7, pct);
  }
  const qd = ['4K randread QD1', '4K randread QD32', '4K randwrite QD1', '4K randwrite QD32'];
  for (const w of qd) {
    paired(`persistence cost, memory, ${w}`, row('memory +state', w), row('memory', w), '<= 3%', (x) => 1 - x <= 0.03, (x) => `${((1 - x) * 100).toFixed(1)}%${x > 1 ? ' (negative: noise)' : ''}`);
  }
  for (const w of qd) {
    paired(`in-pod resume, file +state +supervisor vs file +state, ${w}`, row('file +state +supervisor', w), row('file +state', w), '>= 80%', (x) => x >= 0.8, pct);
  }
  return lines;
}
