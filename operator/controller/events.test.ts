import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CoreV1Event } from '@kubernetes/client-node';
import type { ClusterApi } from '../kube/cluster.js';
import { subsystem } from '../testing/fixtures.js';
import { EventRecorder, eventFor, k8sMicroTime, k8sTime } from './events.js';

test('eventFor: an Event on the subsystem', () => {
  const ev = eventFor(subsystem(), 'Warning', 'PortConflict', 'port 4420 taken', Date.UTC(2026, 0, 1), 'op-1');
  assert.equal(ev.involvedObject.kind, 'NvmeofSubsystem');
  assert.equal(ev.involvedObject.uid, 'uid-1');
  assert.equal(ev.metadata.namespace, 'storage');
  assert.match(ev.metadata.name!, /^vol\.[0-9a-f]+$/);
  assert.equal(ev.type, 'Warning');
  assert.equal(ev.source?.component, 'nvmeof-operator');
  assert.equal(ev.reportingInstance, 'op-1');
  assert.equal(ev.count, 1);
});

test('time formats', () => {
  assert.equal(k8sTime(Date.UTC(2026, 0, 1, 2, 3, 4, 567)), '2026-01-01T02:03:04Z');
  assert.equal(k8sMicroTime(Date.UTC(2026, 0, 1, 2, 3, 4, 567)), '2026-01-01T02:03:04.567000Z');
});

test('EventRecorder: repeats within the window bump the count; failures never throw', async () => {
  const created: CoreV1Event[] = [];
  const patched: Array<[string, Partial<CoreV1Event>]> = [];
  let fail = false;
  const api = {
    createEvent: async (ev: CoreV1Event) => { if (fail) throw new Error('forbidden'); created.push(ev); },
    patchEvent: async (_ns: string, name: string, p: Partial<CoreV1Event>) => { if (fail) throw new Error('gone'); patched.push([name, p]); },
  } as unknown as ClusterApi;
  let now = Date.UTC(2026, 0, 1);
  const failures: string[] = [];
  const rec = new EventRecorder(api, 'op-1', (_e, reason) => failures.push(reason), () => now);
  const sub = subsystem();
  await rec.record(sub, 'Normal', 'PodCreated', 'created p1');
  await rec.record(sub, 'Normal', 'PodCreated', 'created p1');
  await rec.record(sub, 'Normal', 'PodCreated', 'created p2');
  assert.equal(created.length, 2);
  assert.deepEqual(patched.map(([n, p]) => [n, p.count]), [[created[0].metadata.name, 2]]);
  now += 11 * 60_000;
  await rec.record(sub, 'Normal', 'PodCreated', 'created p1');
  assert.equal(created.length, 3, 'a new Event after the window');
  fail = true;
  await rec.record(sub, 'Warning', 'NodeGone', 'x');
  assert.deepEqual(failures, ['NodeGone']);
});
