// Owner references: every object the operator creates names its NvmeofSubsystem as controller, so the
// garbage collector removes it with the resource and events on it map back to the right work-queue key.
import type { V1ObjectMeta, V1OwnerReference } from '@kubernetes/client-node';
import { API_VERSION, KIND, type NvmeofSubsystem } from '../api/types.js';
import { labelsFor, type Role } from './names.js';

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

/** Metadata of an object the subsystem owns: in its namespace, labelled with its role, controlled by it. */
export function ownedMetadata(sub: NvmeofSubsystem, name: string, role: Role): V1ObjectMeta {
  return { name, namespace: sub.metadata.namespace, labels: labelsFor(sub, role), ownerReferences: [ownerReference(sub)] };
}

/** The `namespace/name` key of the NvmeofSubsystem controlling an object, if any. */
export function ownerKey(obj: { metadata?: { namespace?: string; ownerReferences?: V1OwnerReference[] } }): string | undefined {
  const ref = obj.metadata?.ownerReferences?.find((r) => r.controller && r.kind === KIND && r.apiVersion.startsWith('nvmeof.io/'));
  if (!ref || !obj.metadata?.namespace) return undefined;
  return `${obj.metadata.namespace}/${ref.name}`;
}
