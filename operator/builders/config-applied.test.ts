import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configAppliedCondition, configTriple, rejectionEvent, type ConfigObservation } from './config-applied.js';

const AT = '2026-01-01T00:00:00.000Z';
const REJECTED = { generation: 7, error: 'subsystems[0].serial: cannot change in a running target', at: AT };

test('configTriple: the ConfigApplied condition from what the target reports', () => {
  const cases: Array<[string, ConfigObservation, string, string]> = [
    ['no ready pod', { desired: 7 }, 'Unknown', 'ConfigUnknown'],
    ['a target before live configuration', { desired: 7, podName: 'p', notReported: true }, 'Unknown', 'ConfigUnknown'],
    ['/recovery not read', { desired: 7, podName: 'p' }, 'Unknown', 'ConfigUnknown'],
    ['serving the generation', { desired: 7, podName: 'p', served: { servedGeneration: 7 } }, 'True', 'ConfigServed'],
    ['serving a later one (the resource changed since this read)', { desired: 7, podName: 'p', served: { servedGeneration: 8 } }, 'True', 'ConfigServed'],
    ['on its way', { desired: 7, podName: 'p', served: { servedGeneration: 6 } }, 'False', 'ConfigPending'],
    ['refused', { desired: 7, podName: 'p', served: { servedGeneration: 6, rejected: REJECTED } }, 'False', 'ConfigRejected'],
    ['an older refusal, the newest on its way', { desired: 8, podName: 'p', served: { servedGeneration: 6, rejected: REJECTED } }, 'False', 'ConfigPending'],
  ];
  for (const [what, o, status, reason] of cases) {
    const t = configTriple(o);
    assert.deepEqual([t.status, t.reason], [status, reason], what);
  }
});

test('configAppliedCondition keeps its transition time while its status stays; rejectionEvent says each refusal once', () => {
  const prev = [configAppliedCondition(undefined, { desired: 6, podName: 'p', served: { servedGeneration: 5 } }, AT)];
  const next = configAppliedCondition(prev, { desired: 7, podName: 'p', served: { servedGeneration: 6, rejected: REJECTED } }, '2026-01-01T00:01:00Z');
  assert.equal(next.lastTransitionTime, AT);
  assert.equal(next.observedGeneration, 7);
  const served = { servedGeneration: 6, rejected: REJECTED };
  assert.equal(rejectionEvent(undefined, served, 'p').length, 1);
  assert.equal(rejectionEvent(served, served, 'p').length, 0);
  assert.equal(rejectionEvent(served, { ...served, rejected: { ...REJECTED, generation: 8 } }, 'p').length, 1);
  assert.equal(rejectionEvent(served, { servedGeneration: 8 }, 'p').length, 0);
});
