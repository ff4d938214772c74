import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import type { NvmeofSubsystem } from '../api/types.js';
import { PRIVILEGED_NS, SETTINGS, subsystem, withState, type PodState } from '../testing/fixtures.js';
import type { Action } from './actions.js';
import { desiredConfigMap } from './configmap.js';
import { planMaintenance } from './maintenance.js';
import { NODE_NOT_READY_WARNING_MS, type NodeState } from './node-state.js';
import { desiredBudget } from './pdb.js';
import { planLive, type PlanInput } from './plan.js';
import { desiredPod } from './pod.js';
import { desiredService } from './service.js';
import { realise } from './target-config.js';

const NOW = '2026-01-01T01:00:00Z';
const PINNED = { node: 'n1', podName: 'vol-target-old01', nqn: 'nqn.2024-01.io.nvmeof:storage:vol' };
const up: NodeState = { name: 'n1', cordoned: false, ready: true };

function podOf(sub: NvmeofSubsystem, name: string, state: PodState): V1Pod {
  const r = realise(sub, SETTINGS);
  assert.ok(r.ok);
  return withState(desiredPod(sub, SETTINGS, r.value, { name, pinnedNode: 'n1' }), state);
}

/** A subsystem whose ConfigMap, Service and budget exist, on node n1 in the state given. */
function input(sub: NvmeofSubsystem, node: NodeState, over: Partial<PlanInput> = {}): PlanInput {
  const r = realise(sub, SETTINGS);
  assert.ok(r.ok);
  return {
    sub, settings: SETTINGS, now: NOW, targetPods: [], configMaps: [desiredConfigMap(sub, r.value)], service: desiredService(sub, r.value),
    budget: desiredBudget(sub), namespace: PRIVILEGED_NS, nodeNames: new Set(['n1']), newPodSuffix: 'new01',
    nodes: new Map([[node.name, node]]), subsystemsByNode: new Map([['n1', ['storage/vol', 'other/db']]]), ...over,
  };
}

const ready = (p: { status?: { conditions?: { type: string; reason: string; message: string; status: string }[] } }) => p.status!.conditions!.find((c) => c.type === 'Ready')!;
const degraded = (p: { status?: { conditions?: { type: string; reason: string; message: string; status: string }[] } }) => p.status!.conditions!.find((c) => c.type === 'Degraded')!;
const events = (actions: Action[]) => actions.flatMap((a) => (a.kind === 'event' ? [`${a.type}/${a.reason}: ${a.message}`] : []));

test('the resource is labelled with the node that holds its state, once', () => {
  const sub = subsystem({}, {}, PINNED);
  const p = planLive(input(sub, up, { targetPods: [podOf(sub, 'vol-target-old01', { node: 'n1', ready: true })] }));
  assert.deepEqual(p.actions, [{ kind: 'setLabels', labels: { 'nvmeof.io/node': 'n1' } }], 'a ready subsystem of an earlier release: the label, and nothing else');
  const labelled = subsystem({}, { labels: { 'nvmeof.io/node': 'n1', team: 'a' } }, PINNED);
  assert.deepEqual(planLive(input(labelled, up, { targetPods: [podOf(labelled, 'vol-target-old01', { node: 'n1', ready: true })] })).actions, []);
  const first = planLive(input(subsystem(), up, { nodes: new Map() }));
  assert.ok(!first.actions.some((a) => a.kind === 'setLabels'), 'no node yet: no label');
});

test('a successor waiting on a cordoned node says NodeCordoned, not PodCreating or PodPending', () => {
  const sub = subsystem({}, { labels: { 'nvmeof.io/node': 'n1' } }, PINNED);
  const pending = podOf(sub, 'vol-target-new01', {});
  const p = planLive(input(sub, { ...up, cordoned: true }, { targetPods: [pending] }));
  assert.equal(ready(p).reason, 'NodeCordoned');
  assert.match(ready(p).message, /pod vol-target-new01 waits for node n1, .*cordoned.*kubectl uncordon n1/);
  assert.equal(p.status!.conditions!.find((c) => c.type === 'Progressing')!.reason, 'NodeCordoned');
  assert.equal(degraded(p).status, 'False', 'maintenance is not a fault');
  // The same pod on an uncordoned node the scheduler turned down: its own reason and message.
  const q = planLive(input(sub, up, { targetPods: [pending] }));
  assert.equal(ready(q).reason, 'Unschedulable');
  assert.match(ready(q).message, /0\/1 nodes are available/);
});

