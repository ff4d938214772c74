// What to do while a resource is being deleted. With reclaimPolicy Delete the finalizer holds the
// resource until its directory is gone from its node: first the target pods go (they hold the files
// open), then a cleanup pod removes the directory, then the finalizer is released. A node that is
// gone cannot be cleaned: the finalizer is released with a Warning, never held forever.
import type { V1Pod } from '@kubernetes/client-node';
import { FINALIZER, type NvmeofSubsystem } from '../api/types.js';
import { deletePod, type Action, type Plan } from './actions.js';
import { desiredCleanupPod } from './cleanup-pod.js';
import { nextConditions } from './conditions.js';
import { isTerminating } from './observe.js';
import { subsystemHostDir } from './paths.js';
import type { TargetSettings } from './settings.js';

export interface FinalizeInput {
  sub: NvmeofSubsystem;
  settings: TargetSettings;
  /** Owned target pods, terminating ones included. */
  targetPods: readonly V1Pod[];
  cleanupPod?: V1Pod;
  nodeNames: ReadonlySet<string>;
  now: string;
}

export const CLEANUP_POLL_MS = 2000;

export function planFinalize(input: FinalizeInput): Plan {
  const { sub } = input;
  if (!sub.metadata.finalizers?.includes(FINALIZER)) return { actions: [] };
  if ((sub.spec?.reclaimPolicy ?? 'Retain') !== 'Delete') return { actions: [{ kind: 'removeFinalizer' }] };
  const plan = cleanUp(input);
  // While the finalizer holds the resource, its status says so.
  if (plan.actions.some((a) => a.kind === 'removeFinalizer')) return plan;
  const conditions = nextConditions(sub.status?.conditions, { generation: sub.metadata.generation ?? 0, deleting: true }, input.now);
  return { ...plan, status: { ...sub.status, conditions } };
}

function cleanUp(input: FinalizeInput): Plan {
  const { sub, settings } = input;
  if (input.targetPods.length > 0) {
    const actions: Action[] = input.targetPods.filter((p) => !isTerminating(p)).map((p) => deletePod(p, 'the resource is being deleted'));
    return { actions, requeueAfterMs: CLEANUP_POLL_MS };
  }
  const node = sub.status?.node;
  if (!node) {
    return { actions: [{ kind: 'event', type: 'Normal', reason: 'NothingToClean', message: 'the subsystem never ran on a node: no directory to remove' }, { kind: 'removeFinalizer' }] };
  }
  const dir = subsystemHostDir(settings.hostPathRoot, sub.metadata.namespace ?? '', sub.metadata.name ?? '');
  if (!dir.ok) {
    return { actions: [{ kind: 'event', type: 'Warning', reason: 'CleanupSkipped', message: dir.problem }, { kind: 'removeFinalizer' }] };
  }
  if (!input.nodeNames.has(node)) {
    return {
      actions: [
        { kind: 'event', type: 'Warning', reason: 'CleanupSkipped', message: `node ${node} is gone: ${dir.value} could not be removed from it` },
        { kind: 'removeFinalizer' },
      ],
    };
  }
  const cp = input.cleanupPod;
  if (!cp) {
    return {
      actions: [
        { kind: 'apply', object: desiredCleanupPod(sub, settings, node, dir.value) },
        { kind: 'event', type: 'Normal', reason: 'CleanupStarted', message: `removing ${dir.value} on node ${node}` },
      ],
      requeueAfterMs: CLEANUP_POLL_MS,
    };
  }
  if (isTerminating(cp)) return { actions: [], requeueAfterMs: CLEANUP_POLL_MS };
  switch (cp.status?.phase) {
    case 'Succeeded':
      return {
        actions: [
          deletePod(cp, 'cleanup done'),
          { kind: 'event', type: 'Normal', reason: 'DirectoryRemoved', message: `removed ${dir.value} on node ${node}` },
          { kind: 'removeFinalizer' },
        ],
      };
    case 'Failed':
      return {
        actions: [
          deletePod(cp, 'cleanup failed; a new one will retry'),
          { kind: 'event', type: 'Warning', reason: 'CleanupFailed', message: `cleanup pod ${cp.metadata?.name} failed to remove ${dir.value} on node ${node}; retrying` },
        ],
        retry: 'cleanup pod failed',
      };
    default:
      return { actions: [], requeueAfterMs: CLEANUP_POLL_MS };
  }
}
