import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { openStateFile, type OpenStateFileOptions } from './state-file.js';
import { Stage } from './layout.js';
import { BOOT_ID, NQN, SMALL_CAPACITY, recordingLog, tempDir, testController, testIdentity } from './test-support/fixtures.js';

function options(dir: string, extra: Partial<OpenStateFileOptions> = {}): OpenStateFileOptions {
  return { path: join(dir, 'ns', 'sub', 'state.bin'), identity: testIdentity(), durability: 'process', bootId: BOOT_ID, log: recordingLog(), capacity: SMALL_CAPACITY, ...extra };
}

test('a missing file is created (with its directory): outcome fresh, boot count 1', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const sf = await openStateFile(options(dir));
  assert.equal(sf.outcome, 'fresh');
  assert.equal(sf.restored.bootCount, 1);
  assert.deepEqual(sf.header.outcomes, { fresh: 1, clean: 0, restored: 0, corrupt: 0 });
  assert.equal(sf.restored.previousBootId, undefined);
  assert.equal(sf.restored.namespaces.length, 2);
  sf.close();
  assert.ok(existsSync(join(dir, 'ns', 'sub', 'state.bin.lock')));
});

test('what one process stored, the next one restores after it died', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const a = await openStateFile(options(dir));
  const cntlid1 = a.allocateCntlid();
  const cntlid2 = a.allocateCntlid();
  const s1 = a.allocateControllerSlot();
  const s2 = a.allocateControllerSlot();
  assert.notEqual(s1, s2);
  a.writeController(s1, testController(cntlid1));
  a.writeController(s2, testController(cntlid2));
  a.saveFeature(s2, 0x07, 0x00030003);
  a.touchController(s1, 1_800_000_000_000);
  a.writeReservation({ nsid: 2, generation: 3, rtype: 2, ptpl: true, holderHostId: Buffer.alloc(16, 5), registrants: [{ hostId: Buffer.alloc(16, 5), key: 42n }] });
  a.countIo(true, 4096);
  a.countIo(false, 512);
  a.flushCounters();
  const q = a.connections.allocateQpair();
  a.connections.writeQpair(q, { cntlid: cntlid1, qid: 1, sqsize: 127, sqhd: 3, hdgst: true, ddgst: true, epoch: 9 });
  const h = a.connections.begin(q, 0x42, 0x01, 1, 1000, 0, 7);
  a.connections.stage(h, Stage.executing);
  // The process dies here: no markCleanShutdown. close() only releases the lock, as the kernel would.
  a.close();

  const b = await openStateFile(options(dir, { bootId: 'another-boot' }));
  assert.equal(b.outcome, 'restored');
  assert.equal(b.restored.bootCount, 2);
  assert.equal(b.restored.previousBootId, BOOT_ID);
  assert.equal(b.restored.nodeRebooted, true);
  assert.equal(b.restored.cntlidNext, cntlid2 + 1);
  const ctrls = b.restored.controllers.sort((x, y) => x.slot - y.slot);
  assert.deepEqual(ctrls.map((c) => c.record.cntlid), [cntlid1, cntlid2]);
  assert.equal(ctrls[0].record.lastSeenMs, 1_800_000_000_000);
  assert.deepEqual(ctrls[1].record.savedFeatures.find((f) => f.fid === 0x07), { fid: 0x07, dword: 0x00030003 });
  assert.equal(b.reservation(2)?.generation, 3);
  assert.equal(b.restored.reservations[0].registrants[0].key, 42n);
  assert.deepEqual(b.restored.counters, { dataUnitsRead: 1, dataUnitsWritten: 8, hostReadCommands: 1, hostWriteCommands: 1 });
  assert.deepEqual(b.restored.qpairs.map((x) => x.record.epoch), [9]);
  assert.deepEqual(b.restored.inflight, [{ qpairSlot: q, cid: 0x42, opcode: 0x01, nsid: 1, slba: 1000, nlb: 7, stage: 'executing' }]);
  assert.equal(b.restored.unknownInflight, 0);
  // cntlids still held by restored controllers are skipped; the allocator continues after them.
  assert.equal(b.allocateCntlid(), cntlid2 + 1);
  b.close();

  const c = await openStateFile(options(dir));
  assert.deepEqual(c.restored.inflight, [], 'in-flight records are cleared once reported');
  assert.deepEqual(c.restored.qpairs, []);
  c.close();
});

