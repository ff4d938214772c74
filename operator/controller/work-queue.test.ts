import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CappedRetryError, runWorkers, WorkQueue } from './work-queue.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('add dedupes queued keys and keeps order', async () => {
  const q = new WorkQueue();
  for (const k of ['a', 'b', 'a', 'c', 'b']) q.add(k);
  assert.equal(q.length, 3);
  assert.deepEqual([await q.get(), await q.get(), await q.get()], ['a', 'b', 'c']);
});

test('a key being processed is not handed out again; a change meanwhile is queued at done', async () => {
  const q = new WorkQueue();
  q.add('a');
  const k = await q.get();
  assert.equal(k, 'a');
  q.add('a');
  q.add('a');
  assert.equal(q.length, 0, 'not queued while processing');
  let second: string | undefined;
  void q.get().then((x) => { second = x; });
  await sleep(5);
  assert.equal(second, undefined, 'no worker gets it while the first runs');
  q.done('a');
  await sleep(0);
  assert.equal(second, 'a', 'handed out once after done, the two adds merged');
  q.done('a');
  assert.equal(q.length, 0);
});

test('runWorkers never runs one key twice at once, and loses no update', async () => {
  const q = new WorkQueue({ baseMs: 1, maxMs: 5 });
  const running = new Set<string>();
  let overlaps = 0;
  const runs = new Map<string, number>();
  const done = runWorkers(q, 8, async (key) => {
    if (running.has(key)) overlaps++;
    running.add(key);
    runs.set(key, (runs.get(key) ?? 0) + 1);
    await sleep(3);
    running.delete(key);
  }, () => {});
  for (let i = 0; i < 200; i++) {
    q.add(`k${i % 5}`);
    if (i % 20 === 0) await sleep(1);
  }
  await sleep(60);
  q.shutDown();
  await done;
  assert.equal(overlaps, 0);
  for (let i = 0; i < 5; i++) assert.ok((runs.get(`k${i}`) ?? 0) >= 1, `k${i} ran`);
  const total = [...runs.values()].reduce((a, b) => a + b, 0);
  assert.ok(total < 200, `adds while queued or running were merged (${total} runs for 200 adds)`);
});

test('addRateLimited backs off per key, forget resets', async () => {
  const q = new WorkQueue({ baseMs: 20, maxMs: 1000 });
  assert.equal(q.addRateLimited('a'), 20);
  const second = q.addRateLimited('a');
  assert.ok(second > 0 && second <= 20, `40 ms of backoff, but the pending retry comes first and is the delay stated: ${second}`);
  assert.equal(q.addRateLimited('b'), 20, 'per key');
  assert.equal(q.numRequeues('a'), 2);
  q.forget('a');
  assert.equal(q.numRequeues('a'), 0);
  assert.ok(q.addRateLimited('a') <= 20, 'back to the base (or the pending retry, sooner)');
  assert.equal(q.length, 0, 'nothing queued before the delay');
  const t0 = Date.now();
  assert.equal(await q.get(), 'a');
  assert.ok(Date.now() - t0 >= 15);
  q.shutDown();
});

test('addAfter: the earliest pending delay wins', async () => {
  const q = new WorkQueue();
  q.addAfter('a', 500);
  q.addAfter('a', 10);
  q.addAfter('a', 300);
  const t0 = Date.now();
  assert.equal(await q.get(), 'a');
  assert.ok(Date.now() - t0 < 250);
  q.done('a');
  await sleep(20);
  assert.equal(q.length, 0, 'the later timers were dropped');
  q.shutDown();
});

test('runWorkers: a failing key is retried with backoff, success forgets', async () => {
  const q = new WorkQueue({ baseMs: 5, maxMs: 50 });
  let attempts = 0;
  const errors: number[] = [];
  const done = runWorkers(q, 2, async () => {
    attempts++;
    if (attempts < 4) throw new Error('boom');
  }, (_k, _e, ms) => errors.push(ms));
  q.add('x');
  await sleep(150);
  assert.equal(attempts, 4);
  assert.deepEqual(errors, [5, 10, 20]);
  assert.equal(q.numRequeues('x'), 0);
  q.shutDown();
  await done;
});

test('addAfter returns the delay that will pass', () => {
  const q = new WorkQueue();
  assert.equal(q.addAfter('y', 5000), 5000);
  const later = q.addAfter('y', 9000);
  assert.ok(later > 4900 && later <= 5000, `the pending 5 s wins: ${later}`);
  assert.equal(q.addAfter('y', 2000), 2000, 'an earlier delay replaces it');
  assert.equal(q.addAfter('z', 0), 0);
  q.shutDown();
});

test('runWorkers: a CappedRetryError caps the backoff it states and uses', async () => {
  const q = new WorkQueue({ baseMs: 4, maxMs: 1000 });
  const stated: number[] = [];
  const at: number[] = [];
  const done = runWorkers(q, 1, async () => {
    at.push(Date.now());
    throw new CappedRetryError('blocked', 16);
  }, (_k, _e, ms) => stated.push(ms));
  q.add('x');
  await sleep(120);
  q.shutDown();
  await done;
  assert.deepEqual(stated.slice(0, 5), [4, 8, 16, 16, 16]);
  for (let i = 1; i < at.length; i++) assert.ok(at[i] - at[i - 1] >= stated[i - 1] - 2, `attempt ${i} came no sooner than stated`);
});

test('runWorkers: requeueAfterMs schedules the next run', async () => {
  const q = new WorkQueue();
  let runs = 0;
  const done = runWorkers(q, 1, async () => { runs++; return runs < 3 ? { requeueAfterMs: 10 } : {}; }, () => {});
  q.add('x');
  await sleep(100);
  assert.equal(runs, 3);
  q.shutDown();
  await done;
});

test('shutDown: waiting workers end, running handlers finish first', async () => {
  const q = new WorkQueue();
  let finished = false;
  const done = runWorkers(q, 3, async () => { await sleep(30); finished = true; }, () => {});
  q.add('x');
  await sleep(5);
  q.shutDown();
  q.add('y');
  await done;
  assert.equal(finished, true);
  assert.equal(await q.get(), undefined);
});
