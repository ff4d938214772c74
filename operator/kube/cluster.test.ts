import assert from 'node:assert/strict';
import { test } from 'node:test';
import { subsystem } from '../testing/fixtures.js';
import { FIELD_MANAGER, RestClusterApi } from './cluster.js';
import { ContentType, KubeError, type RequestOptions, type Rest } from './rest.js';

class Recorder implements Rest {
  calls: Array<{ method: string; path: string; opts: RequestOptions }> = [];
  fail?: KubeError;
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    this.calls.push({ method, path, opts });
    if (this.fail) throw this.fail;
    return (opts.body ?? {}) as T;
  }
}

test('apply is a server-side apply by nvmeof-operator, forced', async () => {
  const rest = new Recorder();
  const api = new RestClusterApi(rest);
  await api.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'storage' } });
  await api.apply({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'storage' } });
  assert.deepEqual(rest.calls.map((c) => [c.method, c.path, c.opts.contentType, c.opts.query]), [
    ['PATCH', '/api/v1/namespaces/storage/configmaps/c', ContentType.apply, { fieldManager: FIELD_MANAGER, force: true }],
    ['PATCH', '/api/v1/namespaces/storage/pods/p', ContentType.apply, { fieldManager: FIELD_MANAGER, force: true }],
  ]);
  await assert.rejects(api.apply({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' } }), /does not write/);
});

test('status goes to the status subresource by apply; finalizers by a merge patch carrying the resourceVersion', async () => {
  const rest = new Recorder();
  const api = new RestClusterApi(rest);
  const sub = subsystem();
  await api.applyStatus(sub, { nqn: 'nqn.x' });
  await api.setFinalizers(sub, ['nvmeof.io/cleanup']);
  assert.equal(rest.calls[0].path, '/apis/nvmeof.io/v1alpha1/namespaces/storage/nvmeofsubsystems/vol/status');
  assert.equal(rest.calls[0].opts.contentType, ContentType.apply);
  assert.deepEqual(rest.calls[0].opts.body, { apiVersion: 'nvmeof.io/v1alpha1', kind: 'NvmeofSubsystem', metadata: { name: 'vol', namespace: 'storage' }, status: { nqn: 'nqn.x' } });
  assert.equal(rest.calls[1].path, '/apis/nvmeof.io/v1alpha1/namespaces/storage/nvmeofsubsystems/vol');
  assert.equal(rest.calls[1].opts.contentType, ContentType.merge);
  assert.deepEqual(rest.calls[1].opts.body, { metadata: { resourceVersion: '10', finalizers: ['nvmeof.io/cleanup'] } });
});

test('delete carries a uid precondition; gone or replaced is not an error', async () => {
  const rest = new Recorder();
  const api = new RestClusterApi(rest);
  await api.delete('v1', 'Pod', 'storage', 'p', 'u1');
  assert.deepEqual(rest.calls[0].opts.body, { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background', preconditions: { uid: 'u1' } });
  for (const code of [404, 409]) {
    rest.fail = new KubeError(code, 'x', 'x');
    await api.delete('v1', 'Pod', 'storage', 'p', 'u1');
  }
  rest.fail = new KubeError(403, 'Forbidden', 'forbidden');
  await assert.rejects(api.delete('v1', 'Pod', 'storage', 'p'), /forbidden/);
});
