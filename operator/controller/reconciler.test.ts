import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CoreV1Event, KubernetesObject, V1ConfigMap, V1Pod, V1Service } from '@kubernetes/client-node';
import type { NvmeofSubsystem, NvmeofSubsystemStatus, RecoveryStatus } from '../api/types.js';
import { desiredPod } from '../builders/pod.js';
import { realise } from '../builders/target-config.js';
import type { ClusterApi } from '../kube/cluster.js';
import { cacheOf, node, PRIVILEGED_NS, SETTINGS, subsystem, withState } from '../testing/fixtures.js';
import type { Caches } from './caches.js';
import { PodExpectations } from './expectations.js';
import { Reconciler, randomSuffix, refusal } from './reconciler.js';
import { CappedRetryError } from './work-queue.js';
import { DELETION_RETRY_MAX_MS } from '../builders/finalize.js';
import { KubeError } from '../kube/rest.js';

class FakeApi implements ClusterApi {
  calls: string[] = [];
  statuses: NvmeofSubsystemStatus[] = [];
  finalizers: string[][] = [];
  failOn?: string;
  failWith?: Error;
  async apply<T extends KubernetesObject>(obj: T): Promise<T> {
    this.calls.push(`apply ${obj.kind} ${obj.metadata?.name}`);
    if (this.failOn === obj.kind) throw this.failWith ?? new Error(`apply ${obj.kind} refused`);
    return { ...obj, metadata: { ...obj.metadata, uid: `${obj.metadata?.name}-uid`, creationTimestamp: new Date('2026-01-01T00:03:00Z') } };
  }
  /** Like the API server: every write makes a new resourceVersion; a finalizer patch carrying another is a Conflict. */
  resourceVersions = new Map<string, number>();
  private rv(s: NvmeofSubsystem): number {
    return this.resourceVersions.get(s.metadata.name!) ?? Number(s.metadata.resourceVersion ?? 0);
  }
  async applyStatus(s: NvmeofSubsystem, status: NvmeofSubsystemStatus): Promise<string | undefined> {
    this.calls.push('status');
    this.statuses.push(status);
    const next = this.rv(s) + 1;
    this.resourceVersions.set(s.metadata.name!, next);
    return String(next);
  }
  async setFinalizers(s: NvmeofSubsystem, f: string[]): Promise<void> {
    this.calls.push('finalizers');
    if (s.metadata.resourceVersion !== undefined && Number(s.metadata.resourceVersion) !== this.rv(s)) {
      throw new Error(`409 Operation cannot be fulfilled: resourceVersion ${s.metadata.resourceVersion} is not ${this.rv(s)}`);
    }
    this.finalizers.push(f);
    this.resourceVersions.set(s.metadata.name!, this.rv(s) + 1);
  }
  labels: Record<string, string>[] = [];
  async setLabels(_s: NvmeofSubsystem, labels: Record<string, string>): Promise<void> {
    this.calls.push('labels');
    this.labels.push(labels);
  }
  async delete(_v: string, kind: string, _ns: string, name: string): Promise<void> {
    this.calls.push(`delete ${kind} ${name}`);
  }
  async annotatePod(_ns: string, name: string): Promise<void> {
    this.calls.push(`annotate Pod ${name}`);
  }
  async createEvent(ev: CoreV1Event): Promise<void> {
    this.calls.push(`event ${ev.reason}`);
  }
  async patchEvent(): Promise<void> {}
}

function setup(subs: NvmeofSubsystem[], pods: V1Pod[] = [], recovery?: RecoveryStatus | Error) {
  const api = new FakeApi();
  const caches: Caches = {
    subsystems: cacheOf(subs), pods: cacheOf(pods), configMaps: cacheOf<V1ConfigMap>([]), services: cacheOf<V1Service>([]), budgets: cacheOf([]),
    nodes: cacheOf([node('n1')]), namespaces: cacheOf([PRIVILEGED_NS]),
  };
  const created: string[] = [];
  const events: string[] = [];
  const r = new Reconciler({
    caches, api, settings: SETTINGS, expectations: new PodExpectations(),
    events: { record: async (_s, type, reason) => { events.push(`${type}/${reason}`); } },
    readRecovery: async () => {
      if (recovery instanceof Error) throw recovery;
      if (!recovery) throw new Error('no target');
      return { recovery };
    },
    log: () => {},
    onPodCreated: (cause) => created.push(cause),
    now: () => new Date('2026-01-01T01:00:00Z'),
    podSuffix: () => 'abcde',
  });
  return { api, r, created, events, caches };
}

