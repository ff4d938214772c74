import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Node } from '@kubernetes/client-node';
import { notReadyForMs, observeNode, shortDuration } from './node-state.js';

const node = (spec: V1Node['spec'], ready?: { status: string; reason?: string; message?: string; since?: string }): V1Node => ({
  metadata: { name: 'n1' },
  spec,
  status: ready ? { conditions: [{ type: 'Ready', status: ready.status, reason: ready.reason, message: ready.message, lastTransitionTime: (ready.since ?? '2026-01-01T00:00:00Z') as unknown as Date }] } : {},
});

test('observeNode: cordoned, Ready, and since when not', () => {
  assert.deepEqual(observeNode(node({}, { status: 'True', reason: 'KubeletReady' })), { name: 'n1', cordoned: false, ready: true });
  assert.deepEqual(observeNode(node({ unschedulable: true }, { status: 'True' })), { name: 'n1', cordoned: true, ready: true });
  assert.deepEqual(observeNode(node({}, { status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', since: '2026-01-01T00:01:00Z' })), {
    name: 'n1', cordoned: false, ready: false, notReadySince: '2026-01-01T00:01:00.000Z', notReadyWhy: 'NodeStatusUnknown: Kubelet stopped posting node status.',
  });
  assert.equal(observeNode(node({}, { status: 'False', reason: 'KubeletNotReady' })).ready, false);
  assert.equal(observeNode(node({})).ready, true, 'a node that posted no Ready condition yet is not called NotReady');
});

test('notReadyForMs and shortDuration', () => {
  const n = observeNode(node({}, { status: 'Unknown', since: '2026-01-01T00:00:00Z' }));
  assert.equal(notReadyForMs(n, '2026-01-01T00:01:05Z'), 65_000);
  assert.equal(notReadyForMs(observeNode(node({}, { status: 'True' })), '2026-01-01T00:01:05Z'), 0);
  assert.equal(shortDuration(65_000), '1m5s');
  assert.equal(shortDuration(5_000), '5s');
  assert.equal(shortDuration(3_600_000), '1h0m0s');
});
