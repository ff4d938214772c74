// The desired PodDisruptionBudget of a subsystem's target pod: an eviction (kubectl drain, the cluster
// autoscaler, a node upgrade) of a serving target is refused unless the resource opts in
// (spec.maintenance.allowEviction), so a drain stops and names the pod instead of silently taking the
// subsystem's hosts off their storage. A deletion is not an eviction: the budget never holds the
// operator's own replacements, nor `kubectl delete pod`.
//
// Invariants:
// - the budget is not part of the pod's spec hash, and its selector is the two labels every target pod
//   has carried since the first release (subsystem uid and role): existing pods are covered as they
//   are, so adding the budget to a running subsystem rolls no pod;
// - minAvailable is an integer (1, or 0 with the opt-in), never maxUnavailable or a percentage: those
//   make the disruption controller look for the pods' controller's scale subresource, which an
//   NvmeofSubsystem has not, and it would then refuse every eviction with a Warning
//   (pkg/controller/disruption/disruption.go, getExpectedScale);
// - unhealthyPodEvictionPolicy AlwaysAllow: a target that is not Ready serves no host, so evicting it
//   takes nothing down, and a crash-looping target never holds a drain up (the default, IfHealthyBudget,
//   would: with one pod the budget is never healthy while that pod is not ready).
import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { NvmeofSubsystem } from '../api/types.js';
import { budgetName, LABEL_ROLE, LABEL_SUBSYSTEM_UID } from './names.js';
import { ownedMetadata } from './owner.js';

export const PDB_API_VERSION = 'policy/v1';

/** Whether the resource lets an eviction stop its target (spec.maintenance.allowEviction). */
export function evictionAllowed(sub: NvmeofSubsystem): boolean {
  return sub.spec?.maintenance?.allowEviction === true;
}

export function desiredBudget(sub: NvmeofSubsystem): V1PodDisruptionBudget {
  return {
    apiVersion: PDB_API_VERSION,
    kind: 'PodDisruptionBudget',
    metadata: ownedMetadata(sub, budgetName(sub.metadata.name ?? ''), 'budget'),
    spec: {
      minAvailable: evictionAllowed(sub) ? 0 : 1,
      selector: { matchLabels: { [LABEL_SUBSYSTEM_UID]: sub.metadata.uid ?? '', [LABEL_ROLE]: 'target' } },
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    },
  };
}
