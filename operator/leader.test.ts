import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideLease, LeaderElector, microTime, nextLease, type Lease } from './leader.js';
import { KubeError, type RequestOptions, type Rest } from './kube/rest.js';

const lease = (holder: string | undefined, extra: Partial<Lease['spec']> = {}, rv = '1'): Lease => ({
  apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l', namespace: 'ns', resourceVersion: rv },
  spec: { ...(holder !== undefined ? { holderIdentity: holder } : {}), leaseDurationSeconds: 15, renewTime: '2026-01-01T00:00:00.000000Z', ...extra },
});

test('decideLease: table', () => {
  const other = lease('b');
  const seen = { record: JSON.stringify(other.spec), atMs: 1000 };
  const cases: Array<[string, Lease | undefined, typeof seen | undefined, number, string]> = [
    ['no lease', undefined, undefined, 0, 'create'],
    ['ours', lease('a'), undefined, 0, 'renew'],
    ['released', lease(''), undefined, 0, 'acquire'],
    ['no holder field', lease(undefined), undefined, 0, 'acquire'],
    ['held, just seen', other, undefined, 0, 'wait'],
    ['held, seen changing', other, { record: 'older', atMs: 0 }, 99_000, 'wait'],
    ['held, unchanged for less than its duration', other, seen, 15_999, 'wait'],
    ['held, unchanged for its duration', other, seen, 16_000, 'acquire'],
  ];
  for (const [what, l, obs, now, want] of cases) assert.equal(decideLease(l, 'a', obs, now), want, what);
});

test('nextLease: transitions counted on takeover, acquireTime kept on renew', () => {
  const now = Date.UTC(2026, 0, 1, 0, 0, 1, 250);
  const renewed = nextLease('renew', lease('a', { acquireTime: 'T0', leaseTransitions: 2 }), 'a', now, 15, 'ns', 'l');
  assert.equal(renewed.spec.acquireTime, 'T0');
  assert.equal(renewed.spec.leaseTransitions, 2);
  assert.equal(renewed.spec.renewTime, '2026-01-01T00:00:01.250000Z');
  assert.equal(renewed.metadata.resourceVersion, '1', 'optimistic concurrency');
  const taken = nextLease('acquire', lease('b', { leaseTransitions: 2 }), 'a', now, 15, 'ns', 'l');
  assert.equal(taken.spec.holderIdentity, 'a');
  assert.equal(taken.spec.leaseTransitions, 3);
  assert.equal(taken.spec.acquireTime, microTime(now));
});

/** An apiserver holding one Lease, with resourceVersion checks. */
class LeaseServer implements Rest {
  lease?: Lease;
  rv = 0;
  down = false;
  async request<T>(method: string, _path: string, opts: RequestOptions = {}): Promise<T> {
    if (this.down) throw new Error('connection refused');
    const body = opts.body as Lease | undefined;
    if (method === 'GET') {
      if (!this.lease) throw new KubeError(404, 'NotFound', 'not found');
      return structuredClone(this.lease) as T;
    }
    if (method === 'POST') {
      if (this.lease) throw new KubeError(409, 'AlreadyExists', 'exists');
      this.lease = { ...body!, metadata: { ...body!.metadata, resourceVersion: String(++this.rv) } };
      return this.lease as T;
    }
    if (method === 'PUT') {
      if (body!.metadata.resourceVersion !== this.lease?.metadata.resourceVersion) throw new KubeError(409, 'Conflict', 'stale');
      this.lease = { ...body!, metadata: { ...body!.metadata, resourceVersion: String(++this.rv) } };
      return this.lease as T;
    }
    throw new Error(method);
  }
}

