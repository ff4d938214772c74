// Errors that end the process at start because of its configuration or its environment (a file that
// cannot be sized, memory that cannot be allocated, a device that cannot be opened, a port that cannot be
// bound or that another process holds). The process exits non-zero and its one-line message is the
// container's termination message (termination-message.ts), what `kubectl describe` and the operator
// show. Any other error ending the process is a bug: its stack goes to the log instead.
import { getSystemErrorMessage } from 'node:util';

export class StartupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StartupError';
  }
}

/**
 * A system error as "EFBIG (file too large)": the errno name a search finds and the text a human reads.
 * Anything else: its message.
 */
export function errnoText(e: unknown): string {
  if (e instanceof FailureError) return e.message;
  const x = e as NodeJS.ErrnoException | undefined;
  if (x && typeof x.code === 'string' && /^E[A-Z0-9]+$/.test(x.code)) {
    let text: string | undefined;
    try {
      text = typeof x.errno === 'number' ? getSystemErrorMessage(x.errno) : undefined;
    } catch {
      text = undefined; // an errno libuv does not know
    }
    return text ? `${x.code} (${text})` : x.code;
  }
  return e instanceof Error ? e.message : String(e);
}

/** What was being done and why it failed, already in words; `code` keeps the errno name for callers that test it. */
export class FailureError extends Error {
  readonly code?: string;
  constructor(what: string, cause: unknown) {
    super(`${what}: ${errnoText(cause)}`, { cause });
    this.name = 'FailureError';
    this.code = (cause as NodeJS.ErrnoException | undefined)?.code;
  }
}

/** `what` failed because of `e`: "cannot size file /x to 5 bytes: EFBIG (file too large)". */
export function describeFailure(what: string, e: unknown): FailureError {
  return new FailureError(what, e);
}
