// The NvmeofSubsystem resource (nvmeof.io/v1alpha1) as TypeScript types.
// The CRD in crds/nvmeofsubsystems.nvmeof.io.yaml is their one source: ./generated.ts is written from its
// schema, descriptions included (`npm run generate`, ./codegen.ts), and exported here under the names the
// rest of the operator imports.
import type { V1ObjectMeta } from '@kubernetes/client-node';
import type { Condition, RecoveryOutcomes } from './generated.js';

export type {
  BackingSpec, BlockSize, Condition, ConditionStatus, ConfigStatus, Durability, ListenerSpec, MaintenanceSpec, NamespaceIdentityStatus, NamespaceSpec, NvmeofSubsystem,
  NvmeofSubsystemSpec, NvmeofSubsystemStatus, PersistenceSpec, PlacementSpec, ReclaimPolicy, RecoveryOutcomes, RecoveryStatus,
  OfflineNamespaceStatus, RejectedConfigStatus, RetiredNamespaceStatus,
} from './generated.js';

export const GROUP = 'nvmeof.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'NvmeofSubsystem';
export const PLURAL = 'nvmeofsubsystems';

export type ConditionType = Condition['type'];
export type RecoveryOutcome = keyof RecoveryOutcomes;

/** status.retiredNamespaces keeps at most this many (the CRD's maxItems), dropping the oldest. */
export const RETIRED_NAMESPACES_MAX = 256;

/** Finalizer held while reclaimPolicy is Delete, until the subsystem's directory is removed. */
export const FINALIZER = 'nvmeof.io/cleanup';

/** `namespace/name`, the work-queue key and the name used in logs. */
export function keyOf(obj: { metadata?: V1ObjectMeta }): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}
