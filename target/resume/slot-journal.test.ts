import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RingsFile } from './rings-file.js';
import { SlotJournal, readBinding, readController } from './slot-journal.js';
import { SW, posLE, slotFileSize, slotPlacement } from './layout.js';
import { RingWire } from './ring-wire.js';
import type { Qpair } from '../controller/qpair.js';

const dir = mkdtempSync(join(tmpdir(), 'nvmeof-rings-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const G = { slots: 2, rxSize: 1 << 16, txSize: 1 << 16, records: 8 };
const newFile = () => RingsFile.create({ path: join(dir, `r${n++}`), ...G });

function sqe(cid: number, opcode = 1): Buffer {
  const b = Buffer.alloc(64);
  b[0] = opcode;
  b.writeUInt16LE(cid, 2);
  return b;
}

test('layout: the parts of a slot are page aligned, and its file is made on first use, every page allocated', () => {
  const p = slotPlacement(G);
  for (const v of [p.header, p.records, p.rx, p.tx]) assert.equal(v % 4096, 0);
  assert.equal(slotFileSize(G), p.tx + G.txSize);
  assert.ok(posLE(0xffffff00, 0x10), 'serial order across the wrap');
  assert.ok(!posLE(0x10, 0xffffff00));
  const f = newFile();
  assert.equal(f.hasSlot(1), false);
  f.slot(1);
  assert.equal(f.hasSlot(1), true);
  assert.equal(statSync(`${f.path}.1`).blocks * 512 >= slotFileSize(G), true, 'allocated, not sparse');
  assert.equal(f.hasSlot(0), false);
});

test('a ring copies across its end and hands out views without copying', () => {
  const f = newFile();
  const rx = f.slot(1).rx;
  const at = 0xfffffff6; // 10 bytes before the ring's end, and 10 before positions wrap at 2^32
  const data = Buffer.from([...Array(30).keys()]);
  rx.put(at, data);
  const v = rx.views(at, (at + 30) >>> 0);
  assert.equal(v.length, 2);
  assert.deepEqual(Buffer.concat(v), data);
  assert.deepEqual(rx.copyOut(at, 30), data);
  rx.setTail((at + 30) >>> 0);
  assert.equal(f.slot(1).load(SW.RX_TAIL) >>> 0, (at + 30) >>> 0);
  assert.equal(f.slot(0).load(SW.RX_TAIL), 0, 'slots do not overlap');
  const again = RingsFile.open(f.path);
  assert.deepEqual(again.geometry, G);
  assert.deepEqual(again.slot(1).rx.copyOut(at, 30), data);
});

test('the rx head stays at the oldest byte still needed, and only moves forward', () => {
  const f = newFile();
  const slot = f.slot(0);
  let blocked = 0;
  const j = SlotJournal.fresh(slot, () => blocked++);
  j.parsed(128); // ICReq
  assert.equal(slot.rx.head, 128);
  const a = j.received(sqe(1), 128, 72 + 4096, { off: 72, len: 4096 }, false, 1); // in-capsule write
  assert.equal(slot.rx.head, 128, 'pinned at its capsule');
  const b = j.received(sqe(2), 4296, 72, undefined, false, 2); // R2T write
  assert.equal(j.r2tRequested(b), 4368);
  j.parsed(4368 + 24 + 1000);
  j.done(a);
  assert.equal(slot.rx.head, 4368, 'now pinned where its H2CData may start');
  slot.store(SW.RX_BLOCKED, 1);
  j.done(b);
  assert.equal(slot.rx.head, 4368 + 1024);
  assert.equal(blocked, 1, 'the supervisor waiting for room is told');
});

test('resume: each record comes back in the stage it reached, published or not as the tx tail says', () => {
  const f = newFile();
  const slot = f.slot(1);
  const j = SlotJournal.fresh(slot, () => {});
  j.icAccepted(true, false, 0);
  j.icPublishing(128);
  slot.tx.setTail(128);
  j.parsed(128);
  // 1: completed and published (record freed); 2: result recorded, completion not out; 3: R2T out, data
  // partly in; 4: in-capsule write executing; 5: received, not recorded as parsed (the kill came between).
  const h1 = j.received(sqe(1, 2), 128, 72, undefined, false, 1);
  j.executing(h1);
  j.completing(h1, 0, 0, 0, true, 128 + 4200);
  slot.tx.setTail(128 + 4200);
  j.done(h1);
  const h2 = j.received(sqe(2, 1), 200, 72, undefined, false, 2);
  j.executing(h2);
  const h3 = j.received(sqe(3, 1), 272, 72, undefined, false, 3);
  const rx3 = j.r2tRequested(h3);
  j.r2tPublishing(h3, 128 + 4200 + 24);
  slot.tx.setTail(128 + 4200 + 24); // the R2T went out
  j.completing(h2, 0x4004, 7, 0, false, 128 + 4200 + 24 + 16); // the kill comes before the tail store
  const h4 = j.received(sqe(4, 1), 344, 72 + 512, { off: 72, len: 512 }, false, 4);
  Buffer.alloc(512, 0xab).copy(slot.buf, slotPlacement(G).rx + 344 + 72);
  j.executing(h4);
  // 5: the record is complete, PARSED not stored yet
  const h5 = j.received(sqe(5, 2), 928, 72, undefined, false, 5);
  slot.store(SW.PARSED, 928);
  slot.store(SW.SQHD, 4);
  const { state, journal } = SlotJournal.resume(slot, () => {});
  assert.deepEqual(state.ic, { hdgst: true, ddgst: false, hpda: 0, published: true });
  assert.equal(state.head, rx3, 'the head is where the H2CData of 3 may start (also the capsule of 4)');
  assert.equal(rx3, 344);
  assert.equal(state.replayEnd, 1000, 'the capsule recorded without PARSED counts as parsed');
  assert.equal(state.sqhd, 5);
  assert.deepEqual(state.commands.map((c) => [c.sqe.readUInt16LE(2), c.stage]), [[2, 'completing'], [3, 'r2t'], [4, 'executing'], [5, 'received']]);
  const c2 = state.commands[0];
  assert.deepEqual(c2.result, { status: 0x4004, dw0: 7, dw1: 0, c2hData: false });
  const c3 = state.commands[1];
  assert.deepEqual(c3.r2t, { rxPos: rx3, published: true });
  assert.deepEqual(state.commands[2].inCapsule, Buffer.alloc(512, 0xab));
  assert.equal(journal.inUse, 4);
  void h5;
});

test('a second kill during replay never forgets what the first process parsed', () => {
  const f = newFile();
  const slot = f.slot(0);
  const j = SlotJournal.fresh(slot, () => {});
  j.parsed(128);
  const h = j.received(sqe(1), 128, 72 + 100, { off: 72, len: 100 }, false, 1);
  const k = j.received(sqe(2, 2), 300, 72, undefined, false, 2);
  j.completing(k, 0, 0, 0, true, 500);
  slot.tx.setTail(500);
  j.done(k);
  assert.equal(slot.load(SW.PARSED), 372);
  const r = SlotJournal.resume(slot, () => {});
  assert.equal(r.state.head, 128);
  r.journal.parsed(300); // replaying the capsule of h
  assert.equal(slot.load(SW.PARSED), 372, 'PARSED never goes back');
  void h;
});

test('binding and controller snapshot: the copy in use is never the one being written', () => {
  const f = newFile();
  const slot = f.slot(0);
  const j = SlotJournal.fresh(slot, () => {});
  const ctrl = {
    cntlid: 7, hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:x', hostid: Buffer.alloc(16, 3), kato: 5000, cc: 0, csts: 0,
    features: { asyncEventConfig: 0, volatileWriteCache: true, temperatureThreshold: 0x157 }, subsys: { nqn: 'nqn.2026-01.io.t:a' },
  };
  const q = { ctrl, qid: 0, sqsize: 31, sqFlowControl: true } as unknown as Qpair;
  j.bound(q);
  assert.deepEqual(readBinding(slot), { cntlid: 7, qid: 0, sqsize: 31, sqFlowControl: true, subnqn: 'nqn.2026-01.io.t:a', auth: false, authenticated: false });
  assert.equal(readController(slot)?.cc, 0);
  const used = slot.load(SW.CTRL);
  ctrl.cc = 0x460001;
  ctrl.csts = 1;
  j.controllerChanged(q);
  assert.notEqual(slot.load(SW.CTRL), used);
  const rc = readController(slot)!;
  assert.deepEqual([rc.cc, rc.csts, rc.kato, rc.hostnqn, rc.hostid], [0x460001, 1, 5000, ctrl.hostnqn, ctrl.hostid]);
});

test('the ring wire publishes whole units and holds back what does not fit until the head moves', () => {
  const f = newFile();
  const slot = f.slot(0);
  const events: string[] = [];
  const w = new RingWire(slot, { published: () => events.push('p'), end: () => events.push('end'), destroy: () => events.push('destroy') });
  const ends: number[] = [];
  w.writeUnit([Buffer.alloc(40000, 1)], (e) => ends.push(e));
  w.writeUnit([Buffer.alloc(20000, 2), Buffer.alloc(10000, 3)], (e) => ends.push(e));
  assert.equal(slot.tx.tail, 40000, 'the second unit waits whole');
  assert.equal(slot.load(SW.TX_BLOCKED), 1);
  slot.tx.setHead(40000);
  w.drain();
  assert.equal(slot.tx.tail, 70000);
  assert.deepEqual(ends, [40000, 70000]);
  assert.equal(slot.load(SW.TX_BLOCKED), 0);
  const v = Buffer.concat(slot.tx.views(40000, 70000));
  assert.deepEqual([v[0], v[19999], v[20000], v[29999]], [2, 2, 3, 3]);
  w.end();
  assert.deepEqual(events, ['p', 'p', 'end']);
});
