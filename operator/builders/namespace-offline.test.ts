import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OfflineNamespaceStatus } from '../api/types.js';
import { offlineEvents, offlineNow, offlineProblem, type OfflineObservation } from './namespace-offline.js';

const T1 = '2026-01-01T01:00:00.000Z';
const T2 = '2026-01-01T02:00:00.000Z';
const reason = 'SIGBUS on the mapping of /var/lib/nvmeof/vol/ns1.img (read at byte 4194304): the backing was truncated, its file system is full or its device failed; the namespace is offline until the target opens it again';
const ns1: OfflineNamespaceStatus = { nsid: 1, path: '/var/lib/nvmeof/vol/ns1.img', reason, since: T1 };
const ns2: OfflineNamespaceStatus = { nsid: 2, reason: 'SIGBUS on /dev/x', since: T1 };

test('offlineNow: what the target said now, else the list before while the same pod is there', () => {
  const cases: Array<[string, OfflineObservation, OfflineNamespaceStatus[] | undefined]> = [
    ['answered with one', { answered: true, read: [ns1], podName: 'p', statusPodName: 'p' }, [ns1]],
    ['answered with none: the field goes', { answered: true, read: [], podName: 'p', statusPodName: 'p', before: [ns1] }, undefined],
    ['answered without the list (an older target): none', { answered: true, podName: 'p', statusPodName: 'p', before: [ns1] }, undefined],
    ['not answered, same pod: kept', { answered: false, podName: 'p', statusPodName: 'p', before: [ns1] }, [ns1]],
    ['not answered, another pod: dropped (its target opens the backings again)', { answered: false, podName: 'q', statusPodName: 'p', before: [ns1] }, undefined],
    ['not answered, no pod: dropped', { answered: false, statusPodName: 'p', before: [ns1] }, undefined],
    ['nothing before, nothing now', { answered: false, podName: 'p', statusPodName: 'p' }, undefined],
  ];
  for (const [name, o, want] of cases) assert.deepEqual(offlineNow(o), want, name);
});

test('offlineProblem: Degraded NamespaceOffline naming each nsid, path, since and the target\'s reason', () => {
  assert.equal(offlineProblem(undefined, 'p'), undefined);
  assert.equal(offlineProblem([], 'p'), undefined);
  const one = offlineProblem([ns1], 'vol-target-ab12c')!;
  assert.equal(one.reason, 'NamespaceOffline');
  assert.equal(one.message, `namespace 1 (/var/lib/nvmeof/vol/ns1.img) is offline since ${T1}: ${reason}; the target in pod vol-target-ab12c fails every read and write of it and serves the others: fix the backing, then delete the pod so that a new target opens it`);
  const two = offlineProblem([ns1, ns2], 'p')!;
  assert.match(two.message, /^namespace 1 \(\/var\/lib\/nvmeof\/vol\/ns1\.img\) is offline since .*; namespace 2 is offline since 2026-01-01T01:00:00\.000Z: SIGBUS on \/dev\/x; the target in pod p fails every read and write of these namespaces/);
});

test('offlineEvents: one Warning per namespace newly offline, none for one already in status', () => {
  const cases: Array<[string, OfflineNamespaceStatus[] | undefined, OfflineNamespaceStatus[] | undefined, number[]]> = [
    ['none', undefined, undefined, []],
    ['first seen', undefined, [ns1], [1]],
    ['still offline: not repeated', [ns1], [ns1], []],
    ['a second one', [ns1], [ns1, ns2], [2]],
    ['offline again in a later process (another since)', [ns1], [{ ...ns1, since: T2 }], [1]],
    ['back online: no event', [ns1], undefined, []],
  ];
  for (const [name, before, now, want] of cases) {
    const events = offlineEvents(before, now, 'p');
    assert.deepEqual(events.map((e) => (e.kind === 'event' ? [e.type, e.reason] : [])), want.map(() => ['Warning', 'NamespaceOffline']), name);
    assert.deepEqual(events.map((e) => (e.kind === 'event' ? Number(/^namespace (\d+)/.exec(e.message)?.[1]) : 0)), want, name);
  }
  const [e] = offlineEvents(undefined, [ns1], 'vol-target-ab12c');
  assert.equal(e.kind === 'event' && e.message, `namespace 1 (/var/lib/nvmeof/vol/ns1.img) went offline in the target in pod vol-target-ab12c: ${reason}`);
});
