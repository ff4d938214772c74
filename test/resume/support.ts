// In-pod resume under test: the supervisor (dist/target/supervisor.js) in its own process, its worker found
// among its children, and a way to kill that worker.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTarget, SUPERVISOR_MAIN, type TargetArgs, type TargetProcess } from '../host/target-process.js';
import { waitFor } from '../support/wait.js';

export interface Supervised extends TargetProcess {
  /** The pid of the worker serving now (from /recovery), or undefined while none serves. */
  worker(): Promise<number | undefined>;
  /** SIGKILLs the worker and waits until another one serves (its /readyz answers 200). */
  killWorker(): Promise<void>;
  recovery(): Promise<Recovery>;
}

export interface Recovery {
  workerRestarts: number;
  resume: { workerPid: number; workerHangs: number; connectionsResumed: number; commandsRedone: number; completionsRepublished: number; last: { durationSeconds: number } | null };
}

export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The worker serving (ready) behind a supervisor whose metrics are at `metrics` (host:port), from its /recovery. */
export async function servingWorker(metrics: string): Promise<number | undefined> {
  try {
    if ((await fetch(`http://${metrics}/readyz`)).status !== 200) return undefined;
    const r = await fetch(`http://${metrics}/recovery`);
    if (r.status !== 200) return undefined;
    return ((await r.json()) as Recovery).resume?.workerPid;
  } catch {
    return undefined;
  }
}

/** Resolves once a worker other than `pid` serves (30 s at most). */
function untilAnotherWorker(metrics: string, pid: number, what: string): Promise<boolean> {
  return waitFor(what, async () => {
    const w = await servingWorker(metrics);
    return w !== undefined && w !== pid;
  }, 30_000, 20);
}

/** SIGKILLs the serving worker and resolves once a different one serves. */
export async function killServingWorker(metrics: string, what = 'worker'): Promise<void> {
  const pid = await servingWorker(metrics);
  if (!pid) throw new Error(`no ${what} serves at ${metrics}`);
  process.kill(pid, 'SIGKILL');
  await untilAnotherWorker(metrics, pid, `another worker after killing ${pid}`);
}

/**
 * A worker that hangs: SIGSTOPs the serving worker and resolves once the supervisor's watchdog killed it and
 * a different worker serves. While it is stopped the supervisor still takes the host's bytes into the
 * rings, and a host whose I/O stalls sends Keep Alive (traffic-based keep-alive: only after a while with no
 * completion), so the admin queue has commands across the kill too.
 */
export async function hangWorker(metrics: string, what = 'worker'): Promise<void> {
  const pid = await servingWorker(metrics);
  if (!pid) throw new Error(`no ${what} serves at ${metrics}`);
  process.kill(pid, 'SIGSTOP');
  try {
    await untilAnotherWorker(metrics, pid, `the watchdog to replace the stopped worker ${pid}`);
  } catch (e) {
    // Not left behind stopped, where it would outlive the supervisor.
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    throw e;
  }
}

export async function startSupervised(a: TargetArgs & { supervisorFlags?: string[] }): Promise<Supervised> {
  const flags = [...(a.supervisorFlags ?? ['--connection-slots', '8', '--rx-ring', '4M'])];
  // The rings go into a folder of the test's own, removed once the supervisor is gone however it ended.
  let ringsDir: string | undefined;
  if (!flags.includes('--rings')) {
    ringsDir = mkdtempSync(join(tmpdir(), 'nvmeof-rings-'));
    flags.push('--rings', join(ringsDir, 'rings'));
  }
  const t = await startTarget({ ...a, main: SUPERVISOR_MAIN, extra: [...(a.extra ?? []), ...flags] });
  if (ringsDir) void t.exited.then(() => rmSync(ringsDir!, { recursive: true, force: true }));
  const metrics = `${t.host}:${t.metricsPort}`;
  return {
    ...t,
    worker: () => servingWorker(metrics),
    killWorker: () => killServingWorker(metrics),
    async recovery() {
      return (await fetch(`http://${metrics}/recovery`)).json() as Promise<Recovery>;
    },
  };
}
