// What the builders take from the operator's own configuration (operator/config.ts fills it).
// Everything that could let a resource author reach the node (the image, the hostPath root, the
// devices) comes from here, never from the resource.
import type { V1ResourceRequirements } from '@kubernetes/client-node';

export type PullPolicy = 'Always' | 'IfNotPresent' | 'Never';

export interface TargetSettings {
  /** Image of the target; runs `node /app/dist/target/main.js --config <file>`. */
  image: string;
  imagePullPolicy: PullPolicy;
  /** Root of the subsystem directories on every node: `<hostPathRoot>/<namespace>/<name>/`. */
  hostPathRoot: string;
  /** Block devices a resource may use (exact paths, or a prefix ending in `*`). */
  allowedDevices: readonly string[];
  /** Seconds the target waits for in-flight commands on SIGTERM. */
  shutdownGraceSeconds: number;
  targetLogLevel: 'error' | 'warn' | 'info' | 'debug';
  /** Resources of target pods whose resource names none. */
  defaultResources?: V1ResourceRequirements;
  /** Refuse namespaces not labelled pod-security.kubernetes.io/enforce=privileged (default true). */
  requirePrivilegedNamespace: boolean;
}

/** Extra seconds the kubelet gives the pod beyond the target's own grace, before SIGKILL. */
export const KILL_MARGIN_SECONDS = 5;