test('markCleanShutdown makes the next start clean; recordRecovery feeds the header', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const a = await openStateFile(options(dir, { now: () => 1_700_000_000_000 }));
  a.recordRecovery('fresh', 12, 0, 0);
  a.markCleanShutdown();
  a.close();
  const b = await openStateFile(options(dir, { now: () => 1_700_000_100_000 }));
  assert.equal(b.outcome, 'clean');
  assert.deepEqual(b.header.last, { outcome: 'fresh', startedAtMs: 1_700_000_000_000, durationMs: 12, restoredControllers: 0, inflightAbandoned: 0, inflightFound: 0 });
  b.recordRecovery('clean', 80, 0, 3);
  assert.equal(b.header.last?.outcome, 'clean');
  assert.equal(b.header.last?.startedAtMs, 1_700_000_100_000);
  assert.equal(b.header.inflightAbandonedTotal, 3);
  b.close();
  const c = await openStateFile(options(dir));
  assert.equal(c.outcome, 'restored');
  assert.deepEqual(c.header.outcomes, { fresh: 1, clean: 1, restored: 1, corrupt: 0 });
  assert.equal(c.header.bootCount, 3);
  c.close();
});

test('durability node syncs and stores the same values', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const a = await openStateFile(options(dir, { durability: 'node' }));
  const s = a.allocateControllerSlot();
  a.writeController(s, testController(a.allocateCntlid()));
  a.close();
  const b = await openStateFile(options(dir, { durability: 'node' }));
  assert.equal(b.restored.controllers.length, 1);
  b.close();
});

test('freed controller slots are reused and not restored; a full table gives -1', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const a = await openStateFile(options(dir, { capacity: { ...SMALL_CAPACITY, controllers: 2 } }));
  const s1 = a.allocateControllerSlot();
  const s2 = a.allocateControllerSlot();
  assert.equal(a.allocateControllerSlot(), -1);
  a.writeController(s1, testController(1));
  a.writeController(s2, testController(2));
  a.freeControllerSlot(s1);
  assert.equal(a.allocateControllerSlot(), s1);
  a.close();
  const b = await openStateFile(options(dir, { capacity: { ...SMALL_CAPACITY, controllers: 2 } }));
  assert.deepEqual(b.restored.controllers.map((c) => c.record.cntlid), [2]);
  b.close();
});

test('editing capacities keeps the state (the file is rewritten), fewer slots keep the most recently seen', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const a = await openStateFile(options(dir));
  for (let i = 1; i <= 3; i++) a.writeController(a.allocateControllerSlot(), { ...testController(i), lastSeenMs: 1000 * i });
  a.close();
  const log = recordingLog();
  const b = await openStateFile(options(dir, { log, capacity: { controllers: 2, qpairs: 4, inflightPerQpair: 8 } }));
  assert.equal(b.outcome, 'restored');
  assert.deepEqual(b.restored.controllers.map((c) => c.record.cntlid).sort(), [2, 3]);
  assert.deepEqual(b.restored.droppedForCapacity.map((c) => c.cntlid), [1]);
  assert.deepEqual(b.capacity, { controllers: 2, qpairs: 4, inflightPerQpair: 8 });
  assert.ok(log.lines.some((l) => /resizing/.test(l.msg)));
  b.close();
});

test('a closed state file refuses updates and its hot path goes nowhere', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const o = options(dir);
  const a = await openStateFile(o);
  const q = a.connections.allocateQpair();
  const h = a.connections.begin(q, 1, 2, 1, 0, 0, 0);
  a.close();
  const before = readFileSync(o.path);
  assert.throws(() => a.allocateCntlid(), /closed/);
  a.connections.stage(h, Stage.executing);
  assert.ok(readFileSync(o.path).equals(before));
  a.close();
});

test('the header names the subsystem and the capacities', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const a = await openStateFile(options(dir));
  assert.equal(a.header.nqn, NQN);
  assert.deepEqual(a.header.capacity, { ...SMALL_CAPACITY, namespaces: 2 });
  assert.equal(a.header.bootId, BOOT_ID);
  a.close();
});

test('capacities are checked before anything is opened', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  await assert.rejects(openStateFile(options(dir, { capacity: { controllers: 0 } })), /capacity.controllers/);
  await assert.rejects(openStateFile(options(dir, { capacity: { qpairs: 4096, inflightPerQpair: 4096 } })), /at most 1048576/);
  assert.ok(!existsSync(join(dir, 'ns')));
});
