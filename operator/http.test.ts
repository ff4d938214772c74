import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { startHttpServer } from './http.js';

test('/healthz, /readyz and /metrics', async () => {
  let ready = false;
  const server = await startHttpServer(0, {
    ready: () => ({ ok: ready, why: ready ? 'leader: caches synced' : 'leader: caches not synced yet' }),
    metrics: async () => 'nvmeof_operator_queue_depth 0\n',
    metricsContentType: 'text/plain; version=0.0.4',
  }, '127.0.0.1');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    const notReady = await fetch(`${base}/readyz`);
    assert.equal(notReady.status, 503);
    assert.match(await notReady.text(), /not synced/);
    ready = true;
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    const m = await fetch(`${base}/metrics`);
    assert.equal(m.headers.get('content-type'), 'text/plain; version=0.0.4');
    assert.match(await m.text(), /nvmeof_operator_queue_depth 0/);
    assert.equal((await fetch(`${base}/nope`)).status, 404);
    assert.equal((await fetch(`${base}/healthz`, { method: 'POST' })).status, 405);
  } finally {
    await new Promise((r) => server.close(r));
  }
});