test('a drain that evicts the target (allowEviction) is said once, with the node; the successor is created', () => {
  const sub = subsystem({ maintenance: { allowEviction: true } }, { labels: { 'nvmeof.io/node': 'n1' } }, PINNED);
  const old = podOf(sub, 'vol-target-old01', { node: 'n1', ready: true, deleting: true });
  old.status!.conditions!.push({ type: 'DisruptionTarget', status: 'True', reason: 'EvictionByEvictionAPI', message: 'Eviction API: evicting' });
  const p = planLive(input(sub, { ...up, cordoned: true }, { targetPods: [old] }));
  assert.deepEqual(events(p.actions), [
    'Normal/PodRecreated: pod vol-target-old01 is gone: created vol-target-new01 on node n1',
    'Normal/TargetEvicted: pod vol-target-old01 was evicted from node n1 (spec.maintenance.allowEviction is true): it stops gracefully, closing its state file clean; its successor starts on the same node once the node takes pods again',
  ]);
  // The next reconcile (status names the successor): not said again.
  const after = subsystem({ maintenance: { allowEviction: true } }, { labels: { 'nvmeof.io/node': 'n1' } }, { ...PINNED, podName: 'vol-target-new01' });
  assert.deepEqual(events(planLive(input(after, { ...up, cordoned: true }, { targetPods: [old, podOf(after, 'vol-target-new01', {})] })).actions), []);
  // A pod deleted (not evicted) is not called evicted.
  const deleted = podOf(sub, 'vol-target-old01', { node: 'n1', ready: true, deleting: true });
  assert.ok(!events(planLive(input(sub, up, { targetPods: [deleted] })).actions).some((e) => e.includes('TargetEvicted')));
});

test('a NotReady node: NodeNotReady at once, Degraded and one Warning naming its subsystems after the threshold', () => {
  const sub = subsystem({}, { labels: { 'nvmeof.io/node': 'n1' } }, PINNED);
  const pod = podOf(sub, 'vol-target-old01', { node: 'n1', ready: false });
  const since = (ms: number) => new Date(Date.parse(NOW) - ms).toISOString();
  const down = (ms: number): NodeState => ({ name: 'n1', cordoned: false, ready: false, notReadySince: since(ms), notReadyWhy: 'NodeStatusUnknown: Kubelet stopped posting node status.' });

  const early = planLive(input(sub, down(20_000), { targetPods: [pod] }));
  assert.equal(ready(early).reason, 'NodeNotReady');
  assert.equal(ready(early).message, `node n1, which holds this subsystem's state, is NotReady since ${since(20_000)}: NodeStatusUnknown: Kubelet stopped posting node status.; the target (pod vol-target-old01) serves again once the node is back`);
  assert.equal(degraded(early).status, 'False');
  assert.deepEqual(events(early.actions), []);
  assert.equal(early.requeueAfterMs, NODE_NOT_READY_WARNING_MS - 20_000, 'reconciled again when the threshold is reached');

  const late = planLive(input(subsystem({}, { labels: { 'nvmeof.io/node': 'n1' } }, { ...PINNED, conditions: early.status!.conditions }), down(NODE_NOT_READY_WARNING_MS + 1000), { targetPods: [pod] }));
  assert.equal(degraded(late).status, 'True');
  assert.equal(degraded(late).reason, 'NodeNotReady');
  assert.deepEqual(events(late.actions), [
    'Warning/NodeNotReady: node n1 has been NotReady for 1m1s (NodeStatusUnknown: Kubelet stopped posting node status.); the subsystems whose state is on it are not served: other/db, storage/vol',
  ]);
  // Still NotReady on the next reconcile: no second event.
  const later = planLive(input(subsystem({}, { labels: { 'nvmeof.io/node': 'n1' } }, { ...PINNED, conditions: late.status!.conditions }), down(NODE_NOT_READY_WARNING_MS + 30_000), { targetPods: [pod] }));
  assert.deepEqual(events(later.actions), []);
  assert.equal(later.requeueAfterMs, undefined);
});

test('planMaintenance: many subsystems on one node are named up to twenty, the rest counted', () => {
  const sub = subsystem({}, { labels: { 'nvmeof.io/node': 'n1' } }, PINNED);
  const onNode = Array.from({ length: 25 }, (_, i) => `ns/s${String(i).padStart(2, '0')}`);
  const m = planMaintenance({
    sub, now: NOW, targetPods: [], node: { name: 'n1', cordoned: false, ready: false, notReadySince: '2026-01-01T00:00:00Z' }, onNode,
    conditions: [{ type: 'Degraded', status: 'True', reason: 'NodeNotReady', message: 'x', lastTransitionTime: NOW }],
  });
  const [e] = events(m.actions);
  assert.match(e, /ns\/s00, .*ns\/s19 and 5 more$/);
  assert.doesNotMatch(e, /ns\/s20/);
});
