// The target's GET /recovery document, checked field by field and mapped to status.recovery:
//   { "count": n, "outcomes": {"fresh":n,"clean":n,"restored":n,"corrupt":n}, "bootCount": n,
//     "last": {"outcome":"restored","startedAt":"<RFC 3339>","durationSeconds":0.12,
//              "restoredControllers":n,"inflightAbandoned":n},
//     "workerRestarts": n, "resume": {"workerHangs": n, ...} }   (the last two with in-pod resume only)
//     "config": {"generation": n, "appliedAt": "<RFC 3339>",
//                "rejected": {"generation": n, "error": "...", "at": "<RFC 3339>"}}   (issue 20's contract, 3)
//     "offline": [{"subsystem": nqn, "nsid": n, "path": "...", "reason": "...", "since": "<RFC 3339>"}]   (issue 19)
// The counters are the target's own, kept in its state file, so recoveries between two reads by the
// operator are counted. A document that does not match is refused whole (never half-copied).
import type { ConfigStatus, OfflineNamespaceStatus, RecoveryOutcome, RecoveryStatus } from '../api/types.js';

const OUTCOMES: RecoveryOutcome[] = ['fresh', 'clean', 'restored', 'corrupt'];

export class RecoveryFormatError extends Error {}

function count(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new RecoveryFormatError(`${field} must be a non-negative integer`);
  return v;
}

function obj(v: unknown, field: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new RecoveryFormatError(`${field} must be an object`);
  return v as Record<string, unknown>;
}

export function parseRecovery(doc: unknown): RecoveryStatus {
  const d = obj(doc, 'recovery');
  const o = obj(d.outcomes, 'outcomes');
  const outcomes = Object.fromEntries(OUTCOMES.map((k) => [k, count(o[k] ?? 0, `outcomes.${k}`)])) as Record<RecoveryOutcome, number>;
  const status: RecoveryStatus = { count: count(d.count, 'count'), bootCount: count(d.bootCount, 'bootCount'), outcomes };
  if (d.last !== undefined && d.last !== null) {
    const l = obj(d.last, 'last');
    if (!OUTCOMES.includes(l.outcome as RecoveryOutcome)) throw new RecoveryFormatError(`last.outcome must be one of ${OUTCOMES.join(', ')}`);
    if (typeof l.startedAt !== 'string' || Number.isNaN(Date.parse(l.startedAt))) throw new RecoveryFormatError('last.startedAt must be an RFC 3339 time');
    if (typeof l.durationSeconds !== 'number' || !Number.isFinite(l.durationSeconds) || l.durationSeconds < 0) {
      throw new RecoveryFormatError('last.durationSeconds must be a non-negative number');
    }
    status.lastOutcome = l.outcome as RecoveryOutcome;
    status.lastTime = new Date(l.startedAt).toISOString();
    status.lastDurationSeconds = Math.round(l.durationSeconds * 1e6) / 1e6;
    status.lastRestoredControllers = count(l.restoredControllers ?? 0, 'last.restoredControllers');
    status.lastInflightAbandoned = count(l.inflightAbandoned ?? 0, 'last.inflightAbandoned');
  }
  // In-pod resume: the worker processes the supervisor replaced (counted in its rings, across workers).
  if (d.workerRestarts !== undefined) status.workerRestarts = count(d.workerRestarts, 'workerRestarts');
  // A target from before the watchdog has no workerHangs: the field is left out, not guessed.
  const resume = d.resume === undefined ? undefined : obj(d.resume, 'resume');
  if (resume?.workerHangs !== undefined) status.workerHangs = count(resume.workerHangs, 'resume.workerHangs');
  return status;
}

function time(v: unknown, field: string): string {
  if (typeof v !== 'string' || Number.isNaN(Date.parse(v))) throw new RecoveryFormatError(`${field} must be an RFC 3339 time`);
  return new Date(v).toISOString();
}

/**
 * The configuration generation the target serves, mapped to status.config; undefined from a target of a
 * release before live configuration, which has no `config`.
 */
export function parseServedConfig(doc: unknown): ConfigStatus | undefined {
  const d = obj(doc, 'recovery');
  if (d.config === undefined) return undefined;
  const c = obj(d.config, 'config');
  const status: ConfigStatus = { servedGeneration: count(c.generation, 'config.generation') };
  if (c.appliedAt !== undefined) status.appliedAt = time(c.appliedAt, 'config.appliedAt');
  if (c.rejected !== undefined && c.rejected !== null) {
    const r = obj(c.rejected, 'config.rejected');
    if (typeof r.error !== 'string') throw new RecoveryFormatError('config.rejected.error must be a string');
    status.rejected = { generation: count(r.generation, 'config.rejected.generation'), error: r.error, at: time(r.at, 'config.rejected.at') };
  }
  return status;
}

/**
 * The namespaces the target took offline, mapped to status.offlineNamespaces (the pod serves one subsystem:
 * `subsystem` is not kept); undefined from a target of a release before the list, which says nothing either way.
 */
export function parseOfflineNamespaces(doc: unknown): OfflineNamespaceStatus[] | undefined {
  const d = obj(doc, 'recovery');
  if (d.offline === undefined) return undefined;
  if (!Array.isArray(d.offline)) throw new RecoveryFormatError('offline must be a list');
  return d.offline.map((v, i) => {
    const o = obj(v, `offline[${i}]`);
    if (typeof o.reason !== 'string') throw new RecoveryFormatError(`offline[${i}].reason must be a string`);
    if (o.path !== undefined && typeof o.path !== 'string') throw new RecoveryFormatError(`offline[${i}].path must be a string`);
    return { nsid: count(o.nsid, `offline[${i}].nsid`), ...(o.path !== undefined ? { path: o.path as string } : {}), reason: o.reason, since: time(o.since, `offline[${i}].since`) };
  });
}
