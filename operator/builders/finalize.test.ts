import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SETTINGS, subsystem, withState } from '../testing/fixtures.js';
import type { Plan } from './actions.js';
import { desiredCleanupPod } from './cleanup-pod.js';
import { planCleanupBlocked, planFinalize, type FinalizeInput } from './finalize.js';

const deleting = (policy: 'Retain' | 'Delete', status = { node: 'n1' }, finalizers = ['nvmeof.io/cleanup']) =>
  subsystem({ reclaimPolicy: policy }, { deletionTimestamp: '2026-01-01T02:00:00Z' as unknown as Date, finalizers }, status);
const cleanup = (phase?: string, deletingPod = false) =>
  withState(desiredCleanupPod(deleting('Delete'), SETTINGS, 'n1', '/var/lib/nvmeof/storage/vol'), { node: 'n1', ...(phase ? { phase } : {}), deleting: deletingPod });
const target = (deletingPod = false) => withState({ metadata: { name: 'vol-target-a' }, spec: { containers: [] } }, { node: 'n1', deleting: deletingPod });

function input(sub: ReturnType<typeof deleting>, over: Partial<FinalizeInput> = {}): FinalizeInput {
  return { sub, settings: SETTINGS, targetPods: [], nodeNames: new Set(['n1']), now: '2026-01-01T02:00:01Z', ...over };
}
function brief(p: Plan): string[] {
  return p.actions.map((a) => (a.kind === 'delete' ? `delete:${a.name}` : a.kind === 'event' ? `event:${a.reason}` : a.kind === 'apply' ? `apply:${a.object.metadata?.name}` : a.kind));
}

test('planFinalize: table', () => {
  const cases: Array<[string, FinalizeInput, string[], boolean]> = [
    ['no finalizer: nothing to do', input(deleting('Delete', { node: 'n1' }, [])), [], false],
    ['Retain: release at once, data stays', input(deleting('Retain')), ['removeFinalizer'], false],
    ['Delete: target pods go first', input(deleting('Delete'), { targetPods: [target()] }), ['delete:vol-target-a'], false],
    ['Delete: wait for terminating target pods', input(deleting('Delete'), { targetPods: [target(true)] }), [], false],
    ['Delete: then a cleanup pod on the node', input(deleting('Delete')), ['apply:vol-cleanup', 'event:CleanupStarted'], false],
    ['Delete: cleanup running', input(deleting('Delete'), { cleanupPod: cleanup('Running') }), [], false],
    ['Delete: cleanup done releases the resource', input(deleting('Delete'), { cleanupPod: cleanup('Succeeded') }), ['delete:vol-cleanup', 'event:DirectoryRemoved', 'removeFinalizer'], false],
    ['Delete: cleanup failed is retried', input(deleting('Delete'), { cleanupPod: cleanup('Failed') }), ['delete:vol-cleanup', 'event:CleanupBlocked'], true],
    ['Delete: never ran anywhere', input(deleting('Delete', {} as { node: string })), ['event:NothingToClean', 'removeFinalizer'], false],
    ['Delete: node gone, released with a Warning', input(deleting('Delete'), { nodeNames: new Set() }), ['event:CleanupSkipped', 'removeFinalizer'], false],
  ];
  for (const [what, inp, want, retry] of cases) {
    const plan = planFinalize(inp);
    assert.deepEqual(brief(plan), want, what);
    assert.equal(Boolean(plan.retry), retry, what);
    const releasing = plan.actions.some((a) => a.kind === 'removeFinalizer');
    if (inp.sub.metadata.finalizers?.length && !releasing) {
      assert.equal(plan.status?.conditions?.find((c) => c.type === 'Ready')?.reason, retry ? 'CleanupBlocked' : 'Deleting', what);
    }
  }
});

test('planFinalize: the cleanup pod removes exactly this subsystem\'s directory', () => {
  const plan = planFinalize(input(deleting('Delete')));
  const a = plan.actions[0];
  assert.equal(a.kind, 'apply');
  if (a.kind === 'apply') {
    const pod = a.object as ReturnType<typeof desiredCleanupPod>;
    assert.equal(pod.spec!.containers[0].command!.at(-1), '/nvmeof-namespace/vol');
    assert.equal(pod.spec!.volumes![0].hostPath!.path, '/var/lib/nvmeof/storage');
  }
});

