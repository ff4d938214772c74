import assert from 'node:assert/strict';
import { test } from 'node:test';
import { node, subsystem } from '../testing/fixtures.js';
import { nodeSignature, reconcileSignature } from './manager.js';

test('reconcileSignature: status and resourceVersion changes do not wake a reconcile; the rest does', () => {
  const base = reconcileSignature(subsystem());
  assert.equal(reconcileSignature(subsystem({}, { resourceVersion: '99' }, { node: 'n1', podName: 'p' })), base);
  for (const changed of [
    subsystem({}, { generation: 2 }),
    subsystem({}, { deletionTimestamp: new Date() }),
    subsystem({}, { finalizers: ['nvmeof.io/cleanup'] }),
    subsystem({}, { labels: { a: 'b' } }),
    subsystem({}, { uid: 'other' }),
  ]) assert.notEqual(reconcileSignature(changed), base);
});

test('nodeSignature: a kubelet heartbeat does not wake every subsystem; what planning reads does', () => {
  const base = { ...node('n1', { zone: 'a' }), status: { allocatable: { memory: '8Gi' }, conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: new Date(1) }] } };
  const heartbeat = { ...base, metadata: { ...base.metadata, resourceVersion: '7' }, status: { ...base.status, conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: new Date(2) }] } };
  assert.equal(nodeSignature(heartbeat), nodeSignature(base));
  for (const changed of [
    { ...base, metadata: { ...base.metadata, labels: { zone: 'b' } } },
    { ...base, spec: { unschedulable: true } },
    { ...base, status: { ...base.status, allocatable: { memory: '4Gi' } } },
    // NotReady (the kubelet's word, or the node lifecycle controller's Unknown): the subsystems on it say so.
    { ...base, status: { ...base.status, conditions: [{ type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown', lastHeartbeatTime: new Date(1) }] } },
    { ...base, status: { ...base.status, conditions: [{ type: 'Ready', status: 'False', reason: 'KubeletNotReady', lastHeartbeatTime: new Date(1) }] } },
  ]) assert.notEqual(nodeSignature(changed), nodeSignature(base));
});
