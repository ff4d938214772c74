// The process around a running target, for its two entry points (main.ts: TCP listeners; resume/worker.ts:
// the rings of in-pod resume): runs it with the front end given, and on a signal shuts it down cleanly and
// exits (0, or 1 if the shutdown failed). A port it cannot have ends it with a termination message.
import type { TargetConfig } from './config/config.js';
import type { Logger } from './controller/observer.js';
import { runTarget, type RunningTarget } from './runtime/run.js';
import { exitForError } from './termination-message.js';
import type { FrontEnd } from './transport/front-end.js';
import { watchConfig } from './runtime/config-watch.js';

export interface ServeOptions {
  /** The --config file: watched for new content, applied live (runtime/config-watch.ts); SIGHUP reads it at once. */
  configFile?: string;
  /** The process's logger level, changed by a live configuration change. */
  setLogLevel?(level: NonNullable<TargetConfig['logLevel']>): void;
}

export async function serve(config: TargetConfig, log: Logger, frontEnd: FrontEnd, signals: NodeJS.Signals[], o: ServeOptions = {}): Promise<RunningTarget> {
  // A port another process keeps, found after start-up began: exit saying so (termination-message.ts).
  const running = await runTarget(config, log, frontEnd, { onFatal: (e) => exitForError('nvmeof-target', e), setLogLevel: o.setLogLevel });
  if (o.configFile) {
    const watch = watchConfig({
      path: o.configFile, log,
      served: () => running.config,
      apply: (next) => running.reconfigure(next),
      invalid: (generation, error) => running.configStatus.rejected(generation, error),
    });
    process.on('SIGHUP', () => void watch.check());
  }
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
