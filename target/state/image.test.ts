import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatImage, NEW_HEADER_SEED, parseImage } from './image.js';
import { decodeHeader, encodeHeader, probeHeader } from './header.js';
import { decodeController, decodeReservation, encodeController, encodeQpair, encodeReservation, qpairFlags } from './records.js';
import { HEADER_SLOT_SIZE, LAYOUT_VERSION, QP_LIVE, RecordKind, planSections } from './layout.js';
import { seal } from './slots.js';
import { identityDigest } from './identity-digest.js';
import { ConnectionRecords } from './connection-records.js';
import { emptyContents, type HeaderRecord, type ReservationRecord, type StateContents } from './types.js';
import { NQN, SMALL_CAPACITY, testController, testIdentity } from './test-support/fixtures.js';

const identity = testIdentity();

const reservation: ReservationRecord = {
  nsid: 2, generation: 7, rtype: 1, ptpl: true, holderHostId: Buffer.alloc(16, 0x11),
  registrants: [{ hostId: Buffer.alloc(16, 0x11), key: 0xfeedfacecafebeefn }, { hostId: Buffer.alloc(16, 0x22), key: 1n }],
};

test('controller and reservation records round-trip', () => {
  const buf = Buffer.alloc(1024);
  const c = testController(0x1234);
  encodeController(buf, 16, c);
  assert.deepEqual(decodeController(buf, 16), c);
  encodeReservation(buf, 0, reservation);
  assert.deepEqual(decodeReservation(buf, 0), reservation);
});

test('records refuse values that do not fit instead of truncating them', () => {
  const buf = Buffer.alloc(1024);
  assert.throws(() => encodeController(buf, 0, { ...testController(1), hostNqn: 'n'.repeat(224) }), /at most 223/);
  assert.throws(() => encodeController(buf, 0, { ...testController(1), hostId: Buffer.alloc(15) }), /16 bytes/);
  assert.throws(() => encodeController(buf, 0, { ...testController(1), savedFeatures: Array.from({ length: 17 }, (_, i) => ({ fid: i, dword: 0 })) }), /saved features/);
});

test('the header round-trips, including the section table and the last recovery', () => {
  const h: HeaderRecord = {
    layoutVersion: LAYOUT_VERSION, fileSize: 123 * 4096, identityDigest: identityDigest(identity), nqn: NQN, bootCount: 42,
    bootId: '0b7f3c2e-1111-4222-8333-444455556666', cleanShutdown: true, outcomes: { fresh: 1, clean: 2, restored: 3, corrupt: 4 },
    last: { outcome: 'restored', startedAtMs: 1_700_000_000_123, durationMs: 120.5, restoredControllers: 3, inflightAbandoned: 9, inflightFound: 11 },
    inflightAbandonedTotal: 99, capacity: { ...SMALL_CAPACITY, namespaces: 2 }, sections: planSections(SMALL_CAPACITY, 2),
  };
  const buf = Buffer.alloc(HEADER_SLOT_SIZE);
  encodeHeader(buf, 0, h);
  assert.deepEqual(decodeHeader(buf, 0), h);
});

test('formatImage then parseImage gives back the contents', () => {
  const contents: StateContents = {
    ...emptyContents(identity.namespaces),
    cntlidNext: 17,
    counters: { dataUnitsRead: 1, dataUnitsWritten: 2, hostReadCommands: 3, hostWriteCommands: 4 },
    controllers: [{ slot: 0, record: testController(5) }, { slot: 1, record: testController(9) }],
    reservations: [reservation],
  };
  const seed = { ...NEW_HEADER_SEED, bootCount: 3, bootId: 'b', outcomes: { fresh: 1, clean: 1, restored: 1, corrupt: 0 } };
  const buf = formatImage(identity, SMALL_CAPACITY, seed, contents);
  const r = parseImage(buf);
  assert.ok(r.ok, r.ok ? '' : r.problem);
  const { image } = r;
  assert.deepEqual(image.contents, contents);
  assert.equal(image.header.bootCount, 3);
  assert.equal(image.header.nqn, NQN);
  assert.deepEqual(image.header.outcomes, seed.outcomes);
  assert.ok(image.header.identityDigest.equals(identityDigest(identity)));
  assert.equal(image.header.fileSize, buf.length);
  assert.equal(image.tornSlots, 0);
});

