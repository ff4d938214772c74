import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decidePortInUse, listenWhenFree, PORT_IN_USE_GRACE_MS, type PortAttempt } from './port-wait.js';
import { StartupError } from '../startup-error.js';

const inUse = Object.assign(new Error('listen EADDRINUSE: address already in use 0.0.0.0:10250'), { code: 'EADDRINUSE', errno: -98 });
const quiet = { error() {}, warn() {}, info() {}, debug() {} };

test('decidePortInUse: wait for the old container, give up on anyone else, fail at once on other errors', () => {
  const base: PortAttempt = { what: 'NVMe/TCP listener', address: '0.0.0.0', port: 10250, error: inUse, firstInUseMs: 1000, locksHeldSinceMs: undefined, nowMs: 1000 };
  const table: Array<[string, Partial<PortAttempt>, 'wait' | 'fail', RegExp]> = [
    ['lock not yet held: an hour on, still waiting', { nowMs: 3_600_000 }, 'wait', /waiting for port 10250 on 0.0.0.0 \(in use; the previous container/],
    ['locks held, within the grace', { locksHeldSinceMs: 1000, nowMs: 1000 + PORT_IN_USE_GRACE_MS - 1 }, 'wait', /waiting for port 10250 on 0.0.0.0 \(in use; giving up in 1 s/],
    ['locks held, grace over', { locksHeldSinceMs: 1000, nowMs: 1000 + PORT_IN_USE_GRACE_MS }, 'fail', /^port 10250 on 0.0.0.0 is in use by another process \(EADDRINUSE\); this target's NVMe\/TCP listener found it in use for 10 s/],
    ['the grace counts from the lock, not the first failure', { firstInUseMs: 0, locksHeldSinceMs: 60_000, nowMs: 65_000 }, 'wait', /giving up in 5 s/],
    ['... and then gives up', { firstInUseMs: 0, locksHeldSinceMs: 60_000, nowMs: 70_000 }, 'fail', /in use for 70 s, 10 s of them while holding its state-file locks/],
    ['a shorter grace', { locksHeldSinceMs: 1000, nowMs: 1200, graceMs: 200 }, 'fail', /in use by another process/],
    ['not EADDRINUSE: at once', { error: Object.assign(new Error('x'), { code: 'EADDRNOTAVAIL', errno: -99 }) }, 'fail', /^cannot listen on port 10250 on 0.0.0.0 \(NVMe\/TCP listener\): EADDRNOTAVAIL \(address not available\)/],
    ['permission', { error: Object.assign(new Error('x'), { code: 'EACCES', errno: -13 }) }, 'fail', /EACCES \(permission denied\)/],
    ['not even an errno', { error: new TypeError('bad port') }, 'fail', /: bad port$/],
  ];
  for (const [name, over, action, text] of table) {
    const d = decidePortInUse({ ...base, ...over });
    assert.equal(d.action, action, name);
    assert.match(d.action === 'wait' ? d.reason : d.message, text, name);
  }
});

test('listenWhenFree: binds once the port frees, saying what it waits for', async () => {
  let tries = 0;
  const reasons: string[] = [];
  const got = await listenWhenFree(async () => {
    if (++tries < 4) throw inUse;
    return 'bound';
  }, { what: 'metrics', address: '127.0.0.1', port: 9420, log: quiet, locksHeldSinceMs: () => undefined, notReady: (r) => reasons.push(r), retryMs: 1 });
  assert.equal(got, 'bound');
  assert.equal(reasons.length, 3);
  assert.match(reasons[0], /waiting for port 9420 on 127.0.0.1/);
});

test('listenWhenFree: a port kept past the grace once the locks are held is a StartupError naming it', async () => {
  let clock = 0;
  let locks: number | undefined;
  const attempt = listenWhenFree(async () => {
    clock += 100;
    if (clock === 1000) locks = clock; // the old container's lock came free here; its ports did not
    throw inUse;
  }, { what: 'NVMe/TCP listener', address: '0.0.0.0', port: 10250, log: quiet, locksHeldSinceMs: () => locks, retryMs: 1, graceMs: 500, now: () => clock });
  await assert.rejects(attempt, (e: unknown) => e instanceof StartupError && /^port 10250 on 0.0.0.0 is in use by another process \(EADDRINUSE\)/.test(e.message));
  assert.equal(clock, 1500, 'waited while the lock was another\'s, then the grace, no longer');
});

test('listenWhenFree: any other error, and a stop while waiting, end it at once', async () => {
  const denied = Object.assign(new Error('x'), { code: 'EACCES', errno: -13 });
  await assert.rejects(listenWhenFree(async () => { throw denied; }, { what: 'metrics', address: '0.0.0.0', port: 80, log: quiet, locksHeldSinceMs: () => undefined }),
    (e: unknown) => e instanceof StartupError && e.message === 'cannot listen on port 80 on 0.0.0.0 (metrics): EACCES (permission denied)');
  await assert.rejects(listenWhenFree(async () => { throw inUse; }, { what: 'metrics', address: '0.0.0.0', port: 80, log: quiet, locksHeldSinceMs: () => undefined, stopped: () => true }),
    (e: unknown) => e === inUse);
});
