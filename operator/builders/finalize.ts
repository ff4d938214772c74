// What to do while a resource is being deleted. With reclaimPolicy Delete the finalizer holds the
// resource until its directory is gone from its node: first the target pods go (they hold the files
// open), then a cleanup pod removes the directory, then the finalizer is released. A node that is
// gone cannot be cleaned: the finalizer is released with a Warning, never held forever.
// A deletion never hangs silently (issue 17): a step the API refuses (Pod Security admission turning
// the cleanup pod away, say) or a cleanup pod that fails is the CleanupBlocked condition and a
// Warning event, both in the API's or the pod's own words followed by what a human can do, and is
// retried at most DELETION_RETRY_MAX_MS apart until the cause is fixed.
import type { V1Pod } from '@kubernetes/client-node';
import { FINALIZER, type Condition, type NvmeofSubsystem } from '../api/types.js';
import { deletePod, type Action, type Plan } from './actions.js';
import { desiredCleanupPod } from './cleanup-pod.js';
import { nextConditions } from './conditions.js';
import { isTerminating, POD_SECURITY_ENFORCE } from './observe.js';
import { subsystemHostDir } from './paths.js';
import { Reason } from './reasons.js';
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

/**
 * The longest wait between two attempts at a blocked deletion. Most causes a human fixes wake the
 * resource at once (the namespace's labels are watched); this bounds the wait for the others (an
 * admission webhook, a quota, RBAC) while the resource sits Terminating.
 */
export const DELETION_RETRY_MAX_MS = 60_000;

export function planFinalize(input: FinalizeInput): Plan {
  const { sub } = input;
  if (!sub.metadata.finalizers?.includes(FINALIZER)) return { actions: [] };
  if ((sub.spec?.reclaimPolicy ?? 'Retain') !== 'Delete') return { actions: [{ kind: 'removeFinalizer' }] };
  const plan = cleanUp(input);
  if (plan.status || plan.actions.some((a) => a.kind === 'removeFinalizer')) return plan;
  // A blocked cleanup stays the condition until a new cleanup pod runs: the retry that is about to
  // make one must not read as progress before it has any.
  const running = input.cleanupPod && !isTerminating(input.cleanupPod);
  if (isBlocked(sub.status?.conditions) && !running) return plan;
  // While the finalizer holds the resource, its status says so.
  const conditions = nextConditions(sub.status?.conditions, { generation: sub.metadata.generation ?? 0, deleting: true }, input.now);
  return { ...plan, status: { ...sub.status, conditions } };
}

/**
 * A step of the deletion failed with `apiMessage` (the API server's Status message, verbatim): the
 * conditions and a Warning event say so, and the key is retried. The event's message is the same on
 * every attempt of one failure, so the recorder counts them on one Event.
 */
export function planCleanupBlocked(input: FinalizeInput, apiMessage: string): Plan {
  return blocked(input, `${apiMessage.trim().replace(/\.$/, '')}. ${remedy(input, /PodSecurity/.test(apiMessage))}`, []);
}

function blocked(input: FinalizeInput, message: string, actions: Action[]): Plan {
  const { sub } = input;
  // A blocked deletion reads as any resource that cannot be realised (Ready=False, Progressing=False,
  // Degraded=True, one reason): it needs a human, which the Deleting conditions would not say.
  const conditions = nextConditions(
    sub.status?.conditions,
    { generation: sub.metadata.generation ?? 0, deleting: false, problem: { reason: Reason.CleanupBlocked, message } },
    input.now,
  );
  return {
    actions: [...actions, { kind: 'event', type: 'Warning', reason: Reason.CleanupBlocked, message }],
    status: { ...sub.status, conditions },
    retry: message,
  };
}

function isBlocked(conditions: readonly Condition[] | undefined): boolean {
  return conditions?.find((c) => c.type === 'Ready')?.reason === Reason.CleanupBlocked;
}

/** What a human can do about a blocked deletion, and what giving up on it leaves behind. */
function remedy(input: FinalizeInput, podSecurity: boolean): string {
  const { sub } = input;
  const ns = sub.metadata.namespace ?? '';
  const dir = subsystemHostDir(input.settings.hostPathRoot, ns, sub.metadata.name ?? '');
  const where = dir.ok && sub.status?.node ? `${dir.value} on node ${sub.status.node}` : 'the subsystem\'s directory';
  const fix = podSecurity
    ? `label namespace ${ns} ${POD_SECURITY_ENFORCE}=privileged (the cleanup pod mounts a hostPath)`
    : 'fix the cause';
  return `The deletion waits: ${fix} and it completes by itself, or remove the finalizer ${FINALIZER} by hand, which leaves ${where} in place`;
}

/** Why a cleanup pod failed, in the kubelet's and the container's words. */
function podFailure(cp: V1Pod): string {
  const t = cp.status?.containerStatuses?.[0]?.state?.terminated;
  const said = t
    ? `exit code ${t.exitCode}${t.message?.trim() ? `: ${t.message.trim()}` : t.reason ? ` (${t.reason})` : ''}`
    : [cp.status?.reason, cp.status?.message].filter(Boolean).join(': ') || 'no reason given';
  return `cleanup pod ${cp.metadata?.name} on node ${cp.spec?.nodeName ?? cp.status?.hostIP ?? '?'} failed: ${said}`;
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
      // A new cleanup pod retries once this one is gone.
      return blocked(input, `${podFailure(cp)}. ${remedy(input, false)}`, [deletePod(cp, 'cleanup failed; a new one will retry')]);
    default:
      return { actions: [], requeueAfterMs: CLEANUP_POLL_MS };
  }
}
