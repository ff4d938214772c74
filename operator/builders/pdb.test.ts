import assert from 'node:assert/strict';
import { test } from 'node:test';
import { desiredPod } from './pod.js';
import { budgetName, LABEL_ROLE, LABEL_SUBSYSTEM_UID } from './names.js';
import { desiredBudget, evictionAllowed } from './pdb.js';
import { realise } from './target-config.js';
import { SETTINGS, subsystem } from '../testing/fixtures.js';

test('desiredBudget: a serving target may not be evicted; with spec.maintenance.allowEviction it may', () => {
  const held = desiredBudget(subsystem());
  assert.equal(held.apiVersion, 'policy/v1');
  assert.equal(held.metadata!.name, 'vol-target');
  assert.equal(held.metadata!.namespace, 'storage');
  assert.equal(held.spec!.minAvailable, 1);
  assert.equal(held.spec!.maxUnavailable, undefined, 'maxUnavailable would need a scale subresource the resource has not');
  assert.equal(held.spec!.unhealthyPodEvictionPolicy, 'AlwaysAllow', 'a target that serves nothing never holds a drain');
  assert.deepEqual(held.metadata!.ownerReferences!.map((r) => [r.kind, r.uid, r.controller]), [['NvmeofSubsystem', 'uid-1', true]]);
  assert.equal(evictionAllowed(subsystem()), false);

  const open = desiredBudget(subsystem({ maintenance: { allowEviction: true } }));
  assert.equal(open.spec!.minAvailable, 0);
  assert.equal(evictionAllowed(subsystem({ maintenance: { allowEviction: false } })), false);
  assert.equal(evictionAllowed(subsystem({ maintenance: {} })), false);
});

test('desiredBudget: its selector matches the labels a target pod has, and no other role\'s', () => {
  const sub = subsystem();
  const r = realise(sub, SETTINGS);
  assert.ok(r.ok);
  const pod = desiredPod(sub, SETTINGS, r.value, { name: 'vol-target-abcde' });
  const sel = desiredBudget(sub).spec!.selector!.matchLabels!;
  assert.deepEqual(Object.keys(sel).sort(), [LABEL_ROLE, LABEL_SUBSYSTEM_UID].sort());
  for (const [k, v] of Object.entries(sel)) assert.equal(pod.metadata!.labels![k], v, `the pod carries ${k}=${v}`);
  assert.equal(sel[LABEL_ROLE], 'target', 'not the cleanup pod');
  // The labels every target pod has carried since the first release: a subsystem of an earlier release is
  // covered without its pod being replaced.
  assert.deepEqual(sel, { 'nvmeof.io/subsystem-uid': 'uid-1', 'nvmeof.io/role': 'target' });
});

test('budgetName: within the name limit, and the same for the same subsystem', () => {
  assert.equal(budgetName('db'), 'db-target');
  const long = 'x'.repeat(260);
  assert.ok(budgetName(long).length <= 253);
  assert.equal(budgetName(long), budgetName(long));
});
