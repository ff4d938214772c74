// The reservation store over a real state file: what survives a restart and a node reboot, and when a
// change is synced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openStateFile, type OpenStateFileOptions } from '../state/state-file.js';
import { recordingLog, SMALL_CAPACITY, tempDir, testIdentity } from '../state/test-support/fixtures.js';
import { ReservationStore, stateFileBackend, type ReservationBackend } from './reservation-store.js';
import { EMPTY_RESERVATION, type ReservationState } from './reservation-state-machine.js';

const A = '11'.repeat(16);
const B = '22'.repeat(16);

function options(dir: string, bootId: string): OpenStateFileOptions {
  return { path: join(dir, 'state.bin'), identity: testIdentity(), durability: 'process', bootId, log: recordingLog(), capacity: SMALL_CAPACITY };
}

const held = (ptpl: boolean): ReservationState => ({
  generation: 5, rtype: 1, holder: A, ptpl,
  registrants: [{ host: A, key: 0x1111n }, { host: B, key: 0xffff_ffff_ffff_fffen }],
});

async function open(dir: string, bootId: string) {
  const sf = await openStateFile(options(dir, bootId));
  const store = new ReservationStore('nqn.test');
  store.attach(stateFileBackend(sf), [1, 2, 3], { nodeRebooted: sf.restored.nodeRebooted });
  return { sf, store };
}

test('reservations survive a restart with or without PTPL; a node reboot keeps only PTPL ones', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const first = await open(dir, 'boot-1');
  assert.equal(first.store.ptplCapable(1), true);
  assert.equal(first.store.ptplCapable(3), false, 'nsid 3 is not in the state file (a memory namespace)');
  first.store.commit(1, held(true));
  first.store.commit(2, held(false));
  first.store.commit(3, held(false));
  first.sf.close(); // the process dies: no clean shutdown

  const restart = await open(dir, 'boot-1');
  assert.deepEqual(restart.store.get(1), held(true));
  assert.deepEqual(restart.store.get(2), held(false));
  assert.equal(restart.store.get(3), EMPTY_RESERVATION, 'kept in memory only');
  restart.sf.close();

  const reboot = await open(dir, 'boot-2');
  assert.deepEqual(reboot.store.get(1), held(true), 'PTPL: kept through the reboot');
  assert.deepEqual(reboot.store.get(2), EMPTY_RESERVATION, 'no PTPL: cleared by the reboot');
  reboot.sf.close();

  // The clearing was stored: the next start (same boot) finds it cleared, not the old state.
  const again = await open(dir, 'boot-2');
  assert.deepEqual(again.store.get(2), EMPTY_RESERVATION);
  assert.deepEqual(again.store.get(1), held(true));
  again.sf.close();
});

test('a change is synced when PTPL is on, or was on before it', () => {
  const saves: Array<{ nsid: number; ptpl: boolean; sync: boolean }> = [];
  const backend: ReservationBackend = {
    keeps: () => true,
    load: () => undefined,
    save: (nsid, s, sync) => saves.push({ nsid, ptpl: s.ptpl, sync }),
  };
  const store = new ReservationStore();
  store.attach(backend, [1], { nodeRebooted: false });
  store.commit(1, held(false));
  store.commit(1, held(true));
  store.commit(1, { ...held(true), generation: 6 });
  store.commit(1, held(false));
  store.commit(1, { ...held(false), generation: 7 });
  assert.deepEqual(saves.map((s) => s.sync), [false, true, true, true, false]);
  const same = store.get(1);
  store.commit(1, same);
  assert.equal(saves.length, 5, 'an unchanged state is not stored again');
});

test('a state that cannot be stored is not used', () => {
  const store = new ReservationStore();
  store.attach({ keeps: () => true, load: () => undefined, save: () => { throw new Error('disk gone'); } }, [1], { nodeRebooted: false });
  assert.throws(() => store.commit(1, held(false)));
  assert.equal(store.get(1), EMPTY_RESERVATION);
});

test('drain waits for the executing commands of the named hosts on the namespace', async () => {
  const store = new ReservationStore();
  const cmd = (nsid: number) => ({ nsid, completed: false });
  const a1 = cmd(1);
  const a2 = cmd(2);
  const b1 = cmd(1);
  store.executingFor(A, a1);
  store.executingFor(A, a2);
  store.executingFor(B, b1);
  let drained = false;
  const p = store.drain([A], 1).then(() => { drained = true; });
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(drained, false);
  a1.completed = true;
  await p;
  assert.equal(drained, true, 'neither the other namespace nor the other host was waited for');
});
