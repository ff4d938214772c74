import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { FastHistogram } from './fast-histogram.js';

test('the fast histogram exposes cumulative buckets, sum and count in the Prometheus text format', async () => {
  const r = new Registry();
  const h = new FastHistogram('x_seconds', 'help text', [0.001, 0.01], r);
  const s = h.child({ subsystem: 'a', opcode: 'read' });
  for (const v of [0.0005, 0.005, 0.005, 2]) s.observe(v);
  const text = await r.metrics();
  assert.match(text, /# TYPE x_seconds histogram/);
  assert.match(text, /x_seconds_bucket\{subsystem="a",opcode="read",le="0.001"\} 1\n/);
  assert.match(text, /x_seconds_bucket\{subsystem="a",opcode="read",le="0.01"\} 3\n/);
  assert.match(text, /x_seconds_bucket\{subsystem="a",opcode="read",le="\+Inf"\} 4\n/);
  assert.match(text, /x_seconds_count\{subsystem="a",opcode="read"\} 4\n/);
  assert.match(text, /x_seconds_sum\{subsystem="a",opcode="read"\} 2.0105\n/);
});
