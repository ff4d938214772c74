// Namespaces the running target took offline (issue 19: a SIGBUS on a backing's mapping, the file truncated
// under it or a failing device; every I/O of that namespace fails until a target opens the backing again),
// from its GET /recovery `offline`: status.offlineNamespaces, the Degraded condition (reason NamespaceOffline)
// and one Warning event per namespace going offline. Pure.
// Invariants: the list belongs to the target process that reported it, so it is kept between reads only while
// the same pod is there (a read that failed), and dropped with the pod (its successor opens the backings
// again and reports its own); an event is emitted for an entry (nsid, since) not in the status before, so a
// namespace that stays offline is announced once, and again only if a later process takes it offline anew.
import type { OfflineNamespaceStatus } from '../api/types.js';
import type { Action } from './actions.js';
import { Reason, type Problem } from './reasons.js';

export interface OfflineObservation {
  /** What the target reported now; undefined when /recovery was not read or predates the list. */
  read?: OfflineNamespaceStatus[];
  /** /recovery answered now (with or without the list). */
  answered: boolean;
  /** The target pod now, and the one status names (sub.status.podName). */
  podName?: string;
  statusPodName?: string;
  /** status.offlineNamespaces before. */
  before?: OfflineNamespaceStatus[];
}

/** status.offlineNamespaces now: undefined when none is offline (the field is left out). */
export function offlineNow(o: OfflineObservation): OfflineNamespaceStatus[] | undefined {
  const list = o.answered ? o.read : o.podName !== undefined && o.podName === o.statusPodName ? o.before : undefined;
  return list?.length ? list : undefined;
}

const named = (n: OfflineNamespaceStatus): string => `namespace ${n.nsid}${n.path ? ` (${n.path})` : ''}`;

/** Degraded=True with reason NamespaceOffline while any namespace is offline. */
export function offlineProblem(offline: readonly OfflineNamespaceStatus[] | undefined, podName: string | undefined): Problem | undefined {
  if (!offline?.length) return undefined;
  const each = offline.map((n) => `${named(n)} is offline since ${n.since}: ${n.reason}`).join('; ');
  return {
    reason: Reason.NamespaceOffline,
    message: `${each}; the target in pod ${podName ?? '?'} fails every read and write of ${offline.length > 1 ? 'these namespaces' : 'it'} and serves the others: fix the backing, then delete the pod so that a new target opens it`,
  };
}

/** One Warning NamespaceOffline per namespace that went offline since the status before. */
export function offlineEvents(before: readonly OfflineNamespaceStatus[] | undefined, now: readonly OfflineNamespaceStatus[] | undefined, podName: string | undefined): Action[] {
  const seen = new Set((before ?? []).map((n) => `${n.nsid}@${n.since}`));
  return (now ?? []).filter((n) => !seen.has(`${n.nsid}@${n.since}`)).map((n) => ({
    kind: 'event', type: 'Warning', reason: Reason.NamespaceOffline,
    message: `${named(n)} went offline in the target in pod ${podName ?? '?'}: ${n.reason}`,
  }));
}
