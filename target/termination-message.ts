// The container's termination message: one line saying why the process exits on a configuration or
// environment error (startup-error.ts), read by Kubernetes from the container's terminationMessagePath
// (default /dev/termination-log) into the pod's status, where `kubectl describe` and the operator find it.
//
// Invariants: writing never throws (outside a pod the file may be missing or read-only), and the message
// is one line of at most TERMINATION_MESSAGE_MAX_BYTES bytes of UTF-8 (the kubelet keeps at most 4 KiB).
// The default path is written only if it exists: the kubelet bind-mounts it into every container, and a
// process run by hand as root must not create a stray /dev/termination-log.
import { existsSync, writeFileSync } from 'node:fs';
import { ConfigError } from './config/config.js';
import { StartupError } from './startup-error.js';

/** Environment variable naming the file to write (a pod's container.terminationMessagePath). */
export const TERMINATION_MESSAGE_PATH_ENV = 'NVMEOF_TERMINATION_MESSAGE_PATH';
export const DEFAULT_TERMINATION_MESSAGE_PATH = '/dev/termination-log';
export const TERMINATION_MESSAGE_MAX_BYTES = 4096;

/** The message for an error that ends the process, or undefined for a bug (its stack belongs in the log). */
export function terminationMessageFor(e: unknown): string | undefined {
  if (e instanceof ConfigError) return `invalid configuration: ${e.message}`;
  if (e instanceof StartupError) return e.message;
  return undefined;
}

/** One line, cut (on a character boundary, marked with "...") to at most `maxBytes` bytes of UTF-8. */
export function clampMessage(message: string, maxBytes = TERMINATION_MESSAGE_MAX_BYTES): string {
  const line = message.replace(/\s*[\r\n]+\s*/g, ' ').trim();
  if (Buffer.byteLength(line, 'utf8') <= maxBytes) return line;
  const ellipsis = '...';
  let out = '';
  let bytes = Buffer.byteLength(ellipsis);
  for (const ch of line) {
    const b = Buffer.byteLength(ch, 'utf8');
    if (bytes + b > maxBytes) break;
    out += ch;
    bytes += b;
  }
  return out + ellipsis;
}

/** Writes `message`; false when it could not be written (never throws). */
export function writeTerminationMessage(message: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const explicit = env[TERMINATION_MESSAGE_PATH_ENV];
  const path = explicit || DEFAULT_TERMINATION_MESSAGE_PATH;
  try {
    if (!explicit && !existsSync(path)) return false;
    writeFileSync(path, `${clampMessage(message)}\n`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Ends the process for `e`: a configuration or environment error writes its termination message and
 * says it on stderr; anything else has its stack on stderr. Exit code 2 for a configuration error, 1 else.
 */
export function exitForError(program: string, e: unknown): never {
  const message = terminationMessageFor(e);
  if (message !== undefined) {
    writeTerminationMessage(message);
    process.stderr.write(`${program}: ${message}\n`);
  } else {
    process.stderr.write(`${program}: ${e instanceof Error ? e.stack : String(e)}\n`);
  }
  process.exit(e instanceof ConfigError ? 2 : 1);
}
