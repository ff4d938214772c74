// One benchmark workload: `qd` lanes, each keeping one Read or Write in flight on the host library's
// callback API (no promise, no allocation per I/O), random or sequential, for a fixed time after a warm-up.
// Latency is submit-to-completion as the host sees it; CPU is the server process's, from /proc.
import { performance } from 'node:perf_hooks';
import { IoOpc } from '../../target/protocol/opcodes.js';
import type { HostQueue } from '../host/queue.js';
import { cpuSeconds } from '../host/target-process.js';

export interface Workload {
  name: string;
  op: 'read' | 'write';
  pattern: 'rand' | 'seq';
  bs: number;
  qd: number;
}

export interface WorkloadResult {
  ios: number;
  seconds: number;
  iops: number;
  mibps: number;
  p50us: number;
  p99us: number;
  /** Server CPU seconds (user + system) per million I/Os. */
  cpuPerMio: number;
  errors: number;
  /** The client's CPU time over the measured seconds, as a share of one CPU (cload rows: it runs one thread). */
  clientCpuShare?: number;
  /** cload spun on its sockets (c-client.ts cloadPolls): its CPU share is then 100 % whatever the target does. */
  clientPolled?: boolean;
}

const LATENCY_SAMPLES = 1 << 21;
const latencies = new Float64Array(LATENCY_SAMPLES);

export interface RunOptions {
  queues: HostQueue[];
  nsid: number;
  /** Namespace size in logical blocks and the block size. */
  blocks: number;
  lbaSize: number;
  seconds: number;
  warmupSeconds: number;
  /** The server process whose CPU is measured. */
  serverPid: number;
  /** One buffer for every lane (RSS runs with thousands of lanes): the data is not looked at. */
  sharedBuffer?: boolean;
  /** Called every 50 ms while measuring (RSS sampling). */
  sample?: () => void;
}

export function runWorkload(w: Workload, o: RunOptions): Promise<WorkloadResult> {
  const nlb = w.bs / o.lbaSize;
  const slots = Math.floor(o.blocks / nlb);
  const opc = w.op === 'read' ? IoOpc.Read : IoOpc.Write;
  let measuring = false;
  let stopping = false;
  let ios = 0;
  let nLat = 0;
  let errors = 0;
  let seq = 0;
  let seed = 0x9e3779b9;
  const shared = o.sharedBuffer ? Buffer.alloc(w.bs, 0x5a) : undefined;
  return new Promise((resolve) => {
    let active = 0;
    let t0 = 0;
    let t1 = 0;
    let cpu0 = 0;
    let cpu1 = 0;
    const finish = () => {
      const seconds = (t1 - t0) / 1000;
      const cpu = cpu1 - cpu0;
      const lat = latencies.subarray(0, nLat).sort();
      const pct = (p: number) => (nLat ? lat[Math.min(nLat - 1, Math.floor(p * nLat))] * 1000 : 0);
      resolve({
        ios, seconds, iops: ios / seconds, mibps: (ios * w.bs) / seconds / 1048576,
        p50us: pct(0.5), p99us: pct(0.99), cpuPerMio: ios ? (cpu / ios) * 1e6 : 0, errors,
      });
    };
    for (let lane = 0; lane < w.qd; lane++) {
      const q = o.queues[lane % o.queues.length];
      const buf = shared ?? Buffer.alloc(w.bs, lane);
      let start = 0;
      const submit = () => {
        let slba: number;
        if (w.pattern === 'rand') {
          seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
          slba = ((seed >>> 0) % slots) * nlb;
        } else {
          slba = seq * nlb;
          seq = seq + 1 === slots ? 0 : seq + 1;
        }
        start = performance.now();
        q.rwCb(opc, o.nsid, slba, nlb, buf, 0, done);
      };
      const done = (status: number) => {
        if (status !== 0) errors++;
        if (measuring) {
          ios++;
          if (nLat < LATENCY_SAMPLES) latencies[nLat++] = performance.now() - start;
        }
        if (stopping || status < 0) {
          if (--active === 0) finish();
          return;
        }
        submit();
      };
      active++;
      submit();
    }
    let sampler: NodeJS.Timeout | undefined;
    setTimeout(() => {
      measuring = true;
      t0 = performance.now();
      cpu0 = cpuSeconds(o.serverPid);
      if (o.sample) sampler = setInterval(o.sample, 50);
      setTimeout(() => {
        measuring = false;
        stopping = true;
        t1 = performance.now();
        cpu1 = cpuSeconds(o.serverPid);
        if (sampler) clearInterval(sampler);
      }, o.seconds * 1000);
    }, o.warmupSeconds * 1000);
  });
}

/**
 * Writes every block of the namespace once, in order, `bs` bytes at a time with `qd` in flight, and resolves
 * with the count of failed writes. The bench runs it on memory namespaces before their first write row, so
 * that every write row finds all of the namespace's pages in place (a first write to a page faults it in; a
 * later one misses the cache), whatever earlier rows wrote.
 */
export function precondition(queues: HostQueue[], nsid: number, blocks: number, lbaSize: number, bs = 131072, qd = 32): Promise<number> {
  const nlb = bs / lbaSize;
  const buf = Buffer.alloc(bs, 0xa5);
  let next = 0;
  let active = 0;
  let errors = 0;
  return new Promise((resolve) => {
    const submit = (q: HostQueue): void => {
      if (next >= blocks) {
        if (--active === 0) resolve(errors);
        return;
      }
      const slba = next;
      const n = Math.min(nlb, blocks - slba);
      next += n;
      q.rwCb(IoOpc.Write, nsid, slba, n, n === nlb ? buf : buf.subarray(0, n * lbaSize), 0, (status) => {
        if (status !== 0) errors++;
        if (status < 0) next = blocks; // the connection failed: stop
        submit(q);
      });
    };
    for (let lane = 0; lane < qd; lane++) {
      active++;
      submit(queues[lane % queues.length]);
    }
  });
}
