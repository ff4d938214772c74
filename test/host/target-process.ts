// The target in its own process for the host library's tests and the benchmarks: one subsystem on free
// ports (test/support/target-process.ts does the spawning), plus CPU and memory readings from /proc.
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { freePort, startTarget as spawnTarget, SUPERVISOR_MAIN, TARGET_MAIN } from '../support/target-process.js';

export { freePort, SUPERVISOR_MAIN, TARGET_MAIN };

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
  /**
   * SIGTERM, then SIGKILL after `graceMs`; then fails if the target logged a protocol error the test did not
   * expect (`expectProtocolErrors`; test/support/protocol-errors.ts).
   */
  stop(graceMs?: number): Promise<void>;
  /** Every protocol-error line it logged so far, expected or not. */
  protocolErrors: string[];
}

export interface TargetArgs {
  nqn?: string;
  /** Backing flags as the CLI takes them, e.g. ['--memory', '64M'] or ['--namespace', '/tmp/x.img:1G']. */
  namespaces: string[];
  /** Further flags (--state FILE, --block-size 4096, ...). */
  extra?: string[];
  logLevel?: string;
  /** Keep at most this many lines of output (default 500). */
  keepLines?: number;
  /** The entry point (default TARGET_MAIN; SUPERVISOR_MAIN for in-pod resume, whose flags go first in `extra`). */
  main?: string;
  env?: NodeJS.ProcessEnv;
  /** Protocol errors the test provokes on purpose: patterns matched against the log line (default: none). */
  expectProtocolErrors?: readonly RegExp[];
}

/** Starts the target on free ports with one subsystem, and resolves once it serves. */
export async function startTarget(a: TargetArgs): Promise<TargetProcess> {
  const host = '127.0.0.1';
  const port = await freePort();
  const metricsPort = await freePort();
  const nqn = a.nqn ?? 'nqn.2026-01.io.nvmeof:test';
  const t = await spawnTarget([
    '--listen', `${host}:${port}`, '--nqn', nqn, ...a.namespaces,
    '--metrics', `${host}:${metricsPort}`, '--log-level', a.logLevel ?? 'warn', ...(a.extra ?? []),
  ], { keepLines: a.keepLines ?? 500, main: a.main, env: a.env, expectProtocolErrors: a.expectProtocolErrors });
  let done = false;
  void t.exited.then(() => { done = true; });
  return {
    proc: t.child, pid: t.pid, host, port, metricsPort, nqn,
    output: () => t.lines.join('\n'),
    exited: t.exited,
    protocolErrors: t.protocolErrors,
    alive: () => !done,
    metrics: async () => (await fetch(`http://${host}:${metricsPort}/metrics`)).text(),
    async stop(graceMs = 5000) {
      const timer = done ? undefined : setTimeout(() => t.child.kill('SIGKILL'), graceMs);
      try {
        await t.kill('SIGTERM'); // the protocol-error check, also for a process that already ended
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/**
 * CPU seconds a process and its live child processes have used (Linux): the in-pod resume supervisor's
 * worker is its child. From each thread's /proc/<pid>/task/<tid>/schedstat (nanoseconds on the CPU), so a
 * bench trial of half a second is not measured in 10 ms ticks (utime + stime in /proc/<pid>/stat, which
 * moved a per-I/O figure by about 2 % a trial); the ticks where schedstat cannot be read.
 */
export function cpuSeconds(pid: number): number {
  let own: number;
  try {
    own = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        own += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e9;
      } catch {
        // the thread ended meanwhile
      }
    }
  } catch {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields after the command name start at field 3 (state); utime is field 14 and stime 15.
    own = (Number(fields[14 - 3]) + Number(fields[15 - 3])) / 100; // USER_HZ is 100 on Linux
  }
  let children = 0;
  try {
    for (const c of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) children += cpuSeconds(Number(c));
  } catch {
    // gone, or no children file
  }
  return own + children;
}

/** VmRSS, VmHWM, RssAnon and RssFile in bytes, from /proc/<pid>/status. */
export function memoryOf(pid: number): { rss: number; hwm: number; anon: number; file: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM'), anon: kb('RssAnon'), file: kb('RssFile') };
}