test('LeaderElector: exactly one of two candidates leads; a release hands over at once', async () => {
  const server = new LeaseServer();
  let clock = 0;
  const events: string[] = [];
  const mk = (id: string) => new LeaderElector(server, { namespace: 'ns', name: 'l', identity: id, leaseDurationSeconds: 15, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 }, {
    onStartedLeading: () => events.push(`${id} leads`), onStoppedLeading: () => events.push(`${id} lost`), log: () => {},
  }, () => clock);
  const a = mk('a');
  const b = mk('b');
  assert.equal(await a.tryAcquireOrRenew(), true);
  assert.equal(await b.tryAcquireOrRenew(), false);
  clock = 10_000;
  assert.equal(await a.tryAcquireOrRenew(), true, 'renewed');
  assert.equal(await b.tryAcquireOrRenew(), false, 'the record changed: b waits again');
  clock = 24_000;
  assert.equal(await b.tryAcquireOrRenew(), false, 'only 14 s since b saw the last renewal');
  clock = 25_001;
  assert.equal(await b.tryAcquireOrRenew(), true, 'a stopped renewing for the lease duration: b takes over');
  assert.equal(server.lease!.spec.holderIdentity, 'b');
  assert.equal(server.lease!.spec.leaseTransitions, 1);
  assert.equal(await a.tryAcquireOrRenew(), false, 'a now sees b holding it');

  // b runs, leads, and releases on stop; a takes over on its next try.
  const running = b.run();
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(b.isLeader, true);
  await b.stop();
  await running;
  assert.equal(server.lease!.spec.holderIdentity, '');
  assert.equal(await a.tryAcquireOrRenew(), true);
  assert.deepEqual(events, ['b leads']);
});

test('LeaderElector: a leader that cannot renew for renewDeadline steps down', async () => {
  const server = new LeaseServer();
  let clock = 0;
  let lost = 0;
  const e = new LeaderElector(server, { namespace: 'ns', name: 'l', identity: 'a', leaseDurationSeconds: 15, renewDeadlineMs: 50, retryPeriodMs: 5 }, {
    onStartedLeading: () => {}, onStoppedLeading: () => { lost++; }, log: () => {},
  }, () => clock);
  const running = e.run();
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(e.isLeader, true);
  server.down = true;
  clock = 100;
  await running;
  assert.equal(lost, 1);
  assert.equal(e.isLeader, false);
});

test('LeaderElector: stop() during a renewal waits for it, then releases (never left held until it expires)', async () => {
  const server = new LeaseServer();
  let clock = 0;
  const e = new LeaderElector(server, { namespace: 'ns', name: 'l', identity: 'a', leaseDurationSeconds: 15, renewDeadlineMs: 10_000, retryPeriodMs: 5 }, {
    onStartedLeading: () => {}, onStoppedLeading: () => {}, log: () => {},
  }, () => clock);
  // The race seen on a real cluster: the release's GET reads the Lease, a renewal already sent lands,
  // and the release's PUT then fails on the stale resourceVersion. Here a renewal lands 10 ms after it
  // is sent, and a GET answers 15 ms after it read.
  const inner = server.request.bind(server);
  let renewing = false;
  server.request = async <T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> => {
    if (method === 'PUT' && (opts.body as Lease).spec.holderIdentity === 'a') {
      renewing = true;
      await new Promise((r) => setTimeout(r, 10));
      renewing = false;
      return inner<T>(method, path, opts);
    }
    const answer = await inner<T>(method, path, opts);
    if (method === 'GET') await new Promise((r) => setTimeout(r, 15));
    return answer;
  };
  const running = e.run();
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(e.isLeader, true);
  for (let i = 0; i < 200 && !renewing; i++) await new Promise((r) => setTimeout(r, 1));
  assert.equal(renewing, true, 'a renewal is under way');
  clock = 1000;
  await e.stop();
  await running;
  assert.equal(server.lease!.spec.holderIdentity, '', 'released after the renewal landed');
});

test('LeaderElector: stop() during the first acquisition releases what it acquired', async () => {
  const server = new LeaseServer();
  const e = new LeaderElector(server, { namespace: 'ns', name: 'l', identity: 'a', leaseDurationSeconds: 15, renewDeadlineMs: 10_000, retryPeriodMs: 5 }, {
    onStartedLeading: () => {}, onStoppedLeading: () => {}, log: () => {},
  });
  const inner = server.request.bind(server);
  server.request = async <T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> => {
    if (method === 'POST') await new Promise((r) => setTimeout(r, 20));
    return inner<T>(method, path, opts);
  };
  const running = e.run();
  await new Promise((r) => setTimeout(r, 5));
  await e.stop();
  await running;
  assert.equal(server.lease!.spec.holderIdentity, '');
});
