// Structured JSON logs through winston, on stdout.
import winston from 'winston';
import type { Logger } from './controller/observer.js';

export function createLogger(level = 'info', defaults: Record<string, unknown> = {}): Logger & winston.Logger {
  return winston.createLogger({
    level,
    defaultMeta: { component: 'target', ...defaults },
    format: winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: true }), winston.format.json()),
    transports: [new winston.transports.Console()],
  });
}
