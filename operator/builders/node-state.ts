// What a subsystem's status needs to know of the node that holds its state: cordoned, Ready, and since
// when not. Pure, read from the Node object the informer caches.
//
// A node is cordoned when spec.unschedulable is set (kubectl cordon and drain set it; the node lifecycle
// controller mirrors it as the node.kubernetes.io/unschedulable:NoSchedule taint). It is NotReady when its
// Ready condition is False (the kubelet says so) or Unknown (the node lifecycle controller stopped hearing
// its heartbeats for node-monitor-grace-period, 50 s by default since 1.32): either way a target there
// serves no host the control plane can vouch for. lastTransitionTime of that condition is when it stopped
// being Ready.
import type { V1Node } from '@kubernetes/client-node';
import { timeOf } from './observe.js';

export interface NodeState {
  name: string;
  cordoned: boolean;
  ready: boolean;
  /** While not ready: when the Ready condition left True (RFC 3339), if the node says. */
  notReadySince?: string;
  /** While not ready: the condition's reason and message (NodeStatusUnknown, "Kubelet stopped posting node status."). */
  notReadyWhy?: string;
}

/**
 * How long a node may stay NotReady before its subsystems are Degraded and a Warning event names them.
 * 60 s on top of the 50 s the node lifecycle controller already waited for the kubelet before it said
 * NotReady: long enough that a kubelet restart raises nothing, and well before the 300 s after which the
 * taint manager evicts the target pod (DefaultTolerationSeconds for node.kubernetes.io/not-ready and
 * unreachable), when its hosts have long been without their target.
 */
export const NODE_NOT_READY_WARNING_MS = 60_000;

export function observeNode(n: V1Node): NodeState {
  const ready = n.status?.conditions?.find((c) => c.type === 'Ready');
  // A node that has posted no Ready condition yet is not called NotReady: nothing says it is.
  const isReady = ready === undefined || ready.status === 'True';
  const since = isReady ? '' : timeOf(ready?.lastTransitionTime);
  const why = [ready?.reason, ready?.message].filter(Boolean).join(': ');
  return {
    name: n.metadata?.name ?? '',
    cordoned: n.spec?.unschedulable === true,
    ready: isReady,
    ...(since ? { notReadySince: since } : {}),
    ...(!isReady && why ? { notReadyWhy: why } : {}),
  };
}

/** Milliseconds the node has been NotReady at `now` (0 when it is Ready or does not say since when). */
export function notReadyForMs(node: NodeState, now: string): number {
  if (node.ready || !node.notReadySince) return 0;
  return Math.max(0, Date.parse(now) - Date.parse(node.notReadySince));
}

/** "1m5s": a duration as kubectl prints ages, to the second. */
export function shortDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${s % 60}s`;
}
