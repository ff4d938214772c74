// An informer that keeps going, on @kubernetes/client-node 2.x's ListWatch.
// What 2.0.1 does itself, so nothing here does it: it re-lists after 410 Gone; its Watch aborts a
// watch on which nothing (not even a bookmark) arrives for 30 s, connecting included, and the
// ListWatch then reconnects at once from its resourceVersion, which ends the silent hang of
// kubernetes-client/javascript#596 and #958 (a watch that stops delivering, with no error and no
// reconnect); a watch the server ends is reconnected at once, then after 1 s, doubling up to 30 s,
// while no event (bookmarks included) comes.
// What 2.0.1 still lacks, kept here:
// - restart after an error: any other watch error (connection refused or reset, a 403 or 5xx answer
//   to the watch) and any failed list is reported on 'error', and the ListWatch stops for good
//   (doneHandler in cache.js returns; kubernetes-client/javascript#2385). So each informer is
//   supervised: restarted after an exponential backoff, reset once it has run a while;
// - a watchdog over the whole informer, not only within a watch request as 2.x's timeout (#596,
//   #958): its watches ask the server to end them after WATCH_TIMEOUT_SECONDS and 2.x reconnects a
//   quiet one every 30 s, so a healthy informer says so (connect) far more often than `stallMs`; one
//   silent for longer (no event, no reconnect: stuck outside a watch request, in a list or an exec
//   credential plugin that never returns) is restarted;
// - restarts keep the cache (the same ListWatch resumes from its resourceVersion, or re-lists and
//   reports the differences), so a restart never looks like every object vanished.
import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject, type ObjectCache } from '@kubernetes/client-node';
import { backoffDelay, type BackoffPolicy } from './backoff.js';

export const WATCH_TIMEOUT_SECONDS = 240;

/** The part of client-node's informer that the supervisor drives (a fake in tests). */
export interface Watchable {
  on(verb: 'add' | 'update' | 'delete', cb: (obj: unknown) => void): void;
  on(verb: 'error' | 'connect', cb: (err?: unknown) => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface SupervisorOptions {
  backoff: BackoffPolicy;
  stallMs: number;
  /** How long an informer must run without error before its backoff resets. */
  healthyAfterMs: number;
  log: (level: 'info' | 'warn', msg: string, meta?: Record<string, unknown>) => void;
  onRestart?: (name: string, why: string) => void;
}

export const DEFAULT_SUPERVISOR: Omit<SupervisorOptions, 'log'> = {
  backoff: { baseMs: 500, maxMs: 30_000, jitter: 0.2 },
  stallMs: (WATCH_TIMEOUT_SECONDS + 60) * 1000,
  healthyAfterMs: 60_000,
};

export class Supervisor {
  private failures = 0;
  private lastActivity = Date.now();
  private lastError = 0;
  private listed = false;
  private stopped = true;
  private restarting = false;
  private restartTimer?: NodeJS.Timeout;
  private watchdog?: NodeJS.Timeout;

  constructor(readonly name: string, private readonly informer: Watchable, private readonly opts: SupervisorOptions) {
    const touch = () => { this.lastActivity = Date.now(); };
    informer.on('add', touch);
    informer.on('update', touch);
    informer.on('delete', touch);
    informer.on('connect', touch);
    informer.on('error', (err) => this.onError(err));
  }

  /** Whether a list has succeeded at least once (the cache is usable). */
  get synced(): boolean {
    return this.listed;
  }

  /** Called by the list function after each successful list. */
  markListed(): void {
    this.listed = true;
    this.lastActivity = Date.now();
  }

  /** Milliseconds since the last sign of life. */
  get silentMs(): number {
    return Date.now() - this.lastActivity;
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.lastActivity = Date.now();
    this.watchdog = setInterval(() => this.checkStall(), Math.max(50, Math.min(this.opts.stallMs / 4, 30_000)));
    this.watchdog.unref();
    await this.informer.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    await this.informer.stop();
  }

  private onError(err: unknown): void {
    // Aborting our own watch (stop, restart) reports an error too: not a failure.
    if (this.stopped || this.restarting) return;
    const now = Date.now();
    if (this.lastError && now - this.lastError > this.opts.healthyAfterMs) this.failures = 0;
    this.lastError = now;
    this.schedule(`watch error: ${err instanceof Error ? err.message : String(err)}`);
  }

  private checkStall(): void {
    if (this.stopped || this.restarting || this.restartTimer) return;
    if (this.silentMs > this.opts.stallMs) this.schedule(`no event and no reconnect for ${Math.round(this.silentMs / 1000)} s`, 0);
  }

  private schedule(why: string, delayMs?: number): void {
    if (this.restartTimer || this.stopped) return;
    const ms = delayMs ?? backoffDelay(this.failures++, this.opts.backoff);
    this.opts.log('warn', `informer ${this.name}: restarting in ${ms} ms`, { informer: this.name, why });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.restart(why);
    }, ms);
    this.restartTimer.unref();
  }

  private async restart(why: string): Promise<void> {
    if (this.stopped) return;
    this.restarting = true;
    try {
      await this.informer.stop();
      // Let the aborted request report its end before the new one starts.
      await new Promise((r) => setTimeout(r, 20));
    } finally {
      this.restarting = false;
    }
    if (this.stopped) return;
    this.lastActivity = Date.now();
    this.opts.onRestart?.(this.name, why);
    try {
      await this.informer.start();
    } catch (err) {
      this.onError(err);
    }
  }
}

export interface SupervisedInformer<T extends KubernetesObject> extends ObjectCache<T> {
  readonly supervisor: Supervisor;
  on(verb: 'add' | 'update' | 'delete', cb: (obj: T) => void): void;
}

/**
 * A supervised client-node ListWatch on `path` (a collection URL). List items get apiVersion and
 * kind filled in (lists omit them), so cached objects look like watched ones.
 */
export function makeInformer<T extends KubernetesObject>(
  kc: KubeConfig,
  name: string,
  path: string,
  list: () => Promise<KubernetesListObject<T>>,
  typeMeta: { apiVersion: string; kind: string },
  opts: SupervisorOptions,
  labelSelector?: string,
  fieldSelector?: string,
): SupervisedInformer<T> {
  let supervisor: Supervisor | undefined;
  const listFn = async () => {
    const l = await list();
    for (const item of l.items) {
      item.apiVersion ??= typeMeta.apiVersion;
      item.kind ??= typeMeta.kind;
    }
    supervisor?.markListed();
    return l;
  };
  // Query parameters in the path reach the watch request: the server ends each watch after the
  // timeout and sends bookmarks, so the resourceVersion stays fresh while nothing changes.
  const watchPath = `${path}?timeoutSeconds=${WATCH_TIMEOUT_SECONDS}&allowWatchBookmarks=true`;
  const lw = new ListWatch<T>(watchPath, new Watch(kc), listFn, false, labelSelector, fieldSelector);
  supervisor = new Supervisor(name, lw as unknown as Watchable, opts);
  const s = supervisor;
  return {
    supervisor: s,
    get: (n, ns) => lw.get(n, ns),
    list: (ns) => lw.list(ns),
    on: (verb, cb) => lw.on(verb, cb),
  };
}
