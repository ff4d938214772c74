import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Supervisor, type SupervisorOptions, type Watchable } from './informer.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Behaves like client-node's ListWatch as far as the supervisor can tell. */
class FakeInformer implements Watchable {
  starts = 0;
  stops = 0;
  private readonly cbs = new Map<string, Array<(x?: unknown) => void>>();
  on(verb: string, cb: (x?: unknown) => void): void {
    const list = this.cbs.get(verb) ?? [];
    list.push(cb);
    this.cbs.set(verb, list);
  }
  emit(verb: string, x?: unknown): void {
    for (const cb of this.cbs.get(verb) ?? []) cb(x);
  }
  async start(): Promise<void> {
    this.starts++;
    this.emit('connect');
  }
  async stop(): Promise<void> {
    this.stops++;
    // Aborting the request reports an error, as node-fetch does.
    this.emit('error', new Error('The operation was aborted'));
  }
}

function options(over: Partial<SupervisorOptions> = {}): SupervisorOptions & { logs: string[]; restarts: string[] } {
  const logs: string[] = [];
  const restarts: string[] = [];
  return {
    backoff: { baseMs: 100, maxMs: 400 }, stallMs: 1_000_000, healthyAfterMs: 1_000_000,
    log: (_l, m) => logs.push(m), onRestart: (_n, why) => restarts.push(why), logs, restarts, ...over,
  };
}

test('a watch error restarts the informer after a backoff that grows', async () => {
  const f = new FakeInformer();
  const o = options();
  const s = new Supervisor('pods', f, o);
  await s.start();
  assert.equal(f.starts, 1);
  f.emit('error', new Error('500 Internal Server Error'));
  // Margins are wide (backoffs of 100 and 200 ms) so a loaded CI machine does not make this flaky.
  await sleep(20);
  assert.equal(f.starts, 1, 'not before the backoff');
  await sleep(250);
  assert.equal(f.starts, 2);
  assert.equal(f.stops, 1);
  assert.equal(o.restarts.length, 1, 'the abort error of our own stop is not another failure');
  f.emit('error', new Error('again'));
  f.emit('error', new Error('and again, while a restart is pending'));
  await sleep(120);
  assert.equal(f.starts, 2, 'second backoff is longer (200 ms)');
  await sleep(400);
  assert.equal(f.starts, 3);
  assert.equal(o.restarts.length, 2);
  await s.stop();
});

test('the watchdog restarts an informer that went silent', async () => {
  const f = new FakeInformer();
  const o = options({ stallMs: 60 });
  const s = new Supervisor('nodes', f, o);
  await s.start();
  for (let i = 0; i < 4; i++) {
    await sleep(25);
    f.emit('update', {});
  }
  assert.equal(f.starts, 1, 'events keep it alive');
  // Silence is noticed within stallMs plus one watchdog period (50 ms here), then restarted.
  await sleep(250);
  assert.ok(f.starts >= 2, `restarted after silence (${f.starts})`);
  assert.match(o.restarts[0], /no event and no reconnect/);
  await s.stop();
});

test('stop ends supervision: no restart after it', async () => {
  const f = new FakeInformer();
  const o = options();
  const s = new Supervisor('svc', f, o);
  await s.start();
  await s.stop();
  f.emit('error', new Error('late'));
  await sleep(30);
  assert.equal(f.starts, 1);
  assert.deepEqual(o.restarts, []);
});

test('synced once a list succeeded', async () => {
  const s = new Supervisor('x', new FakeInformer(), options());
  assert.equal(s.synced, false);
  s.markListed();
  assert.equal(s.synced, true);
});
