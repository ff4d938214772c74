import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { V1Pod } from '@kubernetes/client-node';
import type { NvmeofSubsystem, OfflineNamespaceStatus, RecoveryStatus } from '../api/types.js';
import { desiredPod } from '../builders/pod.js';
import { realise } from '../builders/target-config.js';
import { cacheOf, SETTINGS, subsystem, withState } from '../testing/fixtures.js';
import type { TargetReport } from './recovery-client.js';
import { RecoveryProber, type ProbeResult, type RecoveryProberOptions } from './recovery-prober.js';

const RECOVERY: RecoveryStatus = { count: 1, bootCount: 1, outcomes: { fresh: 1, clean: 0, restored: 0, corrupt: 0 } };
const OFFLINE: OfflineNamespaceStatus[] = [{ nsid: 1, path: '/var/lib/nvmeof/storage/vol/ns1.img', reason: 'SIGBUS on the mapping', since: '2026-01-01T00:10:00.000Z' }];

function targetPod(sub: NvmeofSubsystem, name: string, ready: boolean): V1Pod {
  const r = realise(sub, SETTINGS);
  assert.ok(r.ok);
  return withState(desiredPod(sub, SETTINGS, r.value, { name, pinnedNode: 'n1' }), { node: 'n1', ready });
}

class FakeQueue {
  keys: string[] = [];
  add(key: string): void {
    this.keys.push(key);
  }
}

/** A reader answering `answer` (changeable) for every pod, counting its calls per pod. */
function fakeReader(answer: () => TargetReport | Promise<TargetReport>) {
  const calls: string[] = [];
  return { calls, read: async (pod: V1Pod) => { calls.push(pod.metadata?.name ?? ''); return answer(); } };
}

function setup(o: { subs?: NvmeofSubsystem[]; pods?: V1Pod[]; read: RecoveryProberOptions['read']; periodMs?: number; timeoutMs?: number; concurrency?: number }) {
  const subs = o.subs ?? [subsystem({}, {}, { recovery: RECOVERY })];
  const pods = o.pods ?? [targetPod(subs[0], 'vol-target-aaaaa', true)];
  const queue = new FakeQueue();
  const results: ProbeResult[] = [];
  const prober = new RecoveryProber({
    subsystems: cacheOf(subs), pods: cacheOf(pods), read: o.read, queue, periodMs: o.periodMs ?? 10_000,
    ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}), ...(o.concurrency ? { concurrency: o.concurrency } : {}),
    log: () => {}, onProbe: (r) => results.push(r),
  });
  return { prober, queue, results, subs, pods };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a change in what the target reports queues the subsystem once; no change queues nothing', async () => {
  let report: TargetReport = { recovery: RECOVERY, offline: [] };
  const { prober, queue, results } = setup({ read: fakeReader(() => report).read });
  await prober.probeOnce();
  assert.deepEqual(queue.keys, [], 'the first read says what status says: nothing to do');
  await prober.probeOnce();
  assert.deepEqual(queue.keys, []);
  report = { recovery: RECOVERY, offline: OFFLINE };
  await prober.probeOnce();
  assert.deepEqual(queue.keys, ['storage/vol'], 'a namespace went offline');
  await prober.probeOnce();
  await prober.probeOnce();
  assert.deepEqual(queue.keys, ['storage/vol'], 'still offline: queued once, not at every read');
  report = { recovery: { ...RECOVERY, workerRestarts: 1 }, offline: OFFLINE };
  await prober.probeOnce();
  report = { recovery: { ...RECOVERY, workerRestarts: 1 }, offline: OFFLINE, config: { servedGeneration: 2 } };
  await prober.probeOnce();
  assert.deepEqual(queue.keys, ['storage/vol', 'storage/vol', 'storage/vol'], 'the recovery counters and the served configuration count too');
  assert.deepEqual(results, ['unchanged', 'unchanged', 'changed', 'unchanged', 'unchanged', 'changed', 'changed']);
});

test('the first read of a pod is compared with status: a change the reconciler has not written yet is not lost', async () => {
  const sub = subsystem({}, {}, { recovery: RECOVERY });
  let report: TargetReport = { recovery: RECOVERY, offline: OFFLINE };
  const { prober, queue, pods } = setup({ subs: [sub], read: fakeReader(() => report).read });
  await prober.probeOnce();
  assert.deepEqual(queue.keys, ['storage/vol'], 'status says no namespace offline; the target says one is');
  await prober.probeOnce();
  assert.deepEqual(queue.keys, ['storage/vol'], 'then compared with the read before, even though status still lags');
  // The pod is replaced: its successor's report is compared with status again.
  pods[0] = targetPod(sub, 'vol-target-bbbbb', true);
  report = { recovery: RECOVERY, offline: [] };
  await prober.probeOnce();
  assert.deepEqual(queue.keys, ['storage/vol'], 'the new pod says what status says');
});

