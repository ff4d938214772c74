// A namespace-set change (one removed, one added, one grown, one replaced) keeps the subsystem's state:
// controllers, cntlid allocator, recovery and SMART counters; only the per-namespace state of namespaces
// removed or replaced goes. A change of NQN still sets the file aside. Both layouts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync, writeFileSync } from 'node:fs';
import { openStateFile, type OpenStateFileOptions } from './state-file.js';
import { writeV1Image } from './test-support/v1-writer.js';
import { BOOT_ID, NQN, SMALL_CAPACITY, recordingLog, tempDir, testController, testIdentity } from './test-support/fixtures.js';
import type { ReservationRecord, SubsystemIdentity } from './types.js';

function options(path: string, identity: SubsystemIdentity, extra: Partial<OpenStateFileOptions> = {}): OpenStateFileOptions {
  return { path, identity, durability: 'process', bootId: BOOT_ID, log: recordingLog(), capacity: SMALL_CAPACITY, ...extra };
}

const reservation = (nsid: number): ReservationRecord => ({
  nsid, generation: 7 + nsid, rtype: 1, ptpl: true, holderHostId: Buffer.alloc(16, nsid), registrants: [{ hostId: Buffer.alloc(16, nsid), key: 0x1234n }],
});

const COUNTERS = { dataUnitsRead: 1000, dataUnitsWritten: 2000, hostReadCommands: 30, hostWriteCommands: 40 };

/** nsids 1 and 2, two controllers, a reservation on each namespace, counters, two clean starts. */
async function deployedFile(path: string): Promise<number> {
  let next = 0;
  for (let i = 0; i < 2; i++) {
    const sf = await openStateFile(options(path, testIdentity()));
    if (i === 0) {
      for (const n of [1, 2]) sf.writeController(sf.allocateControllerSlot(), testController(sf.allocateCntlid(), n));
      for (const nsid of [1, 2]) sf.writeReservation(reservation(nsid));
      sf.setCounters(COUNTERS);
    }
    next = sf.allocateCntlid() + 1;
    sf.markCleanShutdown();
    sf.close();
  }
  return next;
}

/** nsid 2 removed, nsid 3 added, nsid 1 grown (same UUID, NGUID, EUI-64, block size). */
function edited(): SubsystemIdentity {
  const id = testIdentity(NQN, [1, 3]);
  id.namespaces[0].size *= 2;
  return id;
}

test('a namespace removed, one added and one grown: the state is kept, the change reported', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const path = join(dir, 'state.bin');
  const cntlidNext = await deployedFile(path);
  const log = recordingLog();
  const sf = await openStateFile(options(path, edited(), { log }));
  assert.equal(sf.outcome, 'clean');
  assert.equal(sf.restored.asidePath, undefined);
  assert.equal(sf.restored.corruptReason, undefined);
  assert.deepEqual(sf.restored.namespaceChanges, {
    added: [3], removed: [2], grown: [{ nsid: 1, fromBytes: 64 * 1024 * 1024, toBytes: 128 * 1024 * 1024 }], shrunk: [], replaced: [],
  });
  assert.deepEqual(sf.header.outcomes, { fresh: 1, clean: 2, restored: 0, corrupt: 0 }, 'the recovery counters carry on');
  assert.equal(sf.restored.bootCount, 3);
  assert.deepEqual(sf.restored.controllers.map((c) => c.record.hostNqn), [1, 2].map((n) => testController(0, n).hostNqn));
  assert.equal(sf.restored.cntlidNext, cntlidNext);
  assert.deepEqual(sf.restored.counters, COUNTERS);
  assert.deepEqual(sf.restored.reservations.map((r) => r.nsid), [1], 'the removed namespace\'s reservation went, the grown one\'s stayed');
  assert.equal(sf.reservation(1)?.generation, 8);
  assert.equal(sf.reservation(2), undefined);
  sf.writeReservation(reservation(3));
  assert.ok(log.lines.some((l) => l.level === 'warn' && l.msg === 'namespaces changed: added nsid 3; removed nsid 2; nsid 1 grew 67108864 -> 134217728 bytes'));
  assert.ok(!log.lines.some((l) => /set aside|corrupt/.test(l.msg)));
  sf.markCleanShutdown();
  sf.close();

  const again = await openStateFile(options(path, edited()));
  assert.equal(again.outcome, 'clean');
  assert.equal(again.restored.namespaceChanges, undefined, 'the new set is the file\'s now');
  assert.deepEqual(again.restored.reservations.map((r) => r.nsid), [1, 3]);
  again.close();
});

test('a namespace replaced under the same nsid (another UUID) loses its reservations, keeps the rest', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const path = join(dir, 'state.bin');
  await deployedFile(path);
  const id = testIdentity();
  id.namespaces[0].uuid = Buffer.alloc(16, 0x5a);
  const sf = await openStateFile(options(path, id));
  assert.equal(sf.outcome, 'clean');
  assert.deepEqual(sf.restored.namespaceChanges?.replaced, [{ nsid: 1, fields: ['uuid'] }]);
  assert.deepEqual(sf.restored.reservations.map((r) => r.nsid), [2]);
  assert.equal(sf.restored.controllers.length, 2);
  sf.close();
});

test('another NQN is still another subsystem\'s state: set aside', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const path = join(dir, 'state.bin');
  await deployedFile(path);
  const sf = await openStateFile(options(path, testIdentity('nqn.2024-01.io.nvmeof:someone-else', [1, 3])));
  assert.equal(sf.outcome, 'corrupt');
  assert.match(sf.restored.corruptReason ?? '', /another subsystem's state \(the file belongs to nqn.2024-01.io.nvmeof:test-subsystem\)/);
  assert.equal(sf.restored.namespaceChanges, undefined);
  assert.ok(sf.restored.asidePath && existsSync(sf.restored.asidePath));
  sf.close();
});

test('a layout-1 file whose namespaces changed migrates, keeping its controllers and counts', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const path = join(dir, 'state.bin');
  writeFileSync(path, writeV1Image(testIdentity(), {
    bootCount: 3, cleanShutdown: true, outcomes: { fresh: 1, clean: 2, restored: 0 }, cntlidNext: 12,
    controllers: [{ cntlid: 11, hostNqn: 'nqn.2014-08.org.nvmexpress:uuid:host-a', hostId: Buffer.alloc(16, 0xa), katoMs: 5000 }],
  }));
  const sf = await openStateFile(options(path, edited()));
  assert.equal(sf.outcome, 'clean');
  assert.equal(sf.restored.migratedFrom, 1);
  assert.equal(sf.restored.namespaceChanges?.removed[0], 2);
  assert.deepEqual(sf.header.outcomes, { fresh: 1, clean: 3, restored: 0, corrupt: 0 });
  assert.equal(sf.restored.cntlidNext, 12);
  assert.deepEqual(sf.restored.controllers.map((c) => c.record.cntlid), [11]);
  sf.close();
});