const REFUSAL = 'pods "vol-cleanup" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes (volume "namespace-dir")';
const conditionsOf = (p: Plan) => Object.fromEntries((p.status?.conditions ?? []).map((c) => [c.type, `${c.status} ${c.reason}`]));

test('planCleanupBlocked: the API\'s words first, then what to do; the same in the condition and the Warning event', () => {
  const plan = planCleanupBlocked(input(deleting('Delete')), REFUSAL);
  const ready = plan.status?.conditions?.find((c) => c.type === 'Ready');
  assert.equal(ready?.message,
    `${REFUSAL}. The deletion waits: label namespace storage pod-security.kubernetes.io/enforce=privileged (the cleanup pod mounts a hostPath) ` +
    'and it completes by itself, or remove the finalizer nvmeof.io/cleanup by hand, which leaves /var/lib/nvmeof/storage/vol on node n1 in place');
  assert.deepEqual(conditionsOf(plan), { Ready: 'False CleanupBlocked', Progressing: 'False CleanupBlocked', Degraded: 'True CleanupBlocked' });
  assert.deepEqual(plan.actions, [{ kind: 'event', type: 'Warning', reason: 'CleanupBlocked', message: ready?.message }]);
  assert.ok(plan.retry, 'retried');
  assert.ok(!plan.actions.some((a) => a.kind === 'removeFinalizer'), 'the finalizer holds');
  assert.deepEqual(planCleanupBlocked(input(deleting('Delete')), REFUSAL), plan, 'the same message on every attempt: one aggregated Event');
});

test('planCleanupBlocked: another refusal gets no Pod Security advice', () => {
  const plan = planCleanupBlocked(input(deleting('Delete')), 'pods "vol-cleanup" is forbidden: exceeded quota: q, requested: pods=1, used: pods=5, limited: pods=5.');
  const msg = plan.status?.conditions?.find((c) => c.type === 'Ready')?.message ?? '';
  assert.match(msg, /^pods "vol-cleanup" is forbidden: exceeded quota: q, requested: pods=1, used: pods=5, limited: pods=5\. The deletion waits: fix the cause and it completes/);
  assert.doesNotMatch(msg, /privileged/);
});

test('planFinalize: a failed cleanup pod is CleanupBlocked in its own words', () => {
  const failed = cleanup('Failed');
  failed.status!.containerStatuses = [{
    name: 'cleanup', ready: false, restartCount: 0, image: '', imageID: '',
    state: { terminated: { exitCode: 1, reason: 'Error', message: "Error: EACCES: permission denied, rmdir '/nvmeof-namespace/vol'\n" } },
  }];
  const plan = planFinalize(input(deleting('Delete'), { cleanupPod: failed }));
  const ready = plan.status?.conditions?.find((c) => c.type === 'Ready');
  assert.equal(ready?.reason, 'CleanupBlocked');
  assert.match(ready?.message ?? '', /^cleanup pod vol-cleanup on node n1 failed: exit code 1: Error: EACCES: permission denied, rmdir '\/nvmeof-namespace\/vol'\. The deletion waits: fix the cause/);
  assert.deepEqual(brief(plan), ['delete:vol-cleanup', 'event:CleanupBlocked']);
});

test('planFinalize: CleanupBlocked stays the condition until a new cleanup pod runs', () => {
  const blocked = planCleanupBlocked(input(deleting('Delete')), REFUSAL).status!;
  const sub = { ...deleting('Delete'), status: { ...blocked, node: 'n1' } };
  const retry = planFinalize(input(sub));
  assert.deepEqual(brief(retry), ['apply:vol-cleanup', 'event:CleanupStarted'], 'the retry makes a new cleanup pod');
  assert.equal(retry.status, undefined, 'and leaves the condition as it is');
  assert.equal(planFinalize(input(sub, { cleanupPod: cleanup(undefined, true) })).status, undefined, 'the failed one is still going');
  const running = planFinalize(input(sub, { cleanupPod: cleanup('Running') }));
  assert.deepEqual(conditionsOf(running), { Ready: 'False Deleting', Progressing: 'True Deleting', Degraded: 'False AsExpected' }, 'a running cleanup is progress');
});
