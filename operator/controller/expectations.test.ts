import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import { PodExpectations } from './expectations.js';

const pod = (name: string, extra: Partial<V1Pod['metadata']> = {}): V1Pod => ({ metadata: { name, uid: `${name}-uid`, ...extra } });

test('a created pod is seen before the cache has it, then the cache takes over', () => {
  let now = 0;
  const e = new PodExpectations(1000, () => now);
  e.expectCreated('ns/a', pod('p2'));
  assert.deepEqual(e.overlay('ns/a', []).map((p) => p.metadata?.name), ['p2']);
  assert.deepEqual(e.overlay('ns/b', []), [], 'per key');
  assert.deepEqual(e.overlay('ns/a', [pod('p2')]).map((p) => p.metadata?.name), ['p2'], 'not twice');
  assert.deepEqual(e.overlay('ns/a', []), [], 'forgotten once seen');
});

test('a deleted pod looks terminating until the cache says so', () => {
  let now = 0;
  const e = new PodExpectations(1000, () => now);
  e.expectDeleted('ns/a', 'p1-uid');
  const [p] = e.overlay('ns/a', [pod('p1')]);
  assert.ok(p.metadata?.deletionTimestamp);
  const [q] = e.overlay('ns/a', [pod('p1', { deletionTimestamp: new Date(5) })]);
  assert.equal(q.metadata?.deletionTimestamp?.getTime(), 5);
  assert.equal(e.overlay('ns/a', [pod('p1')])[0].metadata?.deletionTimestamp, undefined, 'expectation met and dropped');
});

test('expectations expire, so a lost watch event cannot hide the truth for long', () => {
  let now = 0;
  const e = new PodExpectations(1000, () => now);
  e.expectCreated('ns/a', pod('p2'));
  e.expectDeleted('ns/a', 'p1-uid');
  now = 1000;
  assert.deepEqual(e.overlay('ns/a', [pod('p1')]).map((p) => [p.metadata?.name, Boolean(p.metadata?.deletionTimestamp)]), [['p1', false]]);
});

test('forgetKey drops everything of a deleted subsystem', () => {
  const e = new PodExpectations();
  e.expectCreated('ns/a', pod('p2'));
  e.forgetKey('ns/a');
  assert.deepEqual(e.overlay('ns/a', []), []);
});
