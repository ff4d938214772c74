// Entry point: read the configuration, build the target, serve, and shut down cleanly on SIGTERM/SIGINT.
// A configuration or environment error ends the process non-zero with the reason as the container's
// termination message (termination-message.ts; the file is $NVMEOF_TERMINATION_MESSAGE_PATH, by default
// /dev/termination-log).
import { configFileArg, parseArgs } from './config/cli.js';
import { createLogger } from './log.js';
import { serve } from './serve.js';
import { exitForError } from './termination-message.js';
import { TcpFrontEnd } from './transport/tcp-front-end.js';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const config = parseArgs(argv);
  const log = createLogger(config.logLevel ?? 'info');
  await serve(config, log, new TcpFrontEnd(config.discoveryListeners, config.subsystems), ['SIGTERM', 'SIGINT'], {
    configFile: configFileArg(argv),
    setLogLevel: (level) => { log.level = level; },
  });
}

main().catch((e) => exitForError('nvmeof-target', e));
