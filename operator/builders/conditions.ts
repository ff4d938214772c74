// Ready, Progressing and Degraded from what was observed: a pure function, tested with tables.
//   Ready       the target serves the subsystem (its pod is ready);
//   Progressing the operator is moving towards the spec (creating, scheduling, starting, rolling);
//   Degraded    something needs a human (the spec cannot be realised, the target keeps crashing, ...).
// A condition keeps its lastTransitionTime while its status stays the same.
import type { Condition, ConditionStatus, ConditionType } from '../api/types.js';
import { KEY_INVALID } from './authentication.js';
import { NODE_NOT_READY_WARNING_MS, notReadyForMs, type NodeState } from './node-state.js';
import { Reason, type Problem } from './reasons.js';

export interface PodObservation {
  name: string;
  /** Node the scheduler put the pod on. */
  node?: string;
  ready: boolean;
  /** The scheduler's message while the pod is unscheduled. */
  pendingMessage?: string;
  /** The scheduler tried and found no node (PodScheduled=False, reason Unschedulable). */
  unschedulable?: boolean;
  /** Waiting reason of the target container (ContainerCreating, CrashLoopBackOff, ...). */
  waitingReason?: string;
  waitingMessage?: string;
  restarts: number;
  /** While the container is not running: how it last ended, with its termination message. */
  exit?: { code: number; message?: string };
  /** Built from another spec: about to be replaced. */
  outdated: boolean;
}

export interface Observation {
  generation: number;
  deleting: boolean;
  /** The spec cannot be realised (blocks any new pod). */
  problem?: Problem;
  /** Something a human should know that does not stop the target. */
  advisory?: Problem;
  pod?: PodObservation;
  /** The node that holds the subsystem's state (or the pod's node), as observed. */
  node?: NodeState;
  nqn?: string;
  endpoint?: string;
}

/** Waiting reasons that will not clear by themselves. */
const STUCK = new Set(['CrashLoopBackOff', 'ImagePullBackOff', 'ErrImagePull', 'CreateContainerConfigError', 'CreateContainerError', 'InvalidImageName', 'RunContainerError']);

/** The target's termination message for a port another process holds (target/README.md, "Ports"). */
const PORT_IN_USE = /\bport \d+\b.*\bin use\b/i;

/** The three conditions decided here; ConfigApplied is operator/builders/config-applied.ts's. */
type PodConditionType = Exclude<ConditionType, 'ConfigApplied'>;
type Triple = Record<PodConditionType, { status: ConditionStatus; reason: string; message: string }>;

/**
 * A pod that waits for its node, said from the node's side and the scheduler's own condition rather than
 * as "creating" or "pending": the node is NotReady (Degraded once that lasted NODE_NOT_READY_WARNING_MS),
 * or cordoned, or the scheduler found no node for the pod (its message says why: taints, resources, ports).
 */
function waitingForNode(o: Observation, now: string, degraded: Triple['Degraded']): Triple | undefined {
  const { pod, node } = o;
  if (node && !node.ready && !pod?.ready) {
    const forMs = notReadyForMs(node, now);
    // Since when, not for how long: the message stays the same from one reconcile to the next.
    const since = node.notReadySince ? ` since ${node.notReadySince}` : '';
    const msg = `node ${node.name}, which holds this subsystem's state, is NotReady${since}${node.notReadyWhy ? `: ${node.notReadyWhy}` : ''}; the target${pod ? ` (pod ${pod.name})` : ''} serves again once the node is back`;
    return {
      Ready: { status: 'False', reason: Reason.NodeNotReady, message: msg },
      Progressing: { status: 'False', reason: Reason.NodeNotReady, message: `waiting for node ${node.name}` },
      Degraded: forMs >= NODE_NOT_READY_WARNING_MS ? { status: 'True', reason: Reason.NodeNotReady, message: msg } : degraded,
    };
  }
  if (!pod || pod.node) return undefined;
  if (node?.cordoned) {
    const msg = `pod ${pod.name} waits for node ${node.name}, which holds this subsystem's state and is cordoned (kubectl cordon or drain): \`kubectl uncordon ${node.name}\` lets it start`;
    return {
      Ready: { status: 'False', reason: Reason.NodeCordoned, message: msg },
      Progressing: { status: 'False', reason: Reason.NodeCordoned, message: `waiting for node ${node.name} to be uncordoned` },
      Degraded: degraded,
    };
  }
  if (pod.unschedulable) {
    const msg = `pod ${pod.name} cannot be scheduled${pod.pendingMessage ? `: ${pod.pendingMessage}` : ''}`;
    return {
      Ready: { status: 'False', reason: Reason.Unschedulable, message: msg },
      Progressing: { status: 'True', reason: Reason.Unschedulable, message: msg },
      Degraded: degraded,
    };
  }
  return undefined;
}

