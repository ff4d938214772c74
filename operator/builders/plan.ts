// The reconcile decision for a live NvmeofSubsystem: from the resource and what the cache holds, the
// objects to apply or delete, the pod to create, and the next status. Pure; the reconciler only
// gathers the inputs and carries out the plan.
//
// Invariants:
// - at most one live target pod per subsystem; extra ones are deleted, oldest kept;
// - once a pod has been scheduled its node is the subsystem's node (status.node) for good, and
//   every later pod is pinned there; a node that is gone leaves the subsystem Degraded/NodeGone;
// - a resource that cannot be realised gets no new pod, and keeps a running one unless running it is
//   refused outright (a device no longer allow-listed, a namespace no longer privileged);
// - a subsystem that lost a port or identity conflict has no pod unless that pod already serves;
// - a pod built from another spec is replaced (deleted, and its successor created at once: with
//   hostNetwork the scheduler holds the successor until the old pod is gone; the target itself waits
//   for the old process's lock on the state file), but only for what a running target cannot change:
//   the rest of a change reaches it live through its ConfigMap (live-config.ts, live-change.ts);
// - status.config and the ConfigApplied condition say which configuration generation the target serves;
// - status.offlineNamespaces, Degraded/NamespaceOffline and one Warning each say which namespaces the target
//   took offline (namespace-offline.ts).
import type { V1ConfigMap, V1Namespace, V1Pod, V1PodDisruptionBudget, V1Service } from '@kubernetes/client-node';
import { FINALIZER, type ConfigStatus, type NvmeofSubsystem, type OfflineNamespaceStatus, type NvmeofSubsystemStatus, type RecoveryStatus } from '../api/types.js';
import { deletePod, type Action, type Plan } from './actions.js';
import { nextConditions, type Observation } from './conditions.js';
import { CONFIG_PENDING_POLL_MS, CONFIG_REJECTED_POLL_MS, configAppliedCondition, ConfigReason, rejectionEvent } from './config-applied.js';
import { desiredConfigMap } from './configmap.js';
import { offlineEvents, offlineNow, offlineProblem } from './namespace-offline.js';
import { targetPodName } from './names.js';
import { deriveNqn, nqnInUse } from './nqn.js';
import { endpointOf, isFinished, isPodReady, isTerminating, namespacePrivileged, observePod, timeOf } from './observe.js';
import { planMaintenance } from './maintenance.js';
import type { NodeState } from './node-state.js';
import { keptHash, publishConfig, rollReason } from './live-config.js';
import { deviceAllowed } from './paths.js';
import { desiredBudget } from './pdb.js';
import { configMapsOf, desiredPod, devicesOf, pinnedNodeOf, podSpecHash } from './pod.js';
import type { IdentityConflict } from './identity-claims.js';
import type { MemoryBounds } from './limits.js';
import type { PortConflict } from './ports.js';
import { Reason, type Problem } from './reasons.js';
import { desiredService } from './service.js';
import type { TargetSettings } from './settings.js';
import { containsDesired } from './subset.js';
import { realise, type Realisation } from './target-config.js';

export interface PlanInput {
  sub: NvmeofSubsystem;
  settings: TargetSettings;
  /** RFC 3339, for condition transition times. */
  now: string;
  /** Owned target pods (terminating ones included). */
  targetPods: readonly V1Pod[];
  /** Owned ConfigMaps and the Service, from the cache. */
  configMaps: readonly V1ConfigMap[];
  service?: V1Service;
  /** The owned PodDisruptionBudget (./pdb.ts), from the cache. */
  budget?: V1PodDisruptionBudget;
  /** Nodes by name, as observed (./node-state.ts). */
  nodes?: ReadonlyMap<string, NodeState>;
  /** `namespace/name` of the subsystems by the node that holds their state (status.node). */
  subsystemsByNode?: ReadonlyMap<string, readonly string[]>;
  /** Owned cleanup pod left over from an earlier deletion attempt, if any. */
  cleanupPod?: V1Pod;
  namespace?: V1Namespace;
  nodeNames: ReadonlySet<string>;
  portConflict?: PortConflict;
  /** An NQN, namespace identifier or block device another subsystem holds (identity-claims.ts). */
  identityConflict?: IdentityConflict;
  /** The pod's memory limit and the node's allocatable memory, for memory namespaces. */
  memory?: MemoryBounds;
  /** Read from the ready pod's /recovery just before planning, when it answered. */
  recovery?: RecoveryStatus;
  /** The configuration generation that /recovery reported (`config`), when it did. */
  servedConfig?: ConfigStatus;
  /** /recovery answered without `config`: a target of a release before live configuration. */
  configNotReported?: boolean;
  /** The namespaces /recovery listed offline (`offline`), when it answered with the list. */
  offline?: OfflineNamespaceStatus[];
  /** Suffix for the name of a pod created now (random, from the caller). */
  newPodSuffix: string;
}

