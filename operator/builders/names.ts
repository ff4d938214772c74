// Names and labels of the objects the operator owns. Kubernetes limits differ by kind (a Service name
// is a DNS-1035 label of at most 63 characters, a label value at most 63 characters, a Pod or
// ConfigMap name a DNS-1123 subdomain of at most 253): a name that would not fit is cut and given a
// hash of the whole, so two long names never collide and the same input always gives the same name.
import { createHash } from 'node:crypto';
import { GROUP } from '../api/types.js';

export const MANAGED_BY = 'nvmeof-operator';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const LABEL_NAME = 'app.kubernetes.io/name';
export const LABEL_SUBSYSTEM = `${GROUP}/subsystem`;
export const LABEL_SUBSYSTEM_UID = `${GROUP}/subsystem-uid`;
export const LABEL_ROLE = `${GROUP}/role`;
/** On the NvmeofSubsystem itself: the node that holds its state (`kubectl get nvmeofsubsystems -l nvmeof.io/node=<node>`). */
export const LABEL_NODE = `${GROUP}/node`;
/** Hash of everything the target pod is built from; a different hash rolls the pod. */
export const ANNOTATION_SPEC_HASH = `${GROUP}/spec-hash`;
/**
 * The configuration generation the operator last wrote to the pod's ConfigMap. Updating it updates the
 * pod, which makes the kubelet sync the pod at once and refresh its ConfigMap volume (issue 20's contract, 4).
 */
export const ANNOTATION_CONFIG_GENERATION = `${GROUP}/config-generation`;

export type Role = 'target' | 'cleanup' | 'metrics' | 'config' | 'budget';

/** Label selector the operator's informers of owned objects use. */
export const OWNED_SELECTOR = `${LABEL_MANAGED_BY}=${MANAGED_BY}`;

export function shortHash(s: string, hexChars = 8): string {
  return createHash('sha256').update(s, 'utf8').digest('hex').slice(0, hexChars);
}

/** `<base>-<suffix>` cut to `max` characters; when cut, the base ends in a hash of the full name. */
export function fitName(base: string, suffix: string, max: number): string {
  const full = suffix ? `${base}-${suffix}` : base;
  if (full.length <= max) return full;
  const h = shortHash(full);
  const tail = suffix ? `-${h}-${suffix}` : `-${h}`;
  const keep = base.slice(0, Math.max(0, max - tail.length)).replace(/[-.]+$/, '');
  return `${keep}${tail}`;
}

/** A label value (at most 63 characters, alphanumeric at both ends). */
export function labelValue(v: string): string {
  if (v.length <= 63) return v;
  return fitName(v.slice(0, 63), '', 63);
}

/** DNS-1035 label: starts with a letter, at most 63 characters (Service names). */
export function dns1035(base: string, suffix: string): string {
  const b = /^[a-z]/.test(base) ? base : `s-${base}`;
  return fitName(b.replace(/\./g, '-'), suffix, 63);
}

/**
 * The ConfigMap a target pod mounts: one per subsystem, with a stable name, updated in place (issue 20): a
 * running target watches the mounted file and applies a new configuration without a restart, so a
 * configuration change no longer needs a new pod (nor a new ConfigMap name in the pod's spec).
 */
export function configMapName(name: string): string {
  return fitName(name, 'target-config', 253);
}

/**
 * The name the releases before live configuration gave a ConfigMap: a hash of its content, the object
 * immutable. Pods of those releases still mount one; an upgraded operator recognises them by it
 * (operator/builders/legacy.ts). A 10-hex hash never equals "config", so the two kinds never collide.
 */
export function legacyConfigMapName(name: string, configHash: string): string {
  return fitName(name, `target-${configHash}`, 253);
}

export function serviceName(name: string): string {
  return dns1035(name, 'metrics');
}

/** Target pods get a fresh suffix each time, so a new pod can be created while the old one terminates. */
export function targetPodName(name: string, suffix: string): string {
  return fitName(name, `target-${suffix}`, 253);
}

/** The target's PodDisruptionBudget: the name `kubectl drain` quotes when it refuses to evict the target. */
export function budgetName(name: string): string {
  return fitName(name, 'target', 253);
}

export function cleanupPodName(name: string): string {
  return fitName(name, 'cleanup', 253);
}

export function labelsFor(sub: { metadata?: { name?: string; uid?: string } }, role: Role): Record<string, string> {
  return {
    [LABEL_MANAGED_BY]: MANAGED_BY,
    [LABEL_NAME]: role === 'cleanup' ? 'nvmeof-cleanup' : 'nvmeof-target',
    [LABEL_SUBSYSTEM]: labelValue(sub.metadata?.name ?? ''),
    [LABEL_SUBSYSTEM_UID]: sub.metadata?.uid ?? '',
    [LABEL_ROLE]: role,
  };
}
