// winston JSON logs. Objects are named `namespace/name` in the `object` field.
import winston from 'winston';
import { silenceOnOutputLoss } from '../target/contract.js';

export type Level = 'error' | 'warn' | 'info' | 'debug';
export type LogFn = (level: Level, msg: string, meta?: Record<string, unknown>) => void;

export function makeLogger(level: Level): { logger: winston.Logger; log: LogFn } {
  // Losing stdout (EPIPE) silences the logs instead of crashing the operator (see target/log.ts).
  const logger = silenceOnOutputLoss(winston.createLogger({
    level,
    format: winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }), winston.format.json()),
    defaultMeta: { component: 'nvmeof-operator' },
    transports: [new winston.transports.Console()],
  }));
  return { logger, log: (lvl, msg, meta) => logger.log(lvl, msg, meta ?? {}) };
}