/** How often a ready subsystem is read again (status.recovery) without any event. */
export const READY_REFRESH_MS = 60_000;

function byAge(a: V1Pod, b: V1Pod): number {
  return timeOf(a.metadata?.creationTimestamp).localeCompare(timeOf(b.metadata?.creationTimestamp)) ||
    String(a.metadata?.name).localeCompare(String(b.metadata?.name));
}

function findProblem(input: PlanInput, pinned: string | undefined, realised: ReturnType<typeof realise>): Problem | undefined {
  const { sub, settings } = input;
  const ns = sub.metadata.namespace ?? '';
  if (settings.requirePrivilegedNamespace && !namespacePrivileged(input.namespace)) {
    return {
      reason: Reason.NamespaceNotPrivileged,
      message: `namespace ${ns} must be labelled pod-security.kubernetes.io/enforce=privileged: target pods use hostPath${sub.spec?.listener?.hostNetwork === false ? '' : ' and hostNetwork'}`,
    };
  }
  if (!realised.ok) return realised.problem;
  if (pinned && !input.nodeNames.has(pinned)) {
    return {
      reason: Reason.NodeGone,
      message: `node ${pinned}, which holds this subsystem's state, no longer exists; the subsystem is not moved to a node without its state: bring the node back, or delete and recreate the resource to start afresh elsewhere`,
    };
  }
  const nodeName = sub.spec.placement?.nodeName;
  if (!pinned && nodeName && !input.nodeNames.has(nodeName)) {
    return { reason: Reason.NodeNotFound, message: `spec.placement.nodeName ${nodeName} is not a node of this cluster` };
  }
  if (input.identityConflict) {
    const c = input.identityConflict;
    return {
      reason: Reason.IdentityConflict,
      message: `${c.what} is already ${c.where === 'its NQN' ? 'the NQN' : `used by ${c.where}`} of NvmeofSubsystem ${c.with}: hosts would take the two for one device (multipath merges namespaces with equal identifiers); this resource gets no target pod until it uses identifiers of its own`,
    };
  }
  if (input.portConflict) {
    const c = input.portConflict;
    return { reason: Reason.PortConflict, message: `port ${c.port} on node ${c.node} is already used by NvmeofSubsystem ${c.with}` };
  }
  return undefined;
}

/** Problems a pod must not be started into; one that already serves keeps serving. */
const LOSER = new Set<string>([Reason.PortConflict, Reason.IdentityConflict]);

/** A running pod the operator must stop, even though the spec cannot be realised. */
function refusedToRun(pod: V1Pod, problem: Problem | undefined, settings: TargetSettings): string | undefined {
  if (problem?.reason === Reason.NamespaceNotPrivileged) return 'the namespace is not privileged';
  // A loser's pod created before the conflict was seen (both created in one apply) never started serving:
  // it goes, rather than staying Pending (or fighting over the port) for good.
  if (problem && LOSER.has(problem.reason) && !isPodReady(pod)) return `it is not serving and ${problem.message}`;
  const bad = devicesOf(pod).find((d) => !deviceAllowed(d, settings.allowedDevices));
  return bad ? `device ${bad} is no longer on the operator's allow-list` : undefined;
}

