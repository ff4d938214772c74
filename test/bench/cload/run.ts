// Runs cload (built by build.ts) and reads its one JSON line.
import { spawn } from 'node:child_process';

/** cload's JSON line (cload.c main). Rates are over the measured seconds; latency is submit to completion. */
export interface CloadResult {
  iops: number;
  mibps: number;
  mbps: number;
  lat_mean_us: number;
  lat_p50_us: number;
  lat_p99_us: number;
  lat_max_us: number;
  ios: number;
  seconds: number;
  errors: number;
  stuck: number;
  verify: boolean;
  verified: number;
  verify_errors: number;
  unverified: number;
  /** CPU seconds cload itself used over the measured seconds. */
  client_cpu_s: number;
  op: string;
  pattern: string;
  bs: number;
  qd: number;
  queues: number;
  in_capsule: number;
  lba: number;
  slots: number;
  gen: number;
  poll: boolean;
}

export interface CloadRun {
  /** The exit status: 0, 1 setup failed, 2 usage, 3 the run had I/O or verify errors. */
  code: number | null;
  /** The JSON line, when cload got as far as printing it. */
  result: CloadResult | undefined;
  stderr: string;
}

/**
 * Runs `bin args...` to its end. `onMark` gets each `mark start` / `mark end` line (--marks) as it comes, so
 * the caller can read the server's CPU time at the edges of the measured seconds.
 */
export function runCload(bin: string, args: string[], o: { timeoutMs?: number; onMark?: (mark: 'start' | 'end') => void } = {}): Promise<CloadRun> {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let seen = 0;
    p.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      for (let nl = out.indexOf('\n', seen); nl >= 0; nl = out.indexOf('\n', seen)) {
        const line = out.slice(seen, nl);
        seen = nl + 1;
        if (line === 'mark start' || line === 'mark end') o.onMark?.(line === 'mark start' ? 'start' : 'end');
      }
    });
    p.stderr.setEncoding('utf8').on('data', (s: string) => { err += s; });
    const timer = setTimeout(() => p.kill('SIGKILL'), o.timeoutMs ?? 120_000);
    p.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.once('close', (code) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
      let result: CloadResult | undefined;
      try {
        result = line ? (JSON.parse(line) as CloadResult) : undefined;
      } catch {
        result = undefined;
      }
      resolve({ code, result, stderr: err });
    });
  });
}

/** The result of a run that must have worked: throws with cload's stderr otherwise. */
export async function runCloadOk(bin: string, args: string[], what: string, onMark?: (mark: 'start' | 'end') => void): Promise<CloadResult> {
  const r = await runCload(bin, args, { onMark });
  if (r.code !== 0 || !r.result) throw new Error(`cload ${what}: exit ${r.code}${r.result ? ` (errors ${r.result.errors}, verify errors ${r.result.verify_errors}, stuck ${r.result.stuck})` : ''}\n${r.stderr}`);
  return r.result;
}
