// Reading observed objects into the plain facts the decisions use. Pure.
import type { V1ContainerStatus, V1Namespace, V1Pod } from '@kubernetes/client-node';
import { ANNOTATION_SPEC_HASH } from './names.js';
import type { PodObservation } from './conditions.js';
import { TARGET_CONTAINER } from './pod.js';

/**
 * A metadata timestamp as a sortable RFC 3339 string. Objects from the API carry strings although
 * client-node types them as Date; either is accepted. Absent or unreadable sorts first.
 */
export function timeOf(v: Date | string | undefined): string {
  if (v === undefined || v === null) return '';
  const d = v instanceof Date ? v : new Date(v);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

export const POD_SECURITY_ENFORCE = 'pod-security.kubernetes.io/enforce';

export function isTerminating(pod: V1Pod): boolean {
  return Boolean(pod.metadata?.deletionTimestamp);
}

/** A pod that has ended (evicted, node shut down, ...) never runs again: it must be replaced. */
export function isFinished(pod: V1Pod): boolean {
  return pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded';
}

export function isPodReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

/** Termination messages longer than this are cut (the kubelet keeps up to 4096 bytes; status stays readable). */
const EXIT_MESSAGE_MAX = 1024;

/**
 * How the target container last ended, while it is not running: its exit code and termination message
 * (the target writes why it exits on a configuration error; the kubelet falls back to the log's tail).
 */
export function exitOf(cs: V1ContainerStatus | undefined): PodObservation['exit'] {
  if (!cs || cs.state?.running) return undefined;
  const t = cs.state?.terminated ?? cs.lastState?.terminated;
  if (!t) return undefined;
  const message = t.message?.trim();
  return { code: t.exitCode, ...(message ? { message: message.length > EXIT_MESSAGE_MAX ? `${message.slice(0, EXIT_MESSAGE_MAX)}...` : message } : {}) };
}

export function observePod(pod: V1Pod, desiredHash: string | undefined): PodObservation {
  const cs = pod.status?.containerStatuses?.find((c) => c.name === TARGET_CONTAINER);
  const unsched = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  return {
    name: pod.metadata?.name ?? '',
    ...(pod.spec?.nodeName ? { node: pod.spec.nodeName } : {}),
    ready: isPodReady(pod),
    ...(unsched?.message ? { pendingMessage: unsched.message } : {}),
    ...(unsched?.reason === 'Unschedulable' ? { unschedulable: true } : {}),
    ...(cs?.state?.waiting?.reason ? { waitingReason: cs.state.waiting.reason } : {}),
    ...(cs?.state?.waiting?.message ? { waitingMessage: cs.state.waiting.message } : {}),
    ...(exitOf(cs) ? { exit: exitOf(cs) } : {}),
    restarts: cs?.restartCount ?? 0,
    outdated: desiredHash !== undefined && pod.metadata?.annotations?.[ANNOTATION_SPEC_HASH] !== desiredHash,
  };
}

/** `ip:port`, or `[ip]:port` for IPv6; the node's address with hostNetwork, else the pod's. */
export function endpointOf(pod: V1Pod, hostNetwork: boolean, port: number): string | undefined {
  const ip = hostNetwork ? (pod.status?.hostIP ?? pod.status?.podIP) : pod.status?.podIP;
  if (!ip) return undefined;
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** Target pods need hostPath (and hostNetwork): only the privileged Pod Security level admits them. */
export function namespacePrivileged(ns: V1Namespace | undefined): boolean {
  return ns?.metadata?.labels?.[POD_SECURITY_ENFORCE] === 'privileged';
}