test('qpair and in-flight records written by the hot path parse back, torn ones count as unknown', () => {
  const buf = formatImage(identity, SMALL_CAPACITY, NEW_HEADER_SEED, emptyContents(identity.namespaces));
  const parsed = parseImage(buf);
  assert.ok(parsed.ok);
  const s = parsed.image.sections;
  const c = new ConnectionRecords(buf, s.qpairs, s.inflight, SMALL_CAPACITY.inflightPerQpair);
  const q = c.allocateQpair();
  c.writeQpair(q, { cntlid: 3, qid: 2, sqsize: 127, sqhd: 0, hdgst: true, ddgst: false, epoch: 77 });
  c.storeSqhd(q, 42);
  const h1 = c.begin(q, 0xbeef, 0x01, 1, 5, 2 ** 8, 7);
  c.stage(h1, 2);
  const h2 = c.begin(q, 0x10, 0x02, 2, 0, 0, 0);
  c.stage(h2, 3);
  const h3 = c.begin(q, 0x11, 0x02, 2, 8, 0, 0);
  c.end(h3);
  let r = parseImage(buf);
  assert.ok(r.ok);
  assert.deepEqual(r.image.contents.qpairs, [{ slot: q, record: { cntlid: 3, qid: 2, sqsize: 127, sqhd: 42, hdgst: true, ddgst: false, epoch: 77 } }]);
  assert.deepEqual(r.image.contents.inflight.sort((a, b) => a.cid - b.cid), [
    { qpairSlot: q, cid: 0x10, opcode: 0x02, nsid: 2, slba: 0, nlb: 0, stage: 'executing' },
    { qpairSlot: q, cid: 0xbeef, opcode: 0x01, nsid: 1, slba: 2 ** 40 + 5, nlb: 7, stage: 'data-in' },
  ]);
  assert.equal(r.image.unknownInflight, 0);
  // A record whose body disagrees with its check word (its page written back mid-begin, then a node crash).
  buf[s.inflight.offset + h2 * 32 + 20] ^= 4;
  r = parseImage(buf);
  assert.ok(r.ok);
  assert.equal(r.image.unknownInflight, 1);
  assert.equal(r.image.contents.inflight.length, 1);
  // A qpair record's CRC leaves its SQ head out; another field changed makes it unknown.
  buf[s.qpairs.offset + q * 32 + 18] ^= 1;
  r = parseImage(buf);
  assert.ok(r.ok);
  assert.deepEqual([r.image.contents.qpairs.length, r.image.unknownQpairs], [0, 1]);
});

test('an older binary\'s qpair record (CRC over its SQ head, no QP_SQHD_UNSEALED) parses back', () => {
  const buf = formatImage(identity, SMALL_CAPACITY, NEW_HEADER_SEED, emptyContents(identity.namespaces));
  const parsed = parseImage(buf);
  assert.ok(parsed.ok);
  const off = parsed.image.sections.qpairs.offset;
  const q = { cntlid: 3, qid: 2, sqsize: 127, sqhd: 42, hdgst: false, ddgst: true, epoch: 9 };
  encodeQpair(buf, off, q);
  seal(buf, off, 32, RecordKind.QPAIR, QP_LIVE | qpairFlags(q), 0, 1);
  let r = parseImage(buf);
  assert.ok(r.ok);
  assert.deepEqual([r.image.contents.qpairs, r.image.unknownQpairs], [[{ slot: 0, record: q }], 0]);
  buf.writeUInt16LE(43, off + 22);
  r = parseImage(buf);
  assert.ok(r.ok);
  assert.deepEqual([r.image.contents.qpairs, r.image.unknownQpairs], [[], 1], 'its SQ head is under its CRC');
});

test('probeHeader names each way a header can be unreadable', () => {
  const good = formatImage(identity, SMALL_CAPACITY, NEW_HEADER_SEED, emptyContents(identity.namespaces));
  const p = probeHeader(good);
  assert.ok(p.ok && p.layoutVersion === LAYOUT_VERSION && p.slot === 0);
  const short = probeHeader(good.subarray(0, 100));
  assert.ok(!short.ok && /truncated/.test(short.problem));
  const zero = probeHeader(Buffer.alloc(8192));
  assert.ok(!zero.ok && /both header slots are zero/.test(zero.problem));
  const torn = Buffer.from(good);
  torn[100] ^= 0xff; // slot A body; slot B was never written
  const t = probeHeader(torn);
  assert.ok(!t.ok && /torn header/.test(t.problem), JSON.stringify(t));
  const junk = Buffer.alloc(8192, 0x5a);
  const j = probeHeader(junk);
  assert.ok(!j.ok && /garbage/.test(j.problem));
});
