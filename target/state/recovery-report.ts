// The /recovery JSON, built from the state file's header. The operator copies it into the
// NvmeofSubsystem's status; its schema is documented in target/README.md ("State file").
import { describeNamespaceChanges, hasNamespaceChanges, type NamespaceChanges } from './namespace-changes.js';
import { RECOVERY_OUTCOMES, type HeaderRecord, type RecoveryOutcome } from './types.js';

export interface RecoveryReport {
  /** Recoveries of a previous process's state, cumulative across restarts: clean + restored. */
  count: number;
  outcomes: Record<RecoveryOutcome, number>;
  bootCount: number;
  /** The last recorded start-up, or null before the first one finished. */
  last: {
    outcome: RecoveryOutcome;
    /** RFC 3339, UTC. */
    startedAt: string;
    durationSeconds: number;
    restoredControllers: number;
    inflightAbandoned: number;
    /**
     * Only when that start found the state file's namespaces changed (the state was kept): what changed,
     * as one line and field by field. Namespaces removed or replaced lost their reservations.
     */
    namespaceChanges?: NamespaceChanges & { summary: string };
  } | null;
}

/** `namespaceChanges`: what the start recorded in `h.last` found changed (kept in memory, not in the file). */
export function buildRecoveryReport(h: Pick<HeaderRecord, 'outcomes' | 'bootCount' | 'last'>, namespaceChanges?: NamespaceChanges): RecoveryReport {
  const outcomes = Object.fromEntries(RECOVERY_OUTCOMES.map((o) => [o, h.outcomes[o]])) as Record<RecoveryOutcome, number>;
  const l = h.last;
  return {
    count: outcomes.clean + outcomes.restored,
    outcomes,
    bootCount: h.bootCount,
    last: l
      ? {
          outcome: l.outcome,
          startedAt: new Date(l.startedAtMs).toISOString(),
          durationSeconds: Math.round(l.durationMs) / 1000,
          restoredControllers: l.restoredControllers,
          inflightAbandoned: l.inflightAbandoned,
          ...(namespaceChanges && hasNamespaceChanges(namespaceChanges)
            ? { namespaceChanges: { summary: describeNamespaceChanges(namespaceChanges), ...namespaceChanges } }
            : {}),
        }
      : null,
  };
}