test('reconcile: a new subsystem gets its objects, one pod, and a status', async () => {
  const sub = subsystem({ reclaimPolicy: 'Delete' });
  const { api, r, created, events } = setup([sub]);
  const res = await r.reconcile('storage/vol');
  assert.equal(api.calls[0], 'status', 'the first status goes before the finalizer (the CRD\'s create-time rules hold an object without status)');
  assert.deepEqual(api.calls.filter((c) => c !== 'status'), [
    'finalizers', `apply ConfigMap ${api.calls[2].split(' ')[2]}`, 'apply Service vol-metrics', 'apply PodDisruptionBudget vol-target', 'apply Pod vol-target-abcde',
  ]);
  assert.deepEqual(api.finalizers, [['nvmeof.io/cleanup']]);
  assert.deepEqual(created, ['first']);
  assert.deepEqual(events, ['Normal/PodCreated']);
  assert.equal(api.statuses.length, 1);
  assert.equal(api.statuses[0].podName, 'vol-target-abcde');
  assert.equal(api.statuses[0].conditions?.find((c) => c.type === 'Ready')?.reason, 'PodCreating');
  assert.deepEqual(res, {});

  // The cache has not caught up with the pod just created: no second pod.
  api.calls = [];
  await r.reconcile('storage/vol');
  assert.ok(!api.calls.some((c) => c.startsWith('apply Pod ')), api.calls.join(', '));
});

/** The pod the operator would have created for `sub`, scheduled on n1 and ready. */
function readyPod(sub: NvmeofSubsystem): V1Pod {
  const rr = realise(sub, SETTINGS);
  assert.ok(rr.ok);
  return withState(desiredPod(sub, SETTINGS, rr.value, { name: 'vol-target-abcde', pinnedNode: 'n1' }), { node: 'n1', ready: true });
}

test('reconcile: a ready pod is read for recovery; a failed read keeps the last one', async () => {
  const recovery = { count: 2, bootCount: 2, outcomes: { fresh: 1, clean: 0, restored: 1, corrupt: 0 } };
  const base = subsystem({}, {}, { node: 'n1', podName: 'vol-target-abcde' });
  const ok = setup([base], [readyPod(base)], recovery);
  const res = await ok.r.reconcile('storage/vol');
  assert.deepEqual(ok.api.statuses[0].recovery, recovery);
  assert.equal(ok.api.statuses[0].endpoint, '10.0.0.5:4420');
  assert.ok(res.requeueAfterMs && res.requeueAfterMs > 0, 'a ready subsystem is read again later');

  const kept = setup([subsystem({}, {}, { ...base.status, recovery })], [readyPod(base)], new Error('timeout'));
  await kept.r.reconcile('storage/vol');
  assert.deepEqual(kept.api.statuses[0].recovery, recovery);
});

test('reconcile: a live change updates the ConfigMap and annotates the running pod; it deletes no pod', async () => {
  const recovery = { count: 1, bootCount: 1, outcomes: { fresh: 1, clean: 0, restored: 0, corrupt: 0 } };
  const was = subsystem({}, { generation: 1 }, { node: 'n1', podName: 'vol-target-abcde' });
  const grown = subsystem({ namespaces: [{ nsid: 1, size: '2Gi', blockSize: 512, backing: { file: { path: 'ns1.img' } } }] }, { generation: 2 }, was.status);
  const { api, r } = setup([grown], [readyPod(was)], recovery);
  const res = await r.reconcile('storage/vol');
  // (The Service, budget and labels are new to this cache: applied too.)
  const calls = api.calls.filter((c) => /ConfigMap|Pod /.test(c));
  assert.deepEqual(calls, ['apply ConfigMap vol-target-config', 'annotate Pod vol-target-abcde'], api.calls.join(', '));
  assert.ok(res.requeueAfterMs !== undefined && res.requeueAfterMs > 0);
});

test('reconcile: an unchanged status is not written again', async () => {
  const sub = subsystem({}, {}, { node: 'n1', podName: 'vol-target-abcde' });
  const recovery = { count: 1, bootCount: 1, outcomes: { fresh: 1, clean: 0, restored: 0, corrupt: 0 } };
  const { api, r, caches } = setup([sub], [readyPod(sub)], recovery);
  await r.reconcile('storage/vol');
  assert.equal(api.statuses.length, 1);
  (caches.subsystems as ReturnType<typeof cacheOf<NvmeofSubsystem>>).items[0] = subsystem({}, {}, api.statuses[0]);
  await r.reconcile('storage/vol');
  assert.equal(api.statuses.length, 1, 'the second reconcile found the status as it should be');
});

