// The operator's entry point: read the configuration, start, and stop gracefully on SIGTERM/SIGINT
// (running reconciles finish, the lease is released). Losing leadership exits non-zero, so the pod
// restarts as a follower with a clean state.
import { OperatorConfigError, parseOperatorConfig } from './config.js';
import { makeLogger } from './log.js';
import { startOperator } from './operator.js';

async function main(): Promise<void> {
  let config;
  try {
    config = parseOperatorConfig(process.argv.slice(2), process.env);
  } catch (e) {
    if (e instanceof OperatorConfigError) {
      process.stderr.write(`nvmeof-operator: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const { log } = makeLogger(config.logLevel);
  const op = await startOperator({ config, log });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log('info', `${signal}: shutting down`);
    const force = setTimeout(() => process.exit(1), 20_000);
    force.unref();
    op.stop().then(() => process.exit(0), (err: Error) => {
      log('error', 'shutdown failed', { error: err.message });
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  await op.lost;
  if (!stopping) {
    log('error', 'lost leadership: exiting');
    process.exit(1);
  }
}

main().catch((err: Error) => {
  process.stderr.write(`nvmeof-operator: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
