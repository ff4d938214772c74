// The caches a reconcile reads (informer stores; fakes in tests) and the lookups of owned objects.
import type { ObjectCache, V1ConfigMap, V1Namespace, V1Node, V1Pod, V1PodDisruptionBudget, V1Service } from '@kubernetes/client-node';
import type { NvmeofSubsystem } from '../api/types.js';
import { LABEL_ROLE, LABEL_SUBSYSTEM_UID, type Role } from '../builders/names.js';

export interface Caches {
  subsystems: ObjectCache<NvmeofSubsystem>;
  pods: ObjectCache<V1Pod>;
  configMaps: ObjectCache<V1ConfigMap>;
  services: ObjectCache<V1Service>;
  budgets: ObjectCache<V1PodDisruptionBudget>;
  nodes: ObjectCache<V1Node>;
  namespaces: ObjectCache<V1Namespace>;
}

type Labelled = { metadata?: { labels?: Record<string, string>; ownerReferences?: Array<{ uid: string; controller?: boolean }> } };

/** Objects of `role` controlled by the subsystem with this uid (label and owner reference both agree). */
export function ownedBy<T extends Labelled>(objs: readonly T[], uid: string | undefined, role: Role): T[] {
  if (!uid) return [];
  return objs.filter((o) =>
    o.metadata?.labels?.[LABEL_SUBSYSTEM_UID] === uid &&
    o.metadata?.labels?.[LABEL_ROLE] === role &&
    (o.metadata?.ownerReferences ?? []).some((r) => r.controller && r.uid === uid));
}
