import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ListWatch, Watch, type KubernetesObject } from '@kubernetes/client-node';
import { listObjects } from '../kube/cluster.js';
import { KubeRest } from '../kube/rest.js';
import { fakeApiserver, status, type FakeApiserver } from '../testing/fake-apiserver.js';
import { DEFAULT_SUPERVISOR, makeInformer, Supervisor, type SupervisorOptions, type Watchable } from './informer.js';

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

const PODS = '/api/v1/pods';

/** An apiserver whose pod list is at resourceVersion 5 and whose first watch fails with a 500. */
async function podServer(): Promise<FakeApiserver & { watches: () => URL[]; lists: () => number }> {
  const server = await fakeApiserver((req, res) => {
    const u = new URL(req.url, 'http://x');
    if (u.searchParams.get('watch') !== 'true') {
      return { body: { apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: '5' }, items: [{ metadata: { name: 'a', namespace: 'ns', resourceVersion: '4' } }] } };
    }
    if (server.seen.filter((r) => r.url.includes('watch=true')).length === 1) return status(500, 'InternalError', 'etcd unavailable');
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.write(`${JSON.stringify({ type: 'ADDED', object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'b', namespace: 'ns', resourceVersion: '6' } } })}\n`);
    return undefined; // the watch stays open
  });
  return Object.assign(server, {
    watches: () => server.seen.filter((r) => r.url.includes('watch=true')).map((r) => new URL(r.url, 'http://x')),
    lists: () => server.seen.filter((r) => !r.url.includes('watch=true')).length,
  });
}

async function until(what: string, ok: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`not within ${ms} ms: ${what}`);
    await sleep(10);
  }
}

test('client-node 2.0.1 alone: its Watch times a silent watch out, but its ListWatch stops for good at a watch error', async () => {
  const server = await podServer();
  const kc = server.kc;
  // The hang of #596 and #958 is handled by the Watch itself, well within the watchdog's stallMs.
  const requestTimeoutMs = (new Watch(kc) as unknown as { requestTimeoutMs: number }).requestTimeoutMs;
  assert.equal(requestTimeoutMs, 30_000);
  assert.ok(requestTimeoutMs < DEFAULT_SUPERVISOR.stallMs);
  const rest = new KubeRest(kc, 2000);
  const lw = new ListWatch<KubernetesObject>(PODS, new Watch(kc), () => listObjects(rest, PODS), false);
  const errors: unknown[] = [];
  lw.on('error', (e) => errors.push(e));
  try {
    await lw.start();
    await until('the error', () => errors.length === 1);
    await sleep(300);
    assert.equal(server.watches().length, 1, 'no second watch: this is what the supervisor is for');
    assert.deepEqual(lw.list().map((p) => p.metadata?.name), ['a']);
  } finally {
    await lw.stop();
    await server.close();
  }
});

test('a supervised informer is restarted after a watch error and resumes from its resourceVersion', async () => {
  const server = await podServer();
  const o = options();
  const rest = new KubeRest(server.kc, 2000);
  const inf = makeInformer<KubernetesObject>(server.kc, 'pods', PODS, () => listObjects(rest, PODS), { apiVersion: 'v1', kind: 'Pod' }, o);
  const added: string[] = [];
  inf.on('add', (p) => added.push(p.metadata?.name ?? ''));
  try {
    await inf.supervisor.start();
    await until('pod b from the second watch', () => added.length === 2);
    assert.deepEqual(added, ['a', 'b']);
    assert.equal(inf.supervisor.synced, true);
    assert.deepEqual(inf.list().map((p) => [p.kind, p.metadata?.name]), [['Pod', 'a'], ['Pod', 'b']], 'listed items get their kind');
    assert.deepEqual(o.restarts, ['watch error: Internal Server Error']);
    assert.equal(server.lists(), 1, 'the restart does not list again');
    assert.deepEqual(server.watches().map((u) => [u.pathname, u.searchParams.get('resourceVersion'), u.searchParams.get('timeoutSeconds'), u.searchParams.get('allowWatchBookmarks')]),
      Array(2).fill([PODS, '5', '240', 'true']));
  } finally {
    await inf.supervisor.stop();
    await server.close();
  }
});
