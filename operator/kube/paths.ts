// REST paths the operator builds itself: the collections its informers list and watch, and the
// leader election's Lease. Writes find their paths through client-node (cluster.ts).
import { GROUP, PLURAL, VERSION } from '../api/types.js';

const CORE_PLURALS: Record<string, string> = {
  Pod: 'pods', ConfigMap: 'configmaps', Service: 'services', Namespace: 'namespaces', Node: 'nodes',
};

function inNamespace(namespace?: string): string {
  return namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
}

/** The collection of a core kind, in `namespace` or in all. */
export function corePath(kind: string, namespace?: string): string {
  const plural = CORE_PLURALS[kind];
  if (!plural) throw new Error(`no REST path known for kind ${kind}`);
  return `/api/v1${inNamespace(namespace)}/${plural}`;
}

/** The NvmeofSubsystems, in `namespace` or in all. */
export function subsystemPath(namespace?: string): string {
  return `/apis/${GROUP}/${VERSION}${inNamespace(namespace)}/${PLURAL}`;
}

/** The PodDisruptionBudgets (policy/v1), in `namespace` or in all. */
export function budgetPath(namespace?: string): string {
  return `/apis/policy/v1${inNamespace(namespace)}/poddisruptionbudgets`;
}

export function leasePath(namespace: string, name?: string): string {
  return `/apis/coordination.k8s.io/v1${inNamespace(namespace)}/leases${name ? `/${encodeURIComponent(name)}` : ''}`;
}
