// A work queue of namespace/name keys with the semantics of client-go's workqueue:
// - a key is queued at most once (adding a queued key does nothing);
// - a key is never handed out while it is being processed: adding it then marks it dirty, and it is
//   queued again when `done` is called, so no key runs twice at once and no change is lost;
// - `addRateLimited` requeues after a per-key exponential backoff that `forget` resets;
// - `addAfter` requeues after a delay (the earliest pending delay wins), and both return the delay
//   that will actually pass, so a log line that states it tells the truth;
// - a plain `add` (an informer saw a change) still runs the key at once, backoff or not, as
//   client-go's does: a change may be the fix.
import { backoffDelay, type BackoffPolicy } from './backoff.js';

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly waiters: Array<(key: string | undefined) => void> = [];
  private shuttingDown = false;

  constructor(private readonly backoff: BackoffPolicy = { baseMs: 500, maxMs: 5 * 60_000 }) {}

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    const w = this.waiters.shift();
    if (w) {
      this.dirty.delete(key);
      this.processing.add(key);
      w(key);
    } else {
      this.queue.push(key);
    }
  }

  /** Queues `key` after `ms`, or at an earlier pending time; returns the delay that will pass. */
  addAfter(key: string, ms: number): number {
    if (this.shuttingDown) return ms;
    if (ms <= 0) {
      this.add(key);
      return 0;
    }
    const now = Date.now();
    const at = now + ms;
    const pending = this.timers.get(key);
    if (pending && pending.at <= at) return Math.max(0, pending.at - now);
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    this.timers.set(key, { at, timer });
    return ms;
  }

  /** Queues `key` after its backoff, capped at `maxMs` if lower than the queue's cap; returns the delay that will pass. */
  addRateLimited(key: string, maxMs = this.backoff.maxMs): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    return this.addAfter(key, backoffDelay(n, { ...this.backoff, maxMs: Math.min(maxMs, this.backoff.maxMs) }));
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** The next key to process, or undefined once shut down. */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.dirty.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.dirty.delete(key);
      this.add(key);
    }
  }

  /** Keys waiting (not counting those being processed or delayed). */
  get length(): number {
    return this.queue.length;
  }

  get inFlight(): number {
    return this.processing.size;
  }

  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }
}

export interface WorkResult {
  requeueAfterMs?: number;
}

/** A failure whose retry waits at most `maxDelayMs`: sooner than the queue's own cap. */
export class CappedRetryError extends Error {
  constructor(message: string, readonly maxDelayMs: number) {
    super(message);
    this.name = 'CappedRetryError';
  }
}

/**
 * Runs `workers` loops taking keys and handling them. A handler that throws is requeued with the
 * key's backoff (capped lower by a CappedRetryError), and onError learns the delay that will pass;
 * one that returns is forgotten (backoff reset), then requeued after requeueAfterMs.
 * Resolves when the queue is shut down and every running handler has finished.
 */
export async function runWorkers(
  queue: WorkQueue,
  workers: number,
  handle: (key: string) => Promise<WorkResult | void>,
  onError: (key: string, err: unknown, retryInMs: number) => void,
): Promise<void> {
  const loop = async () => {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      try {
        const res = await handle(key);
        queue.forget(key);
        if (res?.requeueAfterMs !== undefined) queue.addAfter(key, res.requeueAfterMs);
      } catch (err) {
        onError(key, err, queue.addRateLimited(key, err instanceof CappedRetryError ? err.maxDelayMs : undefined));
      } finally {
        queue.done(key);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, workers) }, loop));
}
