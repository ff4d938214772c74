import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { ContentType, isConflict, isNotFound, KubeError, KubeRest } from './rest.js';

async function withServer(handler: http.RequestListener, fn: (rest: KubeRest) => Promise<void>): Promise<void> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'tok' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  try {
    await fn(new KubeRest(kc, 2000));
  } finally {
    await new Promise((r) => server.close(r));
  }
}

test('requests carry the token, the query, the body and its content type', async () => {
  const seen: Array<Record<string, unknown>> = [];
  await withServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, type: req.headers['content-type'], body });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"kind":"Pod"}');
    });
  }, async (rest) => {
    const got = await rest.request('PATCH', '/api/v1/namespaces/a/pods/p', { query: { fieldManager: 'nvmeof-operator', force: true, skip: undefined }, body: { a: 1 }, contentType: ContentType.apply });
    assert.deepEqual(got, { kind: 'Pod' });
  });
  assert.deepEqual(seen, [{
    method: 'PATCH', url: '/api/v1/namespaces/a/pods/p?fieldManager=nvmeof-operator&force=true', auth: 'Bearer tok', type: 'application/apply-patch+yaml', body: '{"a":1}',
  }]);
});

test('API errors become KubeErrors with the Status reason', async () => {
  await withServer((req, res) => {
    const code = req.url?.includes('missing') ? 404 : 409;
    res.writeHead(code, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', reason: code === 404 ? 'NotFound' : 'Conflict', message: `pods "x" ${code === 404 ? 'not found' : 'conflict'}` }));
  }, async (rest) => {
    const nf = await rest.request('GET', '/api/v1/namespaces/a/pods/missing').catch((e) => e);
    assert.ok(nf instanceof KubeError && isNotFound(nf) && nf.reason === 'NotFound');
    assert.match(nf.message, /not found/);
    const cf = await rest.request('PUT', '/x').catch((e) => e);
    assert.ok(isConflict(cf));
  });
});

test('a server that does not answer times out', async () => {
  await withServer(() => { /* never answers */ }, async (rest) => {
    await assert.rejects(rest.request('GET', '/slow', { timeoutMs: 50 }), /no answer in 50 ms/);
  });
});
