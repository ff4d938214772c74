// Binding a listening port that may be in use: whose it is decides between waiting and giving up.
//
// A force-deleted pod's container may still run for a few seconds beside its replacement, holding the
// subsystem's state-file lock and every port; the replacement must wait for it, never crash-loop
// (test/operator/operator.test.ts). Such an old container lets its ports go when it exits, the same moment
// the kernel drops its flock. So:
//  - while a state-file lock of this process is still held by another process, a port in use is the old
//    container's: wait, however long;
//  - once this process holds every state-file lock it needs (or has none), a port still in use after
//    PORT_IN_USE_GRACE_MS belongs to someone else (the kubelet's 10250, another pod with hostNetwork):
//    the process exits with a termination message naming the port, the address and what it saw.
// Any other error of bind (EACCES, EADDRNOTAVAIL) is the configuration's: exit at once.
import type { Logger } from '../controller/observer.js';
import { errnoText, StartupError } from '../startup-error.js';

/**
 * How long a port may stay in use once this process holds its state-file locks. An old container stops
 * listening before it releases its lock when it shuts down (the target's shutdown and the in-pod resume
 * supervisor's both close their listeners first), and loses both at once when it is killed; only its
 * metrics server closes just after the lock. So a port of the old container is free within moments of
 * its lock; 10 s covers a slow exit (a loaded node, a runtime tearing the container down) with room, and
 * is short against the minutes a user would otherwise watch "not ready".
 */
export const PORT_IN_USE_GRACE_MS = 10_000;
/** Between two attempts to bind a port in use. */
export const PORT_RETRY_MS = 500;

export interface PortAttempt {
  /** What listens there, for the messages: "NVMe/TCP listener", "metrics and health endpoints". */
  what: string;
  address: string;
  port: number;
  /** The error of the last bind. */
  error: unknown;
  /** When this port was first found in use (Unix ms). */
  firstInUseMs: number;
  /** Since when this process holds every state-file lock it needs; undefined while it waits for one. */
  locksHeldSinceMs: number | undefined;
  nowMs: number;
  graceMs?: number;
}

export type PortDecision = { action: 'wait'; reason: string } | { action: 'fail'; message: string };

/** Wait for the port or give up, and why (pure). */
export function decidePortInUse(a: PortAttempt): PortDecision {
  const where = `port ${a.port} on ${a.address}`;
  if ((a.error as NodeJS.ErrnoException | undefined)?.code !== 'EADDRINUSE') {
    return { action: 'fail', message: `cannot listen on ${where} (${a.what}): ${errnoText(a.error)}` };
  }
  if (a.locksHeldSinceMs === undefined) {
    return { action: 'wait', reason: `waiting for ${where} (in use; the previous container, which holds the state-file lock, may still hold it)` };
  }
  const graceMs = a.graceMs ?? PORT_IN_USE_GRACE_MS;
  const since = Math.max(a.firstInUseMs, a.locksHeldSinceMs);
  const waitedMs = a.nowMs - since;
  if (waitedMs >= graceMs) {
    const seconds = Math.round((a.nowMs - a.firstInUseMs) / 100) / 10;
    return {
      action: 'fail',
      message: `${where} is in use by another process (EADDRINUSE); this target's ${a.what} found it in use for ${seconds} s, ${Math.round(waitedMs / 100) / 10} s of them while holding its state-file locks, so it is no previous container of this subsystem: free the port or configure another`,
    };
  }
  return { action: 'wait', reason: `waiting for ${where} (in use; giving up in ${Math.ceil((graceMs - waitedMs) / 1000)} s unless it is freed)` };
}

export interface ListenOptions {
  what: string;
  address: string;
  port: number;
  log: Logger;
  locksHeldSinceMs(): number | undefined;
  /** The reason /readyz gives while waiting. */
  notReady?(reason: string): void;
  /** Stop trying (shutdown while waiting): the last error is thrown. */
  stopped?(): boolean;
  graceMs?: number;
  retryMs?: number;
  now?(): number;
}

/** Binds with `bind`, waiting or giving up (a StartupError) as decidePortInUse says. */
export async function listenWhenFree<T>(bind: () => Promise<T>, o: ListenOptions): Promise<T> {
  const now = o.now ?? Date.now;
  let firstInUseMs: number | undefined;
  for (let attempt = 0; ; attempt++) {
    try {
      return await bind();
    } catch (error) {
      if (o.stopped?.()) throw error;
      const nowMs = now();
      firstInUseMs ??= nowMs;
      const d = decidePortInUse({ what: o.what, address: o.address, port: o.port, error, firstInUseMs, locksHeldSinceMs: o.locksHeldSinceMs(), nowMs, graceMs: o.graceMs });
      if (d.action === 'fail') {
        o.log.error(d.message, { address: o.address, port: o.port, what: o.what });
        throw new StartupError(d.message, { cause: error });
      }
      o.notReady?.(d.reason);
      if (attempt % 10 === 0) o.log.warn(`${o.what}: address in use; waiting for it`, { address: o.address, port: o.port, reason: d.reason });
      await new Promise((r) => setTimeout(r, o.retryMs ?? PORT_RETRY_MS));
    }
  }
}
