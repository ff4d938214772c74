import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fakeApiserver, status } from '../testing/fake-apiserver.js';
import { isConflict, isNotFound, KubeError, KubeRest } from './rest.js';

test('requests carry the token, the query and a JSON body', async () => {
  const api = await fakeApiserver(() => ({ body: { kind: 'Lease' } }));
  try {
    const got = await new KubeRest(api.kc, 2000).request('PUT', '/apis/coordination.k8s.io/v1/namespaces/a/leases/l', { query: { limit: 5, watch: false, skip: undefined }, body: { a: 1 } });
    assert.deepEqual(got, { kind: 'Lease' });
  } finally {
    await api.close();
  }
  assert.deepEqual(api.seen, [{
    method: 'PUT', url: '/apis/coordination.k8s.io/v1/namespaces/a/leases/l?limit=5&watch=false', auth: 'Bearer tok', type: 'application/json', body: '{"a":1}',
  }]);
});

test('API errors become KubeErrors with the Status reason', async () => {
  const api = await fakeApiserver((req) => req.url.includes('missing') ? status(404, 'NotFound', 'pods "missing" not found') : status(409, 'Conflict', 'conflict'));
  try {
    const rest = new KubeRest(api.kc, 2000);
    const nf = await rest.request('GET', '/api/v1/namespaces/a/pods/missing').catch((e) => e);
    assert.ok(nf instanceof KubeError && isNotFound(nf) && nf.reason === 'NotFound');
    assert.match(nf.message, /not found/);
    const cf = await rest.request('PUT', '/x').catch((e) => e);
    assert.ok(isConflict(cf));
  } finally {
    await api.close();
  }
});

test('a server that does not answer times out', async () => {
  const api = await fakeApiserver(() => undefined);
  try {
    await assert.rejects(new KubeRest(api.kc, 2000).request('GET', '/slow', { timeoutMs: 50 }), /no answer in 50 ms/);
  } finally {
    await api.close();
  }
});
