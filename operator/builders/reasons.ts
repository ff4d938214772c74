// Condition reasons, by name (CamelCase, as Kubernetes API conventions ask).
export const Reason = {
  // Ready=True
  TargetReady: 'TargetReady',
  // waiting for the pod
  PodCreating: 'PodCreating',
  PodPending: 'PodPending',
  TargetNotReady: 'TargetNotReady',
  TargetCrashLooping: 'TargetCrashLooping',
  Rolling: 'Rolling',
  // the pod waits for its node: from the scheduler's PodScheduled condition and the node's own state
  Unschedulable: 'Unschedulable',
  NodeCordoned: 'NodeCordoned',
  NodeNotReady: 'NodeNotReady',
  // the resource cannot be realised
  InvalidSpec: 'InvalidSpec',
  InvalidBacking: 'InvalidBacking',
  DeviceNotAllowed: 'DeviceNotAllowed',
  NamespaceNotPrivileged: 'NamespaceNotPrivileged',
  NodeNotFound: 'NodeNotFound',
  NodeGone: 'NodeGone',
  PortConflict: 'PortConflict',
  IdentityConflict: 'IdentityConflict',
  MemoryTooSmall: 'MemoryTooSmall',
  // the target exited and said why (its termination message)
  TargetFailed: 'TargetFailed',
  PortInUse: 'PortInUse',
  // a key file the target needs is missing or malformed (the Secret of spec.authentication)
  KeyInvalid: 'KeyInvalid',
  // advisory
  PlacementIgnored: 'PlacementIgnored',
  // the target took a namespace offline (a SIGBUS on its backing's mapping): namespace-offline.ts
  NamespaceOffline: 'NamespaceOffline',
  // lifecycle
  Deleting: 'Deleting',
  // a deletion step the API refuses or a cleanup pod that fails: the finalizer holds until it is fixed
  CleanupBlocked: 'CleanupBlocked',
  Reconciled: 'Reconciled',
  AsExpected: 'AsExpected',
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

/** Why a resource cannot be realised; becomes Ready=False and Degraded=True with this reason. */
export interface Problem {
  reason: Reason;
  message: string;
}
