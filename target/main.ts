// Entry point: read the configuration, build the target, serve, and shut down cleanly on SIGTERM/SIGINT.
import { parseArgs } from './config/cli.js';
import { ConfigError } from './config/config.js';
import { createLogger } from './log.js';
import { runTarget } from './runtime/run.js';

async function main(): Promise<void> {
  let config;
  try {
    config = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`nvmeof-target: invalid configuration: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const log = createLogger(config.logLevel ?? 'info');
  const running = await runTarget(config, log);
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
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e) => {
  process.stderr.write(`nvmeof-target: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
