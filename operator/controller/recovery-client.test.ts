import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { httpRecoveryReader } from './recovery-client.js';

test('reads and checks the target\'s /recovery from the pod IP', async () => {
  let body = JSON.stringify({ count: 2, outcomes: { fresh: 1, clean: 0, restored: 1, corrupt: 0 }, bootCount: 2, last: null });
  const server = http.createServer((req, res) => {
    if (req.url !== '/recovery') { res.writeHead(404); return res.end(); }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const read = httpRecoveryReader(500);
  const pod = { metadata: { name: 'p' }, status: { podIP: '127.0.0.1' } };
  try {
    const first = await read(pod, port);
    assert.equal(first.recovery.count, 2);
    assert.equal(first.config, undefined, 'a target before live configuration reports no config');
    body = JSON.stringify({ count: 2, outcomes: {}, bootCount: 2, config: { generation: 7, appliedAt: '2026-01-01T00:00:00Z', rejected: { generation: 8, error: 'subsystems[0].namespaces[0].backing.size: shrunk', at: '2026-01-01T00:00:05Z' } } });
    assert.deepEqual((await read(pod, port)).config, {
      servedGeneration: 7, appliedAt: '2026-01-01T00:00:00.000Z',
      rejected: { generation: 8, error: 'subsystems[0].namespaces[0].backing.size: shrunk', at: '2026-01-01T00:00:05.000Z' },
    });
    body = JSON.stringify({ count: 2, outcomes: {}, bootCount: 2, config: { generation: -1 } });
    await assert.rejects(read(pod, port), /config\.generation must be a non-negative integer/);
    body = '{"count": "many", "outcomes": {}, "bootCount": 1}';
    await assert.rejects(read(pod, port), /count/);
    body = 'not json';
    await assert.rejects(read(pod, port), /not JSON/);
    await assert.rejects(read({ metadata: { name: 'p' }, status: {} }, port), /no IP/);
  } finally {
    await new Promise((r) => server.close(r));
  }
});
