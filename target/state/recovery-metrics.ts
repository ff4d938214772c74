// Recovery metrics (prom-client), labelled with the subsystem NQN as `subsystem`.
//
// nvmeof_target_recoveries_total and nvmeof_target_inflight_abandoned_total follow the cumulative
// counts kept in the state file's header (syncFromHeader adds the difference), so they count across
// restarts of the process rather than restarting at zero with it. One RecoveryMetrics per subsystem
// per registry; several subsystems share a registry's metrics.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { NamespaceChanges } from './namespace-changes.js';
import { RECOVERY_OUTCOMES, type HeaderRecord, type LastRecovery, type RecoveryOutcome } from './types.js';

const NAMESPACE_CHANGE_KINDS = ['added', 'removed', 'grown', 'shrunk', 'replaced'] as const;

type MetricCtor<M> = new (cfg: { name: string; help: string; labelNames: string[]; registers: Registry[]; buckets?: number[] }) => M;

function metric<M>(registry: Registry, Ctor: MetricCtor<M>, name: string, help: string, labelNames: string[], buckets?: number[]): M {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as unknown as M;
  return new Ctor({ name, help, labelNames, registers: [registry], ...(buckets ? { buckets } : {}) });
}

export class RecoveryMetrics {
  private readonly recoveries: Counter<string>;
  private readonly duration: Histogram<string>;
  private readonly restoredControllers: Gauge<string>;
  private readonly inflightAtRecovery: Gauge<string>;
  private readonly inflightAbandoned: Counter<string>;
  private readonly hostReconnect: Histogram<string>;
  private readonly lastShutdownClean: Gauge<string>;
  private readonly namespaceChanges: Gauge<string>;
  private readonly seen: Record<RecoveryOutcome, number> = { fresh: 0, clean: 0, restored: 0, corrupt: 0 };
  private seenAbandoned = 0;

  constructor(registry: Registry, readonly subsystem: string) {
    this.recoveries = metric(registry, Counter, 'nvmeof_target_recoveries_total', 'Start-ups by outcome of the state file (fresh, clean, restored, corrupt), across restarts', ['subsystem', 'outcome']);
    this.duration = metric(registry, Histogram, 'nvmeof_target_recovery_duration_seconds', 'Process start to serving', ['subsystem'], [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]);
    this.restoredControllers = metric(registry, Gauge, 'nvmeof_target_restored_controllers', 'Controllers restored from the state file at the last start', ['subsystem']);
    this.inflightAtRecovery = metric(registry, Gauge, 'nvmeof_target_inflight_at_recovery', 'In-flight command records found in the state file at the last start', ['subsystem']);
    this.inflightAbandoned = metric(registry, Counter, 'nvmeof_target_inflight_abandoned_total', 'In-flight commands abandoned at recovery (the host retries them), across restarts', ['subsystem']);
    this.hostReconnect = metric(registry, Histogram, 'nvmeof_target_host_reconnect_seconds', 'Serving to each returning host\'s Connect', ['subsystem'], [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300]);
    this.lastShutdownClean = metric(registry, Gauge, 'nvmeof_target_last_shutdown_clean', '1 if the previous process marked a clean shutdown, else 0', ['subsystem']);
    this.namespaceChanges = metric(registry, Gauge, 'nvmeof_target_namespace_changes', 'Namespaces the last start found changed from the state file (added, removed, grown, shrunk, replaced); the state was kept', ['subsystem', 'change']);
    for (const outcome of RECOVERY_OUTCOMES) this.recoveries.inc({ subsystem, outcome }, 0);
    this.inflightAbandoned.inc({ subsystem }, 0);
  }

  /** Brings the cumulative counters up to the header's counts (idempotent). */
  syncFromHeader(h: Pick<HeaderRecord, 'outcomes' | 'inflightAbandonedTotal'>): void {
    for (const outcome of RECOVERY_OUTCOMES) {
      const d = h.outcomes[outcome] - this.seen[outcome];
      if (d > 0) {
        this.recoveries.inc({ subsystem: this.subsystem, outcome }, d);
        this.seen[outcome] = h.outcomes[outcome];
      }
    }
    const d = h.inflightAbandonedTotal - this.seenAbandoned;
    if (d > 0) {
      this.inflightAbandoned.inc({ subsystem: this.subsystem }, d);
      this.seenAbandoned = h.inflightAbandonedTotal;
    }
  }

  /** The start-up that just finished (StateFile.recordRecovery wrote the same into the header). */
  observeRecovery(last: LastRecovery, namespaceChanges?: NamespaceChanges): void {
    const labels = { subsystem: this.subsystem };
    for (const change of NAMESPACE_CHANGE_KINDS) this.namespaceChanges.set({ ...labels, change }, namespaceChanges?.[change].length ?? 0);
    this.duration.observe(labels, last.durationMs / 1000);
    this.restoredControllers.set(labels, last.restoredControllers);
    this.inflightAtRecovery.set(labels, last.inflightFound);
    this.lastShutdownClean.set(labels, last.outcome === 'clean' ? 1 : 0);
  }

  /** A host whose controller was restored connected again, `seconds` after serving began. */
  observeHostReconnect(seconds: number): void {
    this.hostReconnect.observe({ subsystem: this.subsystem }, seconds);
  }
}