export function planLive(input: PlanInput): Plan {
  const { sub, settings } = input;
  const actions: Action[] = [];
  const wantsFinalizer = (sub.spec?.reclaimPolicy ?? 'Retain') === 'Delete';
  const hasFinalizer = sub.metadata.finalizers?.includes(FINALIZER) ?? false;
  if (wantsFinalizer && !hasFinalizer) actions.push({ kind: 'addFinalizer' });
  if (!wantsFinalizer && hasFinalizer) actions.push({ kind: 'removeFinalizer' });
  if (input.cleanupPod && !isTerminating(input.cleanupPod)) actions.push(deletePod(input.cleanupPod, 'left over from an earlier deletion'));

  const pods = input.targetPods.filter((p) => !isTerminating(p));
  for (const p of pods.filter(isFinished)) actions.push(deletePod(p, `pod ended (${p.status?.phase})`));
  const live = pods.filter((p) => !isFinished(p)).sort(byAge);
  for (const extra of live.slice(1)) actions.push(deletePod(extra, 'more than one target pod'));
  let pod: V1Pod | undefined = live[0];

  const pinned = sub.status?.node ?? pod?.spec?.nodeName;
  const realised = realise(sub, settings, { now: input.now, ...(input.memory ? { memory: input.memory } : {}) });
  const problem = findProblem(input, pinned, realised);
  const r: Realisation | undefined = realised.ok ? realised.value : undefined;
  const desiredHash = r ? podSpecHash(sub, settings, r) : undefined;

  const cm = r ? desiredConfigMap(sub, r) : undefined;
  let created: V1Pod | undefined;
  let replaced: V1Pod | undefined;
  let rolled: string | undefined;
  if (pod) {
    const refused = refusedToRun(pod, problem, settings);
    const wantNode = pinned ?? sub.spec?.placement?.nodeName;
    const misplaced = !pod.spec?.nodeName && pinnedNodeOf(pod) !== wantNode;
    if (refused) {
      actions.push(deletePod(pod, refused));
      actions.push({ kind: 'event', type: 'Warning', reason: 'TargetStopped', message: `stopped pod ${pod.metadata?.name}: ${refused}` });
      pod = undefined;
    } else if (!problem && r && desiredHash && (observePod(pod, keptHash(pod, sub, settings, r, desiredHash)).outdated || misplaced)) {
      rolled = rollReason(pod, sub, settings, r, input.configMaps, pinned);
      actions.push(deletePod(pod, `the spec changed (${rolled})`));
      replaced = pod;
      pod = undefined;
    }
  }
  // After a replaced pod's deletion: the old target is not handed the new configuration on its way out.
  if (r && cm) {
    actions.push(...publishConfig(sub, r, input.configMaps, pod && !isTerminating(pod) ? pod : undefined, cm));
    const svc = desiredService(sub, r);
    if (!containsDesired(input.service, svc)) actions.push({ kind: 'apply', object: svc });
  }
  // Before any pod: a drain never finds a target without its budget (./pdb.ts; not in the pod's hash).
  const budget = desiredBudget(sub);
  if (!containsDesired(input.budget, budget)) actions.push({ kind: 'apply', object: budget });
  if (!pod && !problem && r) {
    created = desiredPod(sub, settings, r, { name: targetPodName(sub.metadata.name ?? '', input.newPodSuffix), ...(pinned ? { pinnedNode: pinned } : {}) });
    const cause = replaced ? 'rolled' : sub.status?.podName ? 'lost' : 'first';
    actions.push({ kind: 'createPod', pod: created, cause });
    const where = pinned ? ` on node ${pinned}` : '';
    const message = cause === 'rolled' ? `replacing pod ${replaced?.metadata?.name} with ${created.metadata?.name}${where}: ${rolled}`
      : cause === 'lost' ? `pod ${sub.status?.podName} is gone: created ${created.metadata?.name}${where}`
        : `created pod ${created.metadata?.name}${where}`;
    actions.push({ kind: 'event', type: 'Normal', reason: cause === 'lost' ? 'PodRecreated' : cause === 'rolled' ? 'PodReplaced' : 'PodCreated', message });
  }

  // ConfigMaps no pod uses and the current spec does not want: left from earlier configurations.
  const inUse = new Set([...input.targetPods, ...(created ? [created] : [])].flatMap(configMapsOf));
  const wantedCm = cm?.metadata?.name;
  for (const cm of input.configMaps) {
    const name = cm.metadata?.name ?? '';
    if (name !== wantedCm && !inUse.has(name)) {
      actions.push({ kind: 'delete', apiVersion: 'v1', objectKind: 'ConfigMap', name, uid: cm.metadata?.uid, why: 'no longer used' });
    }
  }

  const hostNetwork = r?.hostNetwork ?? sub.spec?.listener?.hostNetwork ?? true;
  const port = r?.port ?? sub.spec?.listener?.port;
  // A pod on a node that is gone only looks ready: its last status was never updated.
  const endpoint = pod && isPodReady(pod) && port && problem?.reason !== Reason.NodeGone ? endpointOf(pod, hostNetwork, port) : undefined;
  const nqn = r?.nqn ?? (sub.spec ? nqnInUse(sub.spec, sub.status, sub.metadata.namespace ?? '', sub.metadata.name ?? '') : deriveNqn(sub.metadata.namespace ?? '', sub.metadata.name ?? ''));
  const shown = pod ?? created;
  const placementNode = sub.spec?.placement?.nodeName;
  const node = pinned ? input.nodes?.get(pinned) : undefined;
  const offline = offlineNow({
    ...(input.offline ? { read: input.offline } : {}), answered: input.recovery !== undefined,
    ...(pod?.metadata?.name ? { podName: pod.metadata.name } : {}), ...(sub.status?.podName ? { statusPodName: sub.status.podName } : {}),
    ...(sub.status?.offlineNamespaces ? { before: sub.status.offlineNamespaces } : {}),
  });
  const offlineAdvisory = offlineProblem(offline, pod?.metadata?.name);
  const observation: Observation = {
    generation: sub.metadata.generation ?? 0,
    deleting: false,
    ...(problem ? { problem } : {}),
    ...(offlineAdvisory ? { advisory: offlineAdvisory } : pinned && placementNode && placementNode !== pinned
      ? { advisory: { reason: Reason.PlacementIgnored, message: `spec.placement.nodeName ${placementNode} is ignored: the subsystem's state is on node ${pinned}` } }
      : {}),
    ...(pod ? { pod: observePod(pod, r && desiredHash ? keptHash(pod, sub, settings, r, desiredHash) : desiredHash) } : {}),
    ...(node ? { node } : {}),
    nqn,
    ...(endpoint ? { endpoint } : {}),
  };
  const conditions = nextConditions(sub.status?.conditions, observation, input.now);
  const prevReady = sub.status?.conditions?.find((c) => c.type === 'Ready');
  const ready = conditions.find((c) => c.type === 'Ready');
  if (problem && prevReady?.reason !== problem.reason) {
    actions.push({ kind: 'event', type: 'Warning', reason: problem.reason, message: problem.message });
  }

  const maintenance = planMaintenance({
    sub, now: input.now, targetPods: input.targetPods, conditions,
    ...(node ? { node, onNode: input.subsystemsByNode?.get(node.name) ?? [] } : {}),
  });
  actions.push(...maintenance.actions);

  const recovery = input.recovery ?? sub.status?.recovery;
  // What the target serves: read now, else as last read (a pod being replaced reports again once ready).
  const servedConfig = input.servedConfig ?? (input.configNotReported ? undefined : sub.status?.config);
  const servingPod = pod && isPodReady(pod) ? pod.metadata?.name : undefined;
  const configApplied = configAppliedCondition(sub.status?.conditions, {
    desired: sub.metadata.generation ?? 0,
    ...(servedConfig ? { served: servedConfig } : {}),
    ...(input.configNotReported ? { notReported: true } : {}),
    ...(servingPod ? { podName: servingPod } : {}),
  }, input.now);
  conditions.push(configApplied);
  actions.push(...rejectionEvent(sub.status?.config, input.servedConfig, servingPod));
  actions.push(...offlineEvents(sub.status?.offlineNamespaces, offline, pod?.metadata?.name));
  const status: NvmeofSubsystemStatus = {
    observedGeneration: sub.metadata.generation ?? 0,
    conditions,
    nqn,
    ...(pinned ? { node: pinned } : {}),
    ...(shown?.metadata?.name ? { podName: shown.metadata.name } : sub.status?.podName ? { podName: sub.status.podName } : {}),
    ...(endpoint ? { endpoint } : {}),
    ...(r ? { namespaces: r.identities } : sub.status?.namespaces ? { namespaces: sub.status.namespaces } : {}),
    ...(r ? (r.retired.length ? { retiredNamespaces: r.retired } : {}) : sub.status?.retiredNamespaces ? { retiredNamespaces: sub.status.retiredNamespaces } : {}),
    ...(recovery ? { recovery } : {}),
    ...(servedConfig ? { config: servedConfig } : {}),
    ...(offline ? { offlineNamespaces: offline } : {}),
  };
  // Nothing wakes the operator when the target takes a configuration: while one is on its way, it asks again
  // soon; while one is refused, less soon (the target may yet take it: config-applied.ts).
  const pending = configApplied.reason === ConfigReason.ConfigPending ? CONFIG_PENDING_POLL_MS
    : configApplied.reason === ConfigReason.ConfigRejected ? CONFIG_REJECTED_POLL_MS : undefined;
  const requeueAfterMs = pending ?? (ready?.status === 'True' ? READY_REFRESH_MS : maintenance.requeueAfterMs);
  return { actions, status, ...(requeueAfterMs !== undefined ? { requeueAfterMs } : {}) };
}
