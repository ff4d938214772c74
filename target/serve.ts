// The process around a running target, for its two entry points (main.ts: TCP listeners; resume/worker.ts:
// the rings of in-pod resume): runs it with the front end given, and on a signal shuts it down cleanly and
// exits (0, or 1 if the shutdown failed).
import type { TargetConfig } from './config/config.js';
import type { Logger } from './controller/observer.js';
import { runTarget, type RunningTarget } from './runtime/run.js';
import type { FrontEnd } from './transport/front-end.js';

export async function serve(config: TargetConfig, log: Logger, frontEnd: FrontEnd, signals: NodeJS.Signals[]): Promise<RunningTarget> {
  const running = await runTarget(config, log, frontEnd);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    running.shutdown().then(() => process.exit(0), (e) => {
      log.error('shutdown failed', { error: String(e) });
      process.exit(1);
    });
  };
  for (const s of signals) process.on(s, () => stop(s));
  return running;
}
