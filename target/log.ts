// Structured JSON logs through winston, on stdout.
//
// Invariant: losing stdout never stops or loops the process. When whatever reads the logs goes away (the
// pipe's reader exited: EPIPE), writes to stdout fail asynchronously with an 'error' event; unhandled, it
// becomes an uncaught exception, which kills the target, or, in the supervisor (which logs uncaught
// exceptions and keeps running), is logged to the same broken pipe, failing again: a loop that grew the
// supervisor by 60 MB/s. So the first stdout (or stderr) error silences every logger of the process for
// good; the target goes on serving without logs.
import winston from 'winston';
import type { Logger } from './controller/observer.js';

const loggers = new Set<winston.Logger>();
let watching = false;
let outputLost = false;

function watchOutput(): void {
  if (watching) return;
  watching = true;
  const lost = (): void => {
    if (outputLost) return;
    outputLost = true;
    for (const l of loggers) l.silent = true;
  };
  process.stdout.on('error', lost);
  process.stderr.on('error', lost);
}

/** Silences `logger` at the first stdout or stderr error of the process (the operator's logger uses it too). */
export function silenceOnOutputLoss<L extends winston.Logger>(logger: L): L {
  watchOutput();
  if (outputLost) logger.silent = true;
  loggers.add(logger);
  return logger;
}

export function createLogger(level = 'info', defaults: Record<string, unknown> = {}): Logger & winston.Logger {
  return silenceOnOutputLoss(winston.createLogger({
    level,
    defaultMeta: { component: 'target', ...defaults },
    format: winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }), winston.format.json()),
    transports: [new winston.transports.Console()],
  }));
}
