import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SETTINGS, subsystem, withState } from '../testing/fixtures.js';
import type { Plan } from './actions.js';
import { desiredCleanupPod } from './cleanup-pod.js';
import { planFinalize, type FinalizeInput } from './finalize.js';

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
    ['Delete: cleanup failed is retried', input(deleting('Delete'), { cleanupPod: cleanup('Failed') }), ['delete:vol-cleanup', 'event:CleanupFailed'], true],
    ['Delete: never ran anywhere', input(deleting('Delete', {} as { node: string })), ['event:NothingToClean', 'removeFinalizer'], false],
    ['Delete: node gone, released with a Warning', input(deleting('Delete'), { nodeNames: new Set() }), ['event:CleanupSkipped', 'removeFinalizer'], false],
  ];
  for (const [what, inp, want, retry] of cases) {
    const plan = planFinalize(inp);
    assert.deepEqual(brief(plan), want, what);
    assert.equal(Boolean(plan.retry), retry, what);
    const releasing = plan.actions.some((a) => a.kind === 'removeFinalizer');
    if (inp.sub.metadata.finalizers?.length && !releasing) {
      assert.equal(plan.status?.conditions?.find((c) => c.type === 'Ready')?.reason, 'Deleting', what);
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
