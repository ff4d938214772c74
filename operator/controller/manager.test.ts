import assert from 'node:assert/strict';
import { test } from 'node:test';
import { subsystem } from '../testing/fixtures.js';
import { reconcileSignature } from './manager.js';

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