function decide(o: Observation, now: string): Triple {
  const ok = { status: 'False' as const, reason: Reason.AsExpected, message: 'no problem seen' };
  if (o.deleting) {
    return {
      Ready: { status: 'False', reason: Reason.Deleting, message: 'the resource is being deleted' },
      Progressing: { status: 'True', reason: Reason.Deleting, message: 'removing the target pod and, with reclaimPolicy Delete, the subsystem directory' },
      Degraded: ok,
    };
  }
  const pod = o.pod;
  if (o.problem) {
    const serving = pod?.ready && o.problem.reason !== Reason.NodeGone ? ` (pod ${pod.name} keeps serving the previous configuration)` : '';
    return {
      Ready: { status: 'False', reason: o.problem.reason, message: o.problem.message + serving },
      Progressing: { status: 'False', reason: o.problem.reason, message: 'blocked until the problem is fixed' },
      Degraded: { status: 'True', reason: o.problem.reason, message: o.problem.message },
    };
  }
  const degraded = o.advisory ? { status: 'True' as const, reason: o.advisory.reason, message: o.advisory.message } : ok;
  const waiting = waitingForNode(o, now, degraded);
  if (waiting) return waiting;
  if (!pod) {
    return {
      Ready: { status: 'False', reason: Reason.PodCreating, message: 'creating the target pod' },
      Progressing: { status: 'True', reason: Reason.PodCreating, message: 'creating the target pod' },
      Degraded: degraded,
    };
  }
  if (!pod.node) {
    const msg = `pod ${pod.name} is not scheduled yet` + (pod.pendingMessage ? `: ${pod.pendingMessage}` : '');
    return {
      Ready: { status: 'False', reason: Reason.PodPending, message: msg },
      Progressing: { status: 'True', reason: Reason.PodPending, message: msg },
      Degraded: degraded,
    };
  }
  if (!pod.ready) {
    const waiting = pod.waitingReason ? ` (${pod.waitingReason}${pod.waitingMessage ? `: ${pod.waitingMessage}` : ''})` : '';
    const msg = `target pod ${pod.name} on node ${pod.node} is not ready${waiting}`;
    if (pod.exit?.message && pod.exit.code !== 0) {
      // The target said why it exited: that is the condition, not a generic "crash looping".
      const reason = PORT_IN_USE.test(pod.exit.message) ? Reason.PortInUse : KEY_INVALID.test(pod.exit.message) ? Reason.KeyInvalid : Reason.TargetFailed;
      const said = `the target in pod ${pod.name} on node ${pod.node} exited with code ${pod.exit.code}: ${pod.exit.message}`;
      return {
        Ready: { status: 'False', reason, message: said },
        Progressing: { status: 'False', reason, message: `blocked: ${said}` },
        Degraded: { status: 'True', reason, message: `${said}; restarts: ${pod.restarts}` },
      };
    }
    if (pod.waitingReason && STUCK.has(pod.waitingReason)) {
      return {
        Ready: { status: 'False', reason: Reason.TargetNotReady, message: msg },
        Progressing: { status: 'False', reason: Reason.TargetCrashLooping, message: msg },
        Degraded: { status: 'True', reason: Reason.TargetCrashLooping, message: `${msg}; restarts: ${pod.restarts}` },
      };
    }
    return {
      Ready: { status: 'False', reason: Reason.TargetNotReady, message: msg },
      Progressing: { status: 'True', reason: Reason.TargetNotReady, message: msg },
      Degraded: degraded,
    };
  }
  const serving = `serving ${o.nqn ?? 'the subsystem'}${o.endpoint ? ` at ${o.endpoint}` : ''} from pod ${pod.name} on node ${pod.node}`;
  return {
    Ready: { status: 'True', reason: Reason.TargetReady, message: serving },
    Progressing: pod.outdated
      ? { status: 'True', reason: Reason.Rolling, message: `the spec changed: replacing pod ${pod.name}` }
      : { status: 'False', reason: Reason.Reconciled, message: 'the target pod matches the spec' },
    Degraded: degraded,
  };
}

export const CONDITION_TYPES: PodConditionType[] = ['Ready', 'Progressing', 'Degraded'];

export function nextConditions(prev: readonly Condition[] | undefined, o: Observation, now: string): Condition[] {
  const t = decide(o, now);
  return CONDITION_TYPES.map((type) => {
    const before = prev?.find((c) => c.type === type);
    const next = t[type];
    return {
      type,
      status: next.status,
      reason: next.reason,
      message: next.message,
      lastTransitionTime: before && before.status === next.status ? before.lastTransitionTime : now,
      observedGeneration: o.generation,
    };
  });
}
