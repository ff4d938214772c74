// What node maintenance asks of a live subsystem's plan, beside the pod and its disruption budget (./pdb.ts,
// applied by planLive before any pod): the nvmeof.io/node label that lists a node's subsystems, the Warning
// event of a node NotReady for too long, and the event saying that a drain evicted the target. Pure;
// planLive (./plan.ts) appends what this returns.
import type { V1Pod } from '@kubernetes/client-node';
import type { Condition, NvmeofSubsystem } from '../api/types.js';
import type { Action } from './actions.js';
import { LABEL_NODE, labelValue } from './names.js';
import { NODE_NOT_READY_WARNING_MS, notReadyForMs, shortDuration, type NodeState } from './node-state.js';
import { isTerminating } from './observe.js';
import { evictionAllowed } from './pdb.js';
import { Reason } from './reasons.js';

export interface MaintenanceInput {
  sub: NvmeofSubsystem;
  now: string;
  /** Owned target pods (terminating ones included). */
  targetPods: readonly V1Pod[];
  /** The node that holds the subsystem's state (status.node, or its pod's node). */
  node?: NodeState;
  /** `namespace/name` of every subsystem whose state is on that node, this one included. */
  onNode?: readonly string[];
  /** The conditions planned now. */
  conditions: readonly Condition[];
}

export interface MaintenancePlan {
  actions: Action[];
  /** When a NotReady node will have lasted NODE_NOT_READY_WARNING_MS: reconcile then to say so. */
  requeueAfterMs?: number;
}

/** Subsystems named in one event at most; the rest are counted. */
const NAMED_MAX = 20;

function names(keys: readonly string[]): string {
  const sorted = [...keys].sort();
  const shown = sorted.slice(0, NAMED_MAX).join(', ');
  return sorted.length > NAMED_MAX ? `${shown} and ${sorted.length - NAMED_MAX} more` : shown;
}

/** The eviction API marks a pod it deletes (DisruptionTarget, reason EvictionByEvictionAPI; GA in 1.31). */
export function evictedBy(pod: V1Pod): string | undefined {
  const c = pod.status?.conditions?.find((x) => x.type === 'DisruptionTarget' && x.status === 'True');
  return c?.reason;
}

export function planMaintenance(m: MaintenanceInput): MaintenancePlan {
  const { sub, node } = m;
  const actions: Action[] = [];
  if (node && sub.metadata.labels?.[LABEL_NODE] !== labelValue(node.name)) {
    actions.push({ kind: 'setLabels', labels: { [LABEL_NODE]: labelValue(node.name) } });
  }

  // The pod status last named is the one a drain evicted: said once, on the reconcile that sees it go.
  const evicted = m.targetPods.find((p) => isTerminating(p) && p.metadata?.name === sub.status?.podName && evictedBy(p) === 'EvictionByEvictionAPI');
  if (evicted) {
    actions.push({
      kind: 'event', type: 'Normal', reason: 'TargetEvicted',
      message: `pod ${evicted.metadata?.name} was evicted${node ? ` from node ${node.name}` : ''} (spec.maintenance.allowEviction is ${evictionAllowed(sub)}): it stops gracefully, closing its state file clean; its successor starts on the same node once the node takes pods again`,
    });
  }

  let requeueAfterMs: number | undefined;
  if (node && !node.ready) {
    const prev = sub.status?.conditions?.find((c) => c.type === 'Degraded');
    const next = m.conditions.find((c) => c.type === 'Degraded');
    const forMs = notReadyForMs(node, m.now);
    if (next?.reason === Reason.NodeNotReady && prev?.reason !== Reason.NodeNotReady) {
      actions.push({
        kind: 'event', type: 'Warning', reason: Reason.NodeNotReady,
        message: `node ${node.name} has been NotReady for ${shortDuration(forMs)}${node.notReadyWhy ? ` (${node.notReadyWhy})` : ''}; the subsystems whose state is on it are not served: ${names(m.onNode?.length ? m.onNode : [`${sub.metadata.namespace}/${sub.metadata.name}`])}`,
      });
    } else if (forMs < NODE_NOT_READY_WARNING_MS && node.notReadySince) {
      requeueAfterMs = NODE_NOT_READY_WARNING_MS - forMs;
    }
  }
  return { actions, ...(requeueAfterMs !== undefined ? { requeueAfterMs } : {}) };
}