test('reconcile: a failed write throws (the queue retries with backoff)', async () => {
  const { api, r } = setup([subsystem()]);
  api.failOn = 'Service';
  await assert.rejects(r.reconcile('storage/vol'), /apply Service refused/);
});

test('reconcile: a key whose resource is gone does nothing', async () => {
  const { api, r } = setup([]);
  assert.deepEqual(await r.reconcile('storage/vol'), {});
  assert.deepEqual(api.calls, []);
});

test('reconcile: a deleted resource with reclaimPolicy Delete runs the finalizer plan', async () => {
  const sub = subsystem({ reclaimPolicy: 'Delete' }, { deletionTimestamp: new Date('2026-01-01T00:50:00Z'), finalizers: ['nvmeof.io/cleanup'] }, { node: 'n1' });
  const { api, r, events } = setup([sub]);
  const res = await r.reconcile('storage/vol');
  assert.deepEqual(api.calls.filter((c) => c !== 'status'), ['apply Pod vol-cleanup']);
  assert.deepEqual(events, ['Normal/CleanupStarted']);
  assert.ok(res.requeueAfterMs);
});

test('reconcile: a cleanup pod the API refuses is CleanupBlocked in its words, retried within the deletion cap', async () => {
  const sub = subsystem({ reclaimPolicy: 'Delete' }, { deletionTimestamp: new Date('2026-01-01T00:50:00Z'), finalizers: ['nvmeof.io/cleanup'] }, { node: 'n1' });
  const { api, r, events } = setup([sub]);
  const said = 'pods "vol-cleanup" is forbidden: violates PodSecurity "baseline:latest": hostPath volumes (volume "namespace-dir")';
  api.failOn = 'Pod';
  api.failWith = new KubeError(403, 'Forbidden', `apply Pod storage/vol-cleanup: 403 ${said}`, undefined, said);
  const err = await r.reconcile('storage/vol').then(() => undefined, (e: unknown) => e);
  assert.ok(err instanceof CappedRetryError, String(err));
  assert.equal(err.maxDelayMs, DELETION_RETRY_MAX_MS);
  const ready = api.statuses.at(-1)?.conditions?.find((c) => c.type === 'Ready');
  assert.equal(ready?.reason, 'CleanupBlocked');
  assert.ok(ready?.message.startsWith(`${said}. The deletion waits: label namespace storage`), ready?.message);
  assert.equal(err.message, ready?.message, 'the log says what the condition says');
  assert.deepEqual(events, ['Warning/CleanupBlocked']);
  assert.deepEqual(api.finalizers, [], 'the finalizer holds');
});

test('reconcile: a deletion step that only needs a retry (a Conflict) sets no condition, and is capped too', async () => {
  const sub = subsystem({ reclaimPolicy: 'Delete' }, { deletionTimestamp: new Date('2026-01-01T00:50:00Z'), finalizers: ['nvmeof.io/cleanup'] }, { node: 'n1' });
  const { api, r, events } = setup([sub]);
  api.failOn = 'Pod';
  api.failWith = new KubeError(409, 'Conflict', 'apply Pod storage/vol-cleanup: 409 the object has been modified', undefined, 'the object has been modified');
  await assert.rejects(r.reconcile('storage/vol'), (e: unknown) => e instanceof CappedRetryError && /409/.test(e.message));
  assert.deepEqual(api.statuses, []);
  assert.deepEqual(events, []);
  assert.equal(refusal(new Error('connect ECONNREFUSED')), undefined, 'an API that did not answer refused nothing');
});

test('port conflicts are judged across all subsystems in the cache', async () => {
  const a = subsystem({}, { name: 'a', uid: 'ua', creationTimestamp: new Date('2026-01-01T00:00:00Z') }, { node: 'n1' });
  const b = subsystem({ placement: { nodeName: 'n1' } }, { name: 'b', uid: 'ub', creationTimestamp: new Date('2026-01-02T00:00:00Z') });
  const { api, r } = setup([a, b]);
  await r.reconcile('storage/b');
  assert.ok(!api.calls.some((c) => c.startsWith('apply Pod ')));
  const ready = api.statuses[0].conditions?.find((c) => c.type === 'Ready');
  assert.equal(ready?.reason, 'PortConflict');
  assert.match(ready?.message ?? '', /storage\/a/);
});

test('randomSuffix: five characters a DNS name accepts', () => {
  for (let i = 0; i < 20; i++) assert.match(randomSuffix(), /^[a-z0-9]{5}$/);
});
