import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KubernetesObject } from '@kubernetes/client-node';
import { desiredCleanupPod } from '../builders/cleanup-pod.js';
import { desiredConfigMap } from '../builders/configmap.js';
import { desiredPod } from '../builders/pod.js';
import { desiredService } from '../builders/service.js';
import { realise } from '../builders/target-config.js';
import { eventFor } from '../controller/events.js';
import { fakeApiserver, status, type Answer, type FakeApiserver, type SeenRequest } from '../testing/fake-apiserver.js';
import { SETTINGS, subsystem } from '../testing/fixtures.js';
import { FIELD_MANAGER, KubeClusterApi } from './cluster.js';
import { KubeError } from './rest.js';

const APPLY = 'application/apply-patch+yaml';
const MERGE = 'application/merge-patch+json';
const FORCED = `fieldManager=${FIELD_MANAGER}&force=true`;

/** A KubeClusterApi against a fake apiserver that answers each write with its body (as the object). */
async function withApi(fn: (api: KubeClusterApi, server: FakeApiserver) => Promise<void>, handler?: (req: SeenRequest) => Answer): Promise<SeenRequest[]> {
  const server = await fakeApiserver((req) => handler?.(req) ?? { body: req.body ? JSON.parse(req.body) : {} });
  try {
    await fn(new KubeClusterApi(server.kc, 2000), server);
  } finally {
    await server.close();
  }
  return server.seen;
}

const plain = (o: unknown) => JSON.parse(JSON.stringify(o)) as unknown;

test('apply is a server-side apply by nvmeof-operator, forced, of the object exactly as built', async () => {
  const sub = subsystem();
  const r = realise(sub, SETTINGS);
  assert.ok(r.ok);
  const objects: KubernetesObject[] = [
    desiredConfigMap(sub, r.value),
    desiredService(sub, r.value),
    desiredPod(sub, SETTINGS, r.value, { name: 'vol-abcde', pinnedNode: 'n1' }),
    desiredCleanupPod(sub, SETTINGS, 'n1', '/var/lib/nvmeof/storage/vol'),
  ];
  const seen = await withApi(async (api, server) => {
    for (const o of objects) {
      const back = await api.apply(structuredClone(o));
      assert.equal(back.metadata?.name, o.metadata?.name, 'the server\'s answer');
    }
    await assert.rejects(api.apply({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'storage' } }), /does not write apps\/v1 Deployment/);
    assert.deepEqual(server.discoveries, ['/api/v1'], 'discovery once per apiVersion');
  });
  const paths = ['configmaps', 'services', 'pods', 'pods'];
  assert.deepEqual(seen.map((s) => [s.method, s.url, s.type, s.auth]), objects.map((o, i) =>
    ['PATCH', `/api/v1/namespaces/storage/${paths[i]}/${o.metadata?.name}?${FORCED}`, APPLY, 'Bearer tok']));
  // client-node serializes through its model classes: nothing the builders set may be lost on the way.
  seen.forEach((s, i) => assert.deepEqual(JSON.parse(s.body), plain(objects[i]), `${objects[i].kind} ${objects[i].metadata?.name}`));
});

test('status goes to the status subresource by apply; finalizers by a merge patch carrying the resourceVersion', async () => {
  const sub = subsystem();
  const seen = await withApi(async (api) => {
    await api.applyStatus(sub, { nqn: 'nqn.x' });
    await api.setFinalizers(sub, ['nvmeof.io/cleanup']);
    await api.setFinalizers(sub, []);
  });
  const base = '/apis/nvmeof.io/v1alpha1/namespaces/storage/nvmeofsubsystems/vol';
  assert.deepEqual(seen.map((s) => [s.method, s.url, s.type, JSON.parse(s.body)]), [
    ['PATCH', `${base}/status?${FORCED}`, APPLY, { apiVersion: 'nvmeof.io/v1alpha1', kind: 'NvmeofSubsystem', metadata: { name: 'vol', namespace: 'storage' }, status: { nqn: 'nqn.x' } }],
    ['PATCH', base, MERGE, { metadata: { resourceVersion: '10', finalizers: ['nvmeof.io/cleanup'] } }],
    ['PATCH', base, MERGE, { metadata: { resourceVersion: '10', finalizers: [] } }],
  ]);
});

