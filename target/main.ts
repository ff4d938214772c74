// Entry point: read the configuration, build the target, serve, and shut down cleanly on SIGTERM/SIGINT.
import { parseArgs } from './config/cli.js';
import { ConfigError } from './config/config.js';
import { createLogger } from './log.js';
import { serve } from './serve.js';
import { TcpFrontEnd } from './transport/tcp-front-end.js';

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
  await serve(config, log, new TcpFrontEnd(config.discoveryListeners), ['SIGTERM', 'SIGINT']);
}

main().catch((e) => {
  process.stderr.write(`nvmeof-target: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
