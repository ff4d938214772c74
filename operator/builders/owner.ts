// Owner references: every object the operator creates names its NvmeofSubsystem as controller, so the
// garbage collector removes it with the resource and events on it map back to the right work-queue key.
import type { V1OwnerReference } from '@kubernetes/client-node';
import { API_VERSION, KIND, type NvmeofSubsystem } from '../api/types.js';

export function ownerReference(sub: NvmeofSubsystem, blockOwnerDeletion = true): V1OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: sub.metadata.name ?? '',
    uid: sub.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion,
  };
}

/** The `namespace/name` key of the NvmeofSubsystem controlling an object, if any. */
export function ownerKey(obj: { metadata?: { namespace?: string; ownerReferences?: V1OwnerReference[] } }): string | undefined {
  const ref = obj.metadata?.ownerReferences?.find((r) => r.controller && r.kind === KIND && r.apiVersion.startsWith('nvmeof.io/'));
  if (!ref || !obj.metadata?.namespace) return undefined;
  return `${obj.metadata.namespace}/${ref.name}`;
}
