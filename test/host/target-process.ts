// Starts the target (dist/target/main.js) in its own process for tests and benchmarks, on free ports,
// and waits until it serves: /readyz on the metrics address answers 200.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** dist/target/main.js, found from this compiled file (dist/test/host/target-process.js). */
export const TARGET_MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'target', 'main.js');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface TargetProcess {
  proc: ChildProcess;
  pid: number;
  host: string;
  port: number;
  metricsPort: number;
  nqn: string;
  /** The last lines the target wrote (stdout and stderr). */
  output(): string;
  /** Resolves with the exit code (or signal) once the process ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
  metrics(): Promise<string>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface TargetArgs {
  nqn?: string;
  /** Backing flags as the CLI takes them, e.g. ['--memory', '64M'] or ['--namespace', '/tmp/x.img:1G']. */
  namespaces: string[];
  /** Further flags (--state FILE, --block-size 4096, ...). */
  extra?: string[];
  logLevel?: string;
  /** Keep at most this many bytes of output (default 64 KiB). */
  keepOutput?: number;
}

export async function startTarget(a: TargetArgs): Promise<TargetProcess> {
  const host = '127.0.0.1';
  const port = await freePort();
  const metricsPort = await freePort();
  const nqn = a.nqn ?? 'nqn.2026-01.io.nvmeof:test';
  const args = [
    TARGET_MAIN, '--listen', `${host}:${port}`, '--nqn', nqn, ...a.namespaces,
    '--metrics', `${host}:${metricsPort}`, '--log-level', a.logLevel ?? 'warn', ...(a.extra ?? []),
  ];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const keep = a.keepOutput ?? 64 * 1024;
  let out = '';
  const take = (d: Buffer) => {
    out += d.toString('utf8');
    if (out.length > keep) out = out.slice(out.length - keep);
  };
  proc.stdout!.on('data', take);
  proc.stderr!.on('data', take);
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
  });
  const tp: TargetProcess = {
    proc, pid: proc.pid!, host, port, metricsPort, nqn,
    output: () => out,
    exited,
    alive: () => !done,
    metrics: async () => (await fetch(`http://${host}:${metricsPort}/metrics`)).text(),
    async stop(graceMs = 5000) {
      if (done) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(t);
    },
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (done) throw new Error(`target exited before serving:\n${out}`);
    try {
      const r = await fetch(`http://${host}:${metricsPort}/readyz`);
      if (r.status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      await tp.stop(100);
      throw new Error(`target not ready within 15 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return tp;
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat (Linux). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the command name start at field 3 (state); utime is field 14 and stime 15.
  const ticks = Number(fields[14 - 3]) + Number(fields[15 - 3]);
  return ticks / 100; // USER_HZ is 100 on Linux
}

/** VmRSS, VmHWM, RssAnon and RssFile in bytes, from /proc/<pid>/status. */
export function memoryOf(pid: number): { rss: number; hwm: number; anon: number; file: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM'), anon: kb('RssAnon'), file: kb('RssFile') };
}
