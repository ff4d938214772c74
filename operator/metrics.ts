// The operator's Prometheus metrics, on a registry of its own (served at /metrics).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ConditionType, NvmeofSubsystem } from './api/types.js';
import { CONDITION_TYPES } from './builders/conditions.js';
import { CONFIG_APPLIED } from './builders/config-applied.js';
import { PROBE_RESULTS } from './controller/recovery-prober.js';

/** How many subsystems have each condition True. */
export function countConditions(subs: readonly NvmeofSubsystem[]): Record<ConditionType, number> {
  const out = Object.fromEntries([...CONDITION_TYPES, CONFIG_APPLIED].map((t) => [t, 0])) as Record<ConditionType, number>;
  for (const s of subs) {
    for (const c of s.status?.conditions ?? []) if (c.status === 'True' && c.type in out) out[c.type]++;
  }
  return out;
}

export interface MetricSources {
  queueDepth: () => number;
  subsystems: () => readonly NvmeofSubsystem[];
}

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconcileTotal: Counter<'result'>;
  readonly reconcileDuration: Histogram;
  readonly podsRecreated: Counter;
  readonly podsRolled: Counter;
  readonly configPublished: Counter;
  readonly informerRestarts: Counter<'informer'>;
  readonly recoveryProbes: Counter<'result'>;
  readonly leader: Gauge;

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    this.reconcileTotal = new Counter({ name: 'nvmeof_operator_reconcile_total', help: 'Reconciles of NvmeofSubsystems by result', labelNames: ['result'], registers });
    this.reconcileDuration = new Histogram({
      name: 'nvmeof_operator_reconcile_duration_seconds', help: 'Time one reconcile took',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers,
    });
    new Gauge({
      name: 'nvmeof_operator_queue_depth', help: 'Keys waiting in the work queue', registers,
      collect() { this.set(sources.queueDepth()); },
    });
    this.podsRecreated = new Counter({ name: 'nvmeof_operator_pods_recreated_total', help: 'Target pods created because the previous one was gone', registers });
    this.podsRolled = new Counter({ name: 'nvmeof_operator_pods_rolled_total', help: 'Target pods replaced because what the pod is built from changed', registers });
    this.configPublished = new Counter({
      name: 'nvmeof_operator_config_published_total', help: 'New configuration generations handed to running target pods (live, without a roll)', registers,
    });
    new Gauge({
      name: 'nvmeof_operator_subsystems', help: 'NvmeofSubsystems with the condition True', labelNames: ['condition'], registers,
      collect() {
        for (const [condition, n] of Object.entries(countConditions(sources.subsystems()))) this.set({ condition }, n);
      },
    });
    this.informerRestarts = new Counter({ name: 'nvmeof_operator_informer_restarts_total', help: 'Informer restarts after watch errors or stalls', labelNames: ['informer'], registers });
    this.recoveryProbes = new Counter({
      name: 'nvmeof_operator_recovery_probes_total', labelNames: ['result'], registers,
      help: 'GETs of ready targets\' /recovery by the prober, by result: changed (the subsystem was queued), unchanged, error, timeout',
    });
    for (const result of PROBE_RESULTS) this.recoveryProbes.inc({ result }, 0);
    this.leader = new Gauge({ name: 'nvmeof_operator_leader', help: '1 while this replica leads', registers });
    for (const result of ['success', 'requeue', 'error'] as const) this.reconcileTotal.inc({ result }, 0);
  }
}