test('only subsystems with a Ready target pod are read, and not those being deleted', async () => {
  const ready = subsystem({}, { name: 'a', uid: 'uid-a' });
  const notReady = subsystem({}, { name: 'b', uid: 'uid-b' });
  const deleting = subsystem({}, { name: 'c', uid: 'uid-c', deletionTimestamp: new Date() });
  const noPod = subsystem({}, { name: 'd', uid: 'uid-d' });
  const r = fakeReader(() => ({ recovery: RECOVERY }));
  const { prober } = setup({
    subs: [ready, notReady, deleting, noPod],
    pods: [targetPod(ready, 'a-target-1', true), targetPod(notReady, 'b-target-1', false), targetPod(deleting, 'c-target-1', true)],
    read: r.read,
  });
  await prober.probeOnce();
  assert.deepEqual(r.calls, ['a-target-1']);
});

test('failures and timeouts queue nothing; a target that does not answer is not asked again until it does', async () => {
  let release!: (r: TargetReport) => void;
  let mode: 'fail' | 'hang' | 'ok' = 'fail';
  const r = fakeReader(() => {
    if (mode === 'fail') throw new Error('connection refused');
    if (mode === 'hang') return new Promise<TargetReport>((res) => { release = res; });
    return { recovery: RECOVERY };
  });
  const { prober, queue, results } = setup({ read: r.read, timeoutMs: 20 });
  await prober.probeOnce();
  mode = 'hang';
  await prober.probeOnce();
  await prober.probeOnce();
  await prober.probeOnce();
  assert.equal(r.calls.length, 2, 'the hung GET is not piled on');
  assert.deepEqual(results, ['error', 'timeout']);
  release({ recovery: RECOVERY, offline: OFFLINE });
  await sleep(0);
  mode = 'ok';
  await prober.probeOnce();
  assert.equal(r.calls.length, 3, 'asked again once the GET settled');
  assert.deepEqual(queue.keys, []);
});

test('a reader that throws at once counts as an error and is asked again next round', async () => {
  let calls = 0;
  const { prober, results } = setup({ read: () => { calls++; throw new Error('no IP yet'); } });
  await prober.probeOnce();
  await prober.probeOnce();
  assert.equal(calls, 2);
  assert.deepEqual(results, ['error', 'error']);
});

test('at most `concurrency` GETs at once', async () => {
  const subs = Array.from({ length: 10 }, (_, i) => subsystem({}, { name: `s${i}`, uid: `uid-${i}` }));
  let now = 0;
  let most = 0;
  const { prober } = setup({
    subs, pods: subs.map((s, i) => targetPod(s, `s${i}-target`, true)), concurrency: 3,
    read: async () => {
      most = Math.max(most, ++now);
      await sleep(5);
      now--;
      return { recovery: RECOVERY };
    },
  });
  await prober.probeOnce();
  assert.equal(most, 3);
});

test('rounds never overlap when the targets are slow, and stop ends them', async () => {
  let now = 0;
  let most = 0;
  let calls = 0;
  const { prober } = setup({
    periodMs: 1, timeoutMs: 1000,
    read: async () => {
      calls++;
      most = Math.max(most, ++now);
      await sleep(30); // longer than the period
      now--;
      return { recovery: RECOVERY };
    },
  });
  prober.start();
  await sleep(150);
  await prober.stop();
  assert.equal(most, 1, 'one GET at a time for the one subsystem');
  assert.ok(calls >= 2, `several rounds ran (${calls})`);
  const after = calls;
  await sleep(100);
  assert.equal(calls, after, 'no probe after stop');
});

test('stop waits for no more than the round under way, and a stopped prober does not start again', async () => {
  const r = fakeReader(() => ({ recovery: RECOVERY, offline: OFFLINE }));
  const { prober, queue } = setup({ read: r.read, periodMs: 5 });
  prober.start();
  await sleep(50);
  await prober.stop();
  const calls = r.calls.length;
  assert.ok(calls >= 2, `it probed every period (${calls})`);
  assert.deepEqual(queue.keys, ['storage/vol'], 'queued once for the change, not every period');
  prober.start();
  await sleep(30);
  assert.equal(r.calls.length, calls);
});
