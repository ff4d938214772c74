import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay } from './backoff.js';

test('backoffDelay: doubles per failure up to the cap', () => {
  const p = { baseMs: 100, maxMs: 1000 };
  assert.deepEqual([0, 1, 2, 3, 4, 5, 100].map((n) => backoffDelay(n, p)), [100, 200, 400, 800, 1000, 1000, 1000]);
});

test('backoffDelay: jitter spreads within [d, d*(1+jitter)] and never beyond the cap', () => {
  const p = { baseMs: 100, maxMs: 1000, jitter: 0.5 };
  assert.equal(backoffDelay(1, p, () => 0), 200);
  assert.equal(backoffDelay(1, p, () => 1), 300);
  assert.equal(backoffDelay(10, p, () => 1), 1000);
});
