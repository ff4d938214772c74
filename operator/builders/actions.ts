// What a reconcile decided to do, as data: the planners below are pure and return these; the
// reconciler (operator/controller/reconciler.ts) carries them out in order.
import type { KubernetesObject, V1Pod } from '@kubernetes/client-node';
import type { NvmeofSubsystemStatus } from '../api/types.js';

export type EventType = 'Normal' | 'Warning';

export type Action =
  /** Server-side apply (fieldManager nvmeof-operator, force). */
  | { kind: 'apply'; object: KubernetesObject }
  /** Create a pod by server-side apply; `cause` says why (for Events and metrics). */
  | { kind: 'createPod'; pod: V1Pod; cause: 'first' | 'lost' | 'rolled' }
  /** Delete an object by name, only if its UID is still `uid`. */
  | { kind: 'delete'; apiVersion: string; objectKind: string; name: string; uid?: string; why: string }
  /** Merge these annotations into a pod's (by a merge patch, only if its UID is still `uid`). */
  | { kind: 'annotatePod'; name: string; uid?: string; annotations: Record<string, string> }
  | { kind: 'addFinalizer' }
  | { kind: 'removeFinalizer' }
  /** Merge these labels into the resource's own (its other labels stay). */
  | { kind: 'setLabels'; labels: Record<string, string> }
  | { kind: 'event'; type: EventType; reason: string; message: string };

export interface Plan {
  actions: Action[];
  /** The status to apply, if the resource still exists afterwards. */
  status?: NvmeofSubsystemStatus;
  /** Reconcile again after this many milliseconds (besides any event). */
  requeueAfterMs?: number;
  /** Something failed that only time fixes: requeue with the key's backoff. */
  retry?: string;
}

export function deletePod(pod: V1Pod, why: string): Action {
  return { kind: 'delete', apiVersion: 'v1', objectKind: 'Pod', name: pod.metadata?.name ?? '', uid: pod.metadata?.uid, why };
}
