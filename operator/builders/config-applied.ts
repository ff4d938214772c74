// Whether the target serves the configuration of the resource's current generation (issue 20): the
// ConfigApplied condition, status.config and the Warning event of a refused change, from what the
// target's GET /recovery says (`config`: issue 20's contract, 3). Pure.
//   True    ConfigServed    the target serves generation >= metadata.generation;
//   False   ConfigRejected  the target refused the newest configuration as a whole (its message names the
//                           field) and keeps serving the one before;
//   False   ConfigPending   the new configuration is on its way (the ConfigMap, the kubelet, the target);
//   Unknown ConfigUnknown   no ready target to ask, or one that reports no generation (a pod of a
//                           release before live configuration, replaced at the next change).
import type { Condition, ConditionStatus, ConfigStatus } from '../api/types.js';
import type { Action } from './actions.js';

export const CONFIG_APPLIED = 'ConfigApplied';

/**
 * How soon a subsystem whose configuration is on its way is read again: nothing tells the operator when
 * the target takes it (the kubelet refreshes the file within a second or two of the pod's update).
 */
export const CONFIG_PENDING_POLL_MS = 1000;
/**
 * How soon a subsystem whose newest configuration the target refused is read again: a refusal is not always
 * final. The target reads a refused configuration again every 2 s and applies it once the key files it names
 * appear (a key named in spec.authentication before the kubelet brought it from the Secret), and nothing
 * tells the operator; without this, status said ConfigRejected for up to a minute (READY_REFRESH_MS) after
 * the target took it (test/operator/auth.test.ts measured 60.5 s).
 */
export const CONFIG_REJECTED_POLL_MS = 5000;
export const ConfigReason = {
  ConfigServed: 'ConfigServed',
  ConfigRejected: 'ConfigRejected',
  ConfigPending: 'ConfigPending',
  ConfigUnknown: 'ConfigUnknown',
} as const;

export interface ConfigObservation {
  /** The generation of the configuration the operator built (metadata.generation). */
  desired: number;
  /** What the ready target reported now; undefined when it was not asked or did not say. */
  served?: ConfigStatus;
  /** A ready target answered /recovery without `config`: it predates live configuration. */
  notReported?: boolean;
  /** The pod that serves, if one is ready. */
  podName?: string;
}

export function configTriple(o: ConfigObservation): { status: ConditionStatus; reason: string; message: string } {
  const s = o.served;
  if (!o.podName) return { status: 'Unknown', reason: ConfigReason.ConfigUnknown, message: 'no ready target pod to ask' };
  if (!s) {
    return {
      status: 'Unknown', reason: ConfigReason.ConfigUnknown,
      message: o.notReported
        ? `the target in pod ${o.podName} reports no configuration generation (a release before live configuration): the next change of the spec replaces the pod`
        : `could not read the configuration generation of the target in pod ${o.podName}`,
    };
  }
  if (s.servedGeneration >= o.desired) {
    return { status: 'True', reason: ConfigReason.ConfigServed, message: `the target in pod ${o.podName} serves generation ${s.servedGeneration}` };
  }
  if (s.rejected && s.rejected.generation >= o.desired) {
    return {
      status: 'False', reason: ConfigReason.ConfigRejected,
      message: `the target in pod ${o.podName} refused generation ${s.rejected.generation}: ${s.rejected.error}; it keeps serving generation ${s.servedGeneration}`,
    };
  }
  return {
    status: 'False', reason: ConfigReason.ConfigPending,
    message: `the target in pod ${o.podName} serves generation ${s.servedGeneration}; generation ${o.desired} is on its way`,
  };
}

/** The ConfigApplied condition; it keeps its lastTransitionTime while its status stays the same. */
export function configAppliedCondition(prev: readonly Condition[] | undefined, o: ConfigObservation, now: string): Condition {
  const t = configTriple(o);
  const before = prev?.find((c) => c.type === CONFIG_APPLIED);
  return {
    type: CONFIG_APPLIED,
    ...t,
    lastTransitionTime: before && before.status === t.status ? before.lastTransitionTime : now,
    observedGeneration: o.desired,
  };
}

/** One Warning per refused generation: when the target's refusal is new since the status before. */
export function rejectionEvent(prev: ConfigStatus | undefined, now: ConfigStatus | undefined, podName: string | undefined): Action[] {
  const r = now?.rejected;
  if (!r || (prev?.rejected?.generation === r.generation && prev.rejected.at === r.at)) return [];
  return [{
    kind: 'event', type: 'Warning', reason: ConfigReason.ConfigRejected,
    message: `the target in pod ${podName ?? '?'} refused generation ${r.generation} and keeps serving generation ${now.servedGeneration}: ${r.error}`,
  }];
}
