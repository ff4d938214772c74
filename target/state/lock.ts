// The exclusive lock that keeps two processes from writing one state file (a force-deleted pod whose
// container still runs, and its replacement). flock(2) through fs-ext; the kernel drops it when its
// holder dies, SIGKILL included, so a waiter always gets it eventually.
//
// The lock is taken on "<state file>.lock", not on the state file itself: the state file is replaced
// by rename (creation, migration, setting a corrupt file aside), and a lock must stay on one inode.
// A waiter polls instead of blocking in flock(LOCK_EX), which would block Node's only thread; it
// says so in its log and through a callback (readiness: "waiting for state-file lock"), and never
// gives up on its own.
import { closeSync, constants, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import type { StateLog } from './types.js';

const require = createRequire(import.meta.url);
const fsExt = require('fs-ext') as { flockSync(fd: number, flags: 'exnb' | 'un'): void };

export interface LockWaitInfo {
  lockPath: string;
  /** What the holder wrote into the lock file (pid, host, since), if readable. */
  holder?: string;
}

export interface LockOptions {
  log: StateLog;
  onWaiting?: (info: LockWaitInfo) => void;
  /** Poll interval while waiting; default 250 ms. */
  pollMs?: number;
  /** Interval between "still waiting" log lines; default 30 s. */
  remindMs?: number;
  /** Stops waiting (e.g. SIGTERM while waiting): the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface StateLock {
  readonly lockPath: string;
  release(): void;
}

function tryLock(fd: number): boolean {
  try {
    fsExt.flockSync(fd, 'exnb');
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EAGAIN' || code === 'EWOULDBLOCK') return false;
    throw e;
  }
}

function readHolder(lockPath: string): string | undefined {
  try {
    const s = readFileSync(lockPath, 'utf8').trim();
    return s || undefined;
  } catch {
    return undefined;
  }
}

export async function acquireLock(lockPath: string, o: LockOptions): Promise<StateLock> {
  const fd = openSync(lockPath, constants.O_RDWR | constants.O_CREAT, 0o644);
  try {
    if (!tryLock(fd)) await waitForLock(fd, lockPath, o);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  const holder = JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() });
  ftruncateSync(fd, 0);
  writeSync(fd, holder, 0);
  let held = true;
  return {
    lockPath,
    release() {
      if (!held) return;
      held = false;
      try {
        fsExt.flockSync(fd, 'un');
      } finally {
        closeSync(fd);
      }
    },
  };
}

async function waitForLock(fd: number, lockPath: string, o: LockOptions): Promise<void> {
  const pollMs = o.pollMs ?? 250;
  const remindMs = o.remindMs ?? 30_000;
  const started = Date.now();
  const info: LockWaitInfo = { lockPath, holder: readHolder(lockPath) };
  o.log.warn('waiting for state-file lock: another process holds it', { ...info });
  o.onWaiting?.(info);
  let lastReminder = started;
  for (;;) {
    o.signal?.throwIfAborted();
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => { o.signal?.removeEventListener('abort', onAbort); resolve(); }, pollMs);
      const onAbort = () => { clearTimeout(t); reject(o.signal!.reason); };
      o.signal?.addEventListener('abort', onAbort, { once: true });
    });
    if (tryLock(fd)) {
      o.log.info('state-file lock acquired', { lockPath, waitedMs: Date.now() - started });
      return;
    }
    if (Date.now() - lastReminder >= remindMs) {
      lastReminder = Date.now();
      o.log.warn('still waiting for state-file lock', { lockPath, waitedMs: lastReminder - started, holder: readHolder(lockPath) });
    }
  }
}
