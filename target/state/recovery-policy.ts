// Recovery decisions as pure functions: what to do with the file found on start, with the in-flight
// commands it records, with the controllers it holds, and which cntlid comes next.
import { CNTLID_MAX, CNTLID_MIN, LAYOUT_VERSION, OLDEST_MIGRATABLE_LAYOUT } from './layout.js';
import type { NamespaceChanges } from './namespace-changes.js';
import type { ControllerRecord, InflightRecord } from './types.js';

/** What open() learned about the file before deciding. Absent fields were not reached. */
export interface FileFacts {
  exists: boolean;
  /** Why no header could be read: shorter than the header, garbage, wrong magic, torn in both slots. */
  headerProblem?: string;
  layoutVersion?: number;
  /** Digest in the file equals the digest of the configured identity. */
  identityMatches?: boolean;
  /** NQN the file says it belongs to, for the message (layout 2 and later). */
  fileNqn?: string;
  /** The file's NQN is the configured one (layout 2 and later; layout 1 did not record it). */
  nqnMatches?: boolean;
  /**
   * Set when the digests differ but the file is this subsystem's all the same: the digest of the
   * configured NQN over the file's own namespace records is the file's digest. What changed from
   * those records to the configured namespaces (namespace-changes.ts).
   */
  namespaceChanges?: NamespaceChanges;
  /** Why the body could not be read: truncated, bad section table, a damaged or missing record. */
  bodyProblem?: string;
  cleanShutdown?: boolean;
  /** Section sizes equal the capacities asked for. */
  capacityMatches?: boolean;
}

export type FileDecision =
  | { action: 'create'; outcome: 'fresh' }
  | { action: 'set-aside'; outcome: 'corrupt'; reason: string }
  | { action: 'refuse'; reason: string }
  | { action: 'use' | 'migrate' | 'resize'; outcome: 'clean' | 'restored'; namespaceChanges?: NamespaceChanges };

/**
 * fresh: no file. corrupt: a file this binary cannot trust (set aside, start fresh). refuse: a file
 * from a newer layout (kept untouched; serving would discard what a newer binary wrote). Otherwise
 * clean (the previous process marked a clean shutdown) or restored (it died), used as is, migrated
 * from an older layout, or rewritten with new capacities or a new namespace set. A file of the same
 * NQN whose namespaces changed is this subsystem's state, never another's: it is kept (the decision
 * carries the changes, so per-namespace state of removed or replaced namespaces can go).
 */
export function classifyStateFile(f: FileFacts, current = LAYOUT_VERSION, oldest = OLDEST_MIGRATABLE_LAYOUT): FileDecision {
  if (!f.exists) return { action: 'create', outcome: 'fresh' };
  if (f.headerProblem !== undefined) return { action: 'set-aside', outcome: 'corrupt', reason: f.headerProblem };
  const v = f.layoutVersion;
  if (v === undefined) return { action: 'set-aside', outcome: 'corrupt', reason: 'no layout version' };
  if (v > current) {
    return {
      action: 'refuse',
      reason: `state file has layout version ${v}, newer than this binary's ${current}: refusing to serve rather than discard it; run a newer target or move the file aside`,
    };
  }
  if (v < oldest) return { action: 'set-aside', outcome: 'corrupt', reason: `layout version ${v} is older than any this binary migrates (${oldest})` };
  const changes = f.namespaceChanges;
  if (f.identityMatches === false && changes === undefined) {
    if (f.nqnMatches) return { action: 'set-aside', outcome: 'corrupt', reason: 'identity digest differs from the digest of the file\'s own NQN and namespace records: damaged' };
    const whose = f.fileNqn ? ` (the file belongs to ${f.fileNqn})` : '';
    return { action: 'set-aside', outcome: 'corrupt', reason: `identity digest differs: another subsystem's state${whose}` };
  }
  if (f.bodyProblem !== undefined) return { action: 'set-aside', outcome: 'corrupt', reason: f.bodyProblem };
  if (f.identityMatches !== true && changes === undefined) return { action: 'set-aside', outcome: 'corrupt', reason: 'identity digest not read' };
  const outcome = f.cleanShutdown ? 'clean' : 'restored';
  const ns = changes ? { namespaceChanges: changes } : {};
  if (v < current) return { action: 'migrate', outcome, ...ns };
  // A new namespace set changes the namespace and reservation sections: the file is rewritten.
  return { action: f.capacityMatches === false || changes ? 'resize' : 'use', outcome, ...ns };
}

export type InflightPolicy = 'abandon';

/**
 * Settles the in-flight commands found on start. `abandon`: every one is abandoned (logged and
 * counted), none is replayed. The host times them out and retries them on its new association;
 * replaying a write here could land after, and overwrite, the host's newer retried write of the
 * same blocks. A command done but not acknowledged is abandoned too: its retry is idempotent.
 */
export function settleInflight(records: readonly InflightRecord[], policy: InflightPolicy = 'abandon'): { abandon: InflightRecord[]; replay: InflightRecord[] } {
  switch (policy) {
    case 'abandon':
      return { abandon: [...records], replay: [] };
  }
}

/** One log line's worth of an in-flight record. */
export function describeInflight(r: InflightRecord): Record<string, unknown> {
  return { qpairSlot: r.qpairSlot, cid: r.cid, opcode: r.opcode, nsid: r.nsid, slba: r.slba, nlb: r.nlb, stage: r.stage };
}

/**
 * Controllers to keep for their host and controllers to drop: a host that has not been heard from
 * for longer than the controller-loss time has given up on its controller (Linux: ctrl_loss_tmo), so
 * its cntlid and slot can go. A last-seen time in the future (a clock step) counts as seen now. A
 * negative controller-loss time means hosts retry forever: keep all.
 */
export function controllersToKeep<T extends { record: Pick<ControllerRecord, 'lastSeenMs'> }>(
  controllers: readonly T[], nowMs: number, ctrlLossTmoMs: number,
): { keep: T[]; drop: T[] } {
  const keep: T[] = [];
  const drop: T[] = [];
  for (const c of controllers) {
    const silentMs = Math.max(0, nowMs - c.record.lastSeenMs);
    (ctrlLossTmoMs >= 0 && silentMs > ctrlLossTmoMs ? drop : keep).push(c);
  }
  return { keep, drop };
}

/**
 * The next cntlid: the first at or after `next` (wrapping CNTLID_MAX to CNTLID_MIN) that no live
 * controller holds. Monotonic, so a cntlid a host may still hold (its controller not yet dropped)
 * is never handed out again; wraps only after 65519 allocations. Undefined when all are live.
 */
export function nextCntlid(next: number, live: ReadonlySet<number>): { cntlid: number; next: number } | undefined {
  let c = Number.isInteger(next) && next >= CNTLID_MIN && next <= CNTLID_MAX ? next : CNTLID_MIN;
  for (let tries = 0; tries <= CNTLID_MAX - CNTLID_MIN; tries++) {
    if (!live.has(c)) return { cntlid: c, next: c === CNTLID_MAX ? CNTLID_MIN : c + 1 };
    c = c === CNTLID_MAX ? CNTLID_MIN : c + 1;
  }
  return undefined;
}
