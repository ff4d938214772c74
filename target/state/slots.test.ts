import { test } from 'node:test';
import assert from 'node:assert/strict';
import { REC, slotOffset, type SectionPlacement } from './layout.js';
import { readTwoSlot, seal, seqNewer, slotState, TwoSlotSection } from './slots.js';

const SEC: SectionPlacement = { kind: 5, slots: 2, recordSize: 64, count: 3, offset: 128 };

function value(buf: Buffer, s: TwoSlotSection, i: number): number | undefined {
  const off = s.current(i);
  return off < 0 ? undefined : buf.readUInt32LE(off + REC.BODY);
}

function put(s: TwoSlotSection, buf: Buffer, i: number, v: number): number {
  return s.write(buf, i, 0, (b, o) => b.writeUInt32LE(v, o + REC.BODY));
}

test('seqNewer follows serial-number arithmetic across the 32-bit wrap', () => {
  const table: Array<[number, number, boolean]> = [
    [2, 1, true], [1, 2, false], [1, 1, false], [0, 0xffffffff, true], [0xffffffff, 0, false], [5, 0xfffffffe, true], [0x80000001, 1, false],
  ];
  for (const [a, b, want] of table) assert.equal(seqNewer(a, b), want, `${a} newer than ${b}`);
});

test('writes alternate slots and the newest valid one is the value, also after a reload', () => {
  const buf = Buffer.alloc(1024);
  const s = new TwoSlotSection(SEC);
  assert.equal(put(s, buf, 1, 10), slotOffset(SEC, 1, 0));
  assert.equal(put(s, buf, 1, 11), slotOffset(SEC, 1, 1));
  assert.equal(put(s, buf, 1, 12), slotOffset(SEC, 1, 0));
  assert.equal(value(buf, s, 1), 12);
  const again = new TwoSlotSection(SEC);
  assert.deepEqual(again.load(buf), { torn: 0, damaged: [] });
  assert.equal(value(buf, again, 1), 12);
  assert.equal(value(buf, again, 0), undefined);
});

test('a write cut short after any prefix of its stores leaves the old or the new version', () => {
  const ref = Buffer.alloc(1024);
  const s = new TwoSlotSection(SEC);
  put(s, ref, 0, 100);
  const next = Buffer.from(ref);
  const target = put(s, next, 0, 101);
  // The order of a write's stores (slots.ts): zero the slot, body, record header fields, CRC last.
  const order: number[] = [];
  for (let i = REC.BODY; i < SEC.recordSize; i++) order.push(i);
  for (let i = REC.KIND; i < REC.BODY; i++) order.push(i);
  for (let i = REC.CRC; i < REC.KIND; i++) order.push(i);
  for (let k = 0; k <= order.length; k++) {
    const torn = Buffer.from(ref);
    torn.fill(0, target, target + SEC.recordSize);
    for (const i of order.slice(0, k)) torn[target + i] = next[target + i];
    const r = new TwoSlotSection(SEC);
    const l = r.load(torn);
    assert.deepEqual(l.damaged, [], `prefix ${k}`);
    assert.equal(value(torn, r, 0), k === order.length ? 101 : 100, `prefix ${k}`);
  }
});

test('a torn first write leaves the record absent, not damaged, and the next write reuses slot A', () => {
  const buf = Buffer.alloc(1024);
  const off = slotOffset(SEC, 2, 0);
  buf.fill(0xab, off + 4, off + 40); // slot A half written, no CRC
  const st = readTwoSlot(buf, SEC, 2);
  assert.deepEqual(st, { newest: -1, seq: 0, torn: false, damaged: false });
  const s = new TwoSlotSection(SEC);
  s.load(buf);
  assert.equal(put(s, buf, 2, 7), off);
  assert.equal(slotState(buf, slotOffset(SEC, 2, 1), SEC.recordSize, SEC.kind, 2), 'empty');
});

test('both slots non-zero and invalid is damage, which kills alone cannot produce', () => {
  const buf = Buffer.alloc(1024);
  const s = new TwoSlotSection(SEC);
  put(s, buf, 0, 1);
  put(s, buf, 0, 2);
  buf[slotOffset(SEC, 0, 0) + 20] ^= 1;
  buf[slotOffset(SEC, 0, 1) + 20] ^= 1;
  assert.deepEqual(new TwoSlotSection(SEC).load(buf).damaged, [0]);
});

test('a slot is invalid if its kind or index is not its place, even with a matching CRC', () => {
  const buf = Buffer.alloc(1024);
  const off = slotOffset(SEC, 1, 0);
  buf.writeUInt32LE(9, off + REC.BODY);
  seal(buf, off, SEC.recordSize, SEC.kind, 0, 2, 1); // index 2 written at index 1's place
  assert.equal(slotState(buf, off, SEC.recordSize, SEC.kind, 1), 'invalid');
  seal(buf, off, SEC.recordSize, SEC.kind + 1, 0, 1, 1);
  assert.equal(slotState(buf, off, SEC.recordSize, SEC.kind, 1), 'invalid');
  seal(buf, off, SEC.recordSize, SEC.kind, 0, 1, 1);
  assert.equal(slotState(buf, off, SEC.recordSize, SEC.kind, 1), 'valid');
});