test('a pod is annotated by a merge patch whose metadata.uid is the precondition; gone or replaced is not an error', async () => {
  let answer: Answer;
  const seen = await withApi(async (api) => {
    await api.annotatePod('storage', 'p', 'u1', { 'nvmeof.io/config-generation': '3' });
    answer = status(409, 'Conflict', 'Precondition failed: UID in precondition: u1, UID in object meta: u2');
    await api.annotatePod('storage', 'p', 'u1', { 'nvmeof.io/config-generation': '4' });
    answer = status(403, 'Forbidden', 'no');
    await assert.rejects(api.annotatePod('storage', 'p', 'u1', {}), /annotate Pod storage\/p: 403/);
  }, (req) => answer ?? { body: JSON.parse(req.body) });
  seen.pop();
  assert.deepEqual(seen.map((s) => [s.method, s.url.replace(/\?.*$/, ''), s.type, JSON.parse(s.body)]), [3, 4].map((g) => [
    'PATCH', '/api/v1/namespaces/storage/pods/p', MERGE,
    { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'storage', uid: 'u1', annotations: { 'nvmeof.io/config-generation': String(g) } } },
  ]));
});

test('delete carries a uid precondition; gone or replaced is not an error, anything else is a KubeError', async () => {
  let answer: Answer;
  const seen = await withApi(async (api) => {
    await api.delete('v1', 'Pod', 'storage', 'p', 'u1');
    for (const [code, reason] of [[404, 'NotFound'], [409, 'Conflict']] as const) {
      answer = status(code, reason, 'x');
      await api.delete('v1', 'Pod', 'storage', 'p', 'u1');
    }
    answer = status(403, 'Forbidden', 'pods "p" is forbidden: no');
    const err = await api.delete('v1', 'Pod', 'storage', 'p').catch((e: unknown) => e);
    assert.ok(err instanceof KubeError && err.code === 403 && err.reason === 'Forbidden', String(err));
    assert.equal(err.message, 'delete Pod storage/p: 403 pods "p" is forbidden: no', 'the Status message, not the response headers');
    await assert.rejects(api.delete('apps/v1', 'Deployment', 'storage', 'd'), /does not delete/);
  }, () => answer);
  assert.deepEqual(seen.map((s) => [s.method, s.url]), Array(4).fill(['DELETE', '/api/v1/namespaces/storage/pods/p']));
  assert.deepEqual(JSON.parse(seen[0].body), { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background', preconditions: { uid: 'u1' } });
  assert.deepEqual(JSON.parse(seen[3].body), { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background' });
});

test('events are created as built and bumped by a merge patch', async () => {
  const ev = eventFor(subsystem(), 'Warning', 'NodeGone', 'node n1 is gone', Date.UTC(2026, 0, 1), 'op-0');
  const seen = await withApi(async (api) => {
    await api.createEvent(structuredClone(ev));
    await api.patchEvent('storage', 'vol.1', { count: 2, lastTimestamp: '2026-01-01T00:00:10Z' as unknown as Date });
  });
  assert.deepEqual(seen.map((s) => [s.method, s.url, s.type]), [
    ['POST', '/api/v1/namespaces/storage/events', 'application/json'],
    ['PATCH', '/api/v1/namespaces/storage/events/vol.1', MERGE],
  ]);
  assert.deepEqual(JSON.parse(seen[0].body), plain(ev));
  assert.deepEqual(JSON.parse(seen[1].body), { apiVersion: 'v1', kind: 'Event', metadata: { name: 'vol.1', namespace: 'storage' }, count: 2, lastTimestamp: '2026-01-01T00:00:10Z' });
});

test('a write the apiserver does not answer times out', async () => {
  const server = await fakeApiserver(() => undefined);
  try {
    await assert.rejects(new KubeClusterApi(server.kc, 100).applyStatus(subsystem(), {}), /^Error: apply status of NvmeofSubsystem storage\/vol: no answer in 100 ms$/);
  } finally {
    await server.close();
  }
});
