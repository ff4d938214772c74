import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Condition } from '../api/types.js';
import { nextConditions, type Observation, type PodObservation } from './conditions.js';
import { Reason } from './reasons.js';

const NOW = '2026-01-01T00:10:00Z';
const pod = (p: Partial<PodObservation> = {}): PodObservation => ({ name: 'p', node: 'n1', ready: true, restarts: 0, outdated: false, ...p });
const obs = (o: Partial<Observation> = {}): Observation => ({ generation: 3, deleting: false, nqn: 'nqn.x', ...o });

function summary(cs: Condition[]): string {
  return cs.map((c) => `${c.type}=${c.status}/${c.reason}`).join(' ');
}

test('nextConditions: table of observations', () => {
  const cases: Array<[string, Observation, string]> = [
    ['no pod yet', obs(), 'Ready=False/PodCreating Progressing=True/PodCreating Degraded=False/AsExpected'],
    ['unscheduled', obs({ pod: pod({ node: undefined, ready: false, pendingMessage: '0/1 nodes' }) }), 'Ready=False/PodPending Progressing=True/PodPending Degraded=False/AsExpected'],
    ['starting', obs({ pod: pod({ ready: false, waitingReason: 'ContainerCreating' }) }), 'Ready=False/TargetNotReady Progressing=True/TargetNotReady Degraded=False/AsExpected'],
    ['crash looping', obs({ pod: pod({ ready: false, waitingReason: 'CrashLoopBackOff', restarts: 5 }) }), 'Ready=False/TargetNotReady Progressing=False/TargetCrashLooping Degraded=True/TargetCrashLooping'],
    ['image missing', obs({ pod: pod({ ready: false, waitingReason: 'ErrImagePull' }) }), 'Ready=False/TargetNotReady Progressing=False/TargetCrashLooping Degraded=True/TargetCrashLooping'],
    ['ready', obs({ pod: pod(), endpoint: '10.0.0.5:4420' }), 'Ready=True/TargetReady Progressing=False/Reconciled Degraded=False/AsExpected'],
    ['ready, rolling', obs({ pod: pod({ outdated: true }) }), 'Ready=True/TargetReady Progressing=True/Rolling Degraded=False/AsExpected'],
    ['port conflict', obs({ problem: { reason: Reason.PortConflict, message: 'port 4420' } }), 'Ready=False/PortConflict Progressing=False/PortConflict Degraded=True/PortConflict'],
    ['node gone, stale pod', obs({ problem: { reason: Reason.NodeGone, message: 'gone' }, pod: pod() }), 'Ready=False/NodeGone Progressing=False/NodeGone Degraded=True/NodeGone'],
    ['device refused', obs({ problem: { reason: Reason.DeviceNotAllowed, message: 'x' } }), 'Ready=False/DeviceNotAllowed Progressing=False/DeviceNotAllowed Degraded=True/DeviceNotAllowed'],
    ['namespace refused', obs({ problem: { reason: Reason.NamespaceNotPrivileged, message: 'x' } }), 'Ready=False/NamespaceNotPrivileged Progressing=False/NamespaceNotPrivileged Degraded=True/NamespaceNotPrivileged'],
    ['advisory while ready', obs({ pod: pod(), advisory: { reason: Reason.PlacementIgnored, message: 'x' } }), 'Ready=True/TargetReady Progressing=False/Reconciled Degraded=True/PlacementIgnored'],
    ['deleting', obs({ deleting: true, pod: pod() }), 'Ready=False/Deleting Progressing=True/Deleting Degraded=False/AsExpected'],
  ];
  for (const [what, o, want] of cases) {
    const cs = nextConditions(undefined, o, NOW);
    assert.equal(summary(cs), want, what);
    for (const c of cs) {
      assert.equal(c.observedGeneration, 3);
      assert.equal(c.lastTransitionTime, NOW);
      assert.ok(c.message.length > 0, `${what}: ${c.type} has a message`);
    }
  }
});

test('nextConditions: messages name what a human needs', () => {
  const ready = nextConditions(undefined, obs({ pod: pod(), endpoint: '10.0.0.5:4420' }), NOW)[0];
  assert.match(ready.message, /nqn\.x at 10\.0\.0\.5:4420 from pod p on node n1/);
  const pending = nextConditions(undefined, obs({ pod: pod({ node: undefined, ready: false, pendingMessage: '0/1 nodes are available' }) }), NOW)[0];
  assert.match(pending.message, /0\/1 nodes are available/);
  const kept = nextConditions(undefined, obs({ problem: { reason: Reason.InvalidSpec, message: 'bad size' }, pod: pod() }), NOW)[0];
  assert.match(kept.message, /bad size.*keeps serving the previous configuration/);
  const gone = nextConditions(undefined, obs({ problem: { reason: Reason.NodeGone, message: 'gone' }, pod: pod() }), NOW)[0];
  assert.doesNotMatch(gone.message, /keeps serving/);
});

