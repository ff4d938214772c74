// The NvmeofSubsystem resource (nvmeof.io/v1alpha1) as TypeScript types.
// The CRD in crds/nvmeofsubsystems.nvmeof.io.yaml is the authority on what the apiserver accepts;
// these types mirror it field for field (a test checks that the schema names the same fields).
import type { V1ObjectMeta, V1ResourceRequirements, V1Toleration } from '@kubernetes/client-node';

export const GROUP = 'nvmeof.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'NvmeofSubsystem';
export const PLURAL = 'nvmeofsubsystems';

export type Durability = 'process' | 'node';
export type ReclaimPolicy = 'Retain' | 'Delete';
export type BlockSize = 512 | 4096;

/** Exactly one member is set (the CRD enforces it). */
export interface BackingSpec {
  /** A regular file under the subsystem's own directory, by a relative path. */
  file?: { path: string };
  /** A block device; must be on the operator's allow-list. */
  block?: { device: string };
  /** Volatile memory: contents and identity are new at every start. */
  memory?: Record<string, never>;
}

export interface NamespaceSpec {
  nsid: number;
  /** A Kubernetes quantity ("1Gi", "512Mi", 1048576); required for file and memory backings. */
  size?: string | number;
  blockSize?: BlockSize;
  backing: BackingSpec;
  uuid?: string;
  nguid?: string;
  eui64?: string;
}

export interface ListenerSpec {
  port?: number;
  metricsPort?: number;
  hostNetwork?: boolean;
}

export interface PlacementSpec {
  nodeSelector?: Record<string, string>;
  tolerations?: V1Toleration[];
  nodeName?: string;
}

export interface PersistenceSpec {
  durability?: Durability;
  /**
   * In-pod resume: the target runs under its supervisor, which keeps the hosts' TCP connections open while
   * a crashed target process is replaced and takes them over (target/README.md, "In-pod resume").
   * Refused with a memory namespace (the CRD's rule): its data dies with the process.
   */
  inPodResume?: boolean;
}

export interface NvmeofSubsystemSpec {
  nqn?: string;
  serial?: string;
  model?: string;
  listener?: ListenerSpec;
  namespaces: NamespaceSpec[];
  hosts?: string[];
  allowAnyHost?: boolean;
  persistence?: PersistenceSpec;
  placement?: PlacementSpec;
  resources?: V1ResourceRequirements;
  reclaimPolicy?: ReclaimPolicy;
}

export type ConditionType = 'Ready' | 'Progressing' | 'Degraded';
export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** metav1.Condition */
export interface Condition {
  type: ConditionType;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export type RecoveryOutcome = 'fresh' | 'clean' | 'restored' | 'corrupt';

/** Copied from the target's GET /recovery; its counters are kept by the target in its state file. */
export interface RecoveryStatus {
  count: number;
  bootCount: number;
  outcomes: Record<RecoveryOutcome, number>;
  lastOutcome?: RecoveryOutcome;
  lastTime?: string;
  lastDurationSeconds?: number;
  lastRestoredControllers?: number;
  lastInflightAbandoned?: number;
  /** With in-pod resume: target processes replaced inside the pod, its container never restarted. */
  workerRestarts?: number;
  /** With in-pod resume: of those, workers its supervisor killed because they had hung. */
  workerHangs?: number;
}

export interface NamespaceIdentityStatus {
  nsid: number;
  /** Memory namespaces get new identifiers at every start, so none is recorded. */
  volatile?: boolean;
  uuid?: string;
  nguid?: string;
  eui64?: string;
  /**
   * How many times this nsid was removed and added back; 0 (absent) for the first. Derived identifiers of a
   * re-added nsid include it, so a namespace added back over other data never shows the old identity.
   */
  incarnation?: number;
  /** What the identifiers were issued for. */
  backing?: BackingSpec;
}

/** A namespace removed from spec, with the identity it had (status.retiredNamespaces). */
export interface RetiredNamespaceStatus {
  nsid: number;
  incarnation?: number;
  uuid?: string;
  nguid?: string;
  eui64?: string;
  backing?: BackingSpec;
  /** RFC 3339: when the operator saw it removed from spec. */
  retiredAt?: string;
}

export interface NvmeofSubsystemStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  nqn?: string;
  node?: string;
  podName?: string;
  endpoint?: string;
  namespaces?: NamespaceIdentityStatus[];
  /**
   * Namespaces removed from spec, with the identity they had, so an nsid added back over other data gets new
   * identifiers and no other namespace reuses theirs. Oldest dropped beyond 256 (RETIRED_NAMESPACES_MAX).
   */
  retiredNamespaces?: RetiredNamespaceStatus[];
  recovery?: RecoveryStatus;
}

/** status.retiredNamespaces keeps at most this many (the CRD's maxItems), dropping the oldest. */
export const RETIRED_NAMESPACES_MAX = 256;

export interface NvmeofSubsystem {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: V1ObjectMeta;
  spec: NvmeofSubsystemSpec;
  status?: NvmeofSubsystemStatus;
}

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
