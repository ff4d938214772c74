// In-pod resume under test: the supervisor (dist/target/supervisor.js) in its own process, its worker found
// among its children, and a way to kill that worker.
import { readFileSync } from 'node:fs';
import { startTarget, SUPERVISOR_MAIN, type TargetArgs, type TargetProcess } from '../host/target-process.js';
import { waitFor } from '../support/wait.js';

export interface Supervised extends TargetProcess {
  /** The worker's pid now. */
  worker(): number | undefined;
  /** SIGKILLs the worker and waits until a new one serves again (its /readyz answers 200). */
  killWorker(): Promise<void>;
  recovery(): Promise<{ workerRestarts: number; resume: { connectionsResumed: number; commandsRedone: number; completionsRepublished: number; last: { durationSeconds: number } | null } }>;
}

export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export async function startSupervised(a: TargetArgs & { supervisorFlags?: string[] }): Promise<Supervised> {
  const t = await startTarget({ ...a, main: SUPERVISOR_MAIN, extra: [...(a.extra ?? []), ...(a.supervisorFlags ?? ['--connection-slots', '8', '--rx-ring', '4M'])] });
  const worker = () => childrenOf(t.pid)[0];
  const readyz = async () => {
    try {
      return (await fetch(`http://${t.host}:${t.metricsPort}/readyz`)).status === 200;
    } catch {
      return false;
    }
  };
  return {
    ...t,
    worker,
    async killWorker() {
      const pid = worker();
      if (!pid) throw new Error(`no worker:\n${t.output()}`);
      process.kill(pid, 'SIGKILL');
      await waitFor(`a new worker after killing ${pid}`, async () => {
        const w = worker();
        return w !== undefined && w !== pid && (await readyz());
      }, 15_000, 20);
    },
    async recovery() {
      return (await fetch(`http://${t.host}:${t.metricsPort}/recovery`)).json() as never;
    },
  };
}