test('nextConditions: lastTransitionTime moves only when the status changes', () => {
  const before = nextConditions(undefined, obs({ pod: pod({ ready: false }) }), '2026-01-01T00:00:00Z');
  const after = nextConditions(before, obs({ pod: pod() }), NOW);
  const t = (cs: Condition[], type: string) => cs.find((c) => c.type === type)!.lastTransitionTime;
  assert.equal(t(after, 'Ready'), NOW, 'Ready went False -> True');
  assert.equal(t(after, 'Degraded'), '2026-01-01T00:00:00Z', 'Degraded stayed False');
  assert.equal(t(after, 'Progressing'), NOW, 'Progressing went True -> False');
});

test('nextConditions: a target that exited and said why: its message is the condition, a port in use its own reason', () => {
  const pod = { name: 'p', node: 'n1', ready: false, restarts: 3, outdated: false, waitingReason: 'CrashLoopBackOff' };
  const failed = nextConditions(undefined, { generation: 1, deleting: false, pod: { ...pod, exit: { code: 1, message: 'nsid 1: cannot size file /data/ns1.img to 109951162777600 bytes: EFBIG (file too large)' } } }, NOW);
  const r = failed.find((c) => c.type === 'Ready')!;
  assert.equal(r.reason, 'TargetFailed');
  assert.match(r.message, /exited with code 1: nsid 1: cannot size file .* EFBIG/);
  assert.equal(failed.find((c) => c.type === 'Degraded')!.status, 'True');
  const port = nextConditions(undefined, { generation: 1, deleting: false, pod: { ...pod, exit: { code: 1, message: 'port 10250 on 0.0.0.0 is in use by another process (EADDRINUSE)' } } }, NOW);
  assert.equal(port.find((c) => c.type === 'Ready')!.reason, 'PortInUse');
  assert.equal(port.find((c) => c.type === 'Degraded')!.reason, 'PortInUse');
});

test('nextConditions: a pod waiting for its node says why, from the node and the scheduler', () => {
  const pending = pod({ node: undefined, ready: false, unschedulable: true, pendingMessage: '0/1 nodes are available: 1 node(s) were unschedulable.' });
  const cordoned = { name: 'n1', cordoned: true, ready: true };
  const notReady = (since: string) => ({ name: 'n1', cordoned: false, ready: false, notReadySince: since });
  const cases: Array<[string, Observation, string]> = [
    ['node cordoned', obs({ pod: pending, node: cordoned }), 'Ready=False/NodeCordoned Progressing=False/NodeCordoned Degraded=False/AsExpected'],
    ['scheduler found no node', obs({ pod: pending, node: { name: 'n1', cordoned: false, ready: true } }), 'Ready=False/Unschedulable Progressing=True/Unschedulable Degraded=False/AsExpected'],
    ['not looked at yet', obs({ pod: pod({ node: undefined, ready: false }) }), 'Ready=False/PodPending Progressing=True/PodPending Degraded=False/AsExpected'],
    ['node NotReady for 30 s', obs({ pod: pod({ ready: false }), node: notReady('2026-01-01T00:09:30Z') }), 'Ready=False/NodeNotReady Progressing=False/NodeNotReady Degraded=False/AsExpected'],
    ['node NotReady past the threshold', obs({ pod: pod({ ready: false }), node: notReady('2026-01-01T00:08:00Z') }), 'Ready=False/NodeNotReady Progressing=False/NodeNotReady Degraded=True/NodeNotReady'],
    ['node NotReady, cordoned too', obs({ pod: pending, node: { ...notReady('2026-01-01T00:09:30Z'), cordoned: true } }), 'Ready=False/NodeNotReady Progressing=False/NodeNotReady Degraded=False/AsExpected'],
    ['serving on a cordoned node', obs({ pod: pod(), node: cordoned }), 'Ready=True/TargetReady Progressing=False/Reconciled Degraded=False/AsExpected'],
    ['a problem wins', obs({ pod: pending, node: cordoned, problem: { reason: Reason.PortConflict, message: 'x' } }), 'Ready=False/PortConflict Progressing=False/PortConflict Degraded=True/PortConflict'],
  ];
  for (const [what, o, want] of cases) assert.equal(summary(nextConditions(undefined, o, NOW)), want, what);
  const unsched = nextConditions(undefined, obs({ pod: pending, node: { name: 'n1', cordoned: false, ready: true } }), NOW)[0];
  assert.equal(unsched.message, 'pod p cannot be scheduled: 0/1 nodes are available: 1 node(s) were unschedulable.');
});
