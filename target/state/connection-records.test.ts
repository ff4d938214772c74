import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionRecords } from './connection-records.js';
import { formatImage, NEW_HEADER_SEED, parseImage } from './image.js';
import { IF, IF_SIZE, REC, RecordKind, Stage } from './layout.js';
import { slotState } from './slots.js';
import { emptyContents } from './types.js';
import { testIdentity } from './test-support/fixtures.js';

function setup(perQpair = 4) {
  const identity = testIdentity();
  const cap = { controllers: 2, qpairs: 3, inflightPerQpair: perQpair };
  const buf = formatImage(identity, cap, NEW_HEADER_SEED, emptyContents(identity.namespaces));
  const p = parseImage(buf);
  assert.ok(p.ok);
  return { buf, c: new ConnectionRecords(buf, p.image.sections.qpairs, p.image.sections.inflight, perQpair) };
}

function inflight(buf: Buffer) {
  const p = parseImage(buf);
  assert.ok(p.ok);
  return p.image.contents.inflight;
}

test('in-flight slots are handed out per qpair until full, then -1; end() returns them', () => {
  const { buf, c } = setup(2);
  const q0 = c.allocateQpair();
  const q1 = c.allocateQpair();
  const a = c.begin(q0, 1, 2, 1, 0, 0, 0);
  const b = c.begin(q0, 2, 2, 1, 0, 0, 0);
  assert.equal(c.begin(q0, 3, 2, 1, 0, 0, 0), -1);
  assert.notEqual(c.begin(q1, 4, 2, 1, 0, 0, 0), -1, 'another qpair has its own slots');
  assert.equal(Math.floor(a / 2), q0);
  assert.equal(Math.floor(b / 2), q0);
  c.end(a);
  assert.equal(c.begin(q0, 5, 2, 1, 0, 0, 0), a);
  assert.deepEqual(inflight(buf).map((r) => r.cid).sort(), [2, 4, 5]);
});

test('ending a slot twice is a bug and throws', () => {
  const { c } = setup();
  const h = c.begin(c.allocateQpair(), 1, 2, 1, 0, 0, 0);
  c.end(h);
  assert.throws(() => c.end(h), /ended twice/);
});

test('stage changes are visible in the file, and end() leaves a free (not in-flight) record', () => {
  const { buf, c } = setup();
  const q = c.allocateQpair();
  const h = c.begin(q, 9, 1, 1, 100, 0, 7);
  for (const [code, name] of [[Stage['data-in'], 'data-in'], [Stage.executing, 'executing'], [Stage['done-but-unsent'], 'done-but-unsent']] as const) {
    c.stage(h, code);
    assert.equal(inflight(buf)[0].stage, name);
  }
  c.end(h);
  assert.deepEqual(inflight(buf), []);
});

test('freeQpair clears its records and gives back all its in-flight slots', () => {
  const { buf, c } = setup(2);
  const q = c.allocateQpair();
  c.writeQpair(q, { cntlid: 1, qid: 1, sqsize: 31, sqhd: 0, hdgst: false, ddgst: true, epoch: 1 });
  c.begin(q, 1, 2, 1, 0, 0, 0);
  c.begin(q, 2, 2, 1, 0, 0, 0);
  c.freeQpair(q);
  const p = parseImage(buf);
  assert.ok(p.ok);
  assert.deepEqual(p.image.contents.qpairs, []);
  assert.deepEqual(p.image.contents.inflight, []);
  const again = c.allocateQpair();
  assert.notEqual(c.begin(again, 1, 2, 1, 0, 0, 0), -1);
  assert.notEqual(c.begin(again, 2, 2, 1, 0, 0, 0), -1);
});

test('clearAll zeroes what a previous process left and counts it', () => {
  const { buf, c } = setup();
  const q = c.allocateQpair();
  c.writeQpair(q, { cntlid: 1, qid: 0, sqsize: 31, sqhd: 0, hdgst: false, ddgst: false, epoch: 1 });
  c.begin(q, 1, 2, 1, 0, 0, 0);
  const fresh = new ConnectionRecords(buf, ...(() => { const p = parseImage(buf); assert.ok(p.ok); return [p.image.sections.qpairs, p.image.sections.inflight] as const; })(), 4);
  assert.equal(fresh.clearAll(), 2);
  assert.deepEqual(inflight(buf), []);
});

test('after detach() hot-path stores change nothing', () => {
  const { buf, c } = setup();
  const q = c.allocateQpair();
  const h = c.begin(q, 1, 2, 1, 0, 0, 0);
  const before = Buffer.from(buf);
  c.detach();
  c.stage(h, Stage.executing);
  c.storeSqhd(q, 5);
  assert.ok(buf.equals(before));
});

test('handle -1 (nothing free: the command or qpair runs untracked) is a no-op everywhere', () => {
  const { buf, c } = setup(1);
  const q = c.allocateQpair();
  c.begin(q, 1, 2, 1, 0, 0, 0);
  const h = c.begin(q, 2, 2, 1, 0, 0, 0);
  assert.equal(h, -1);
  const before = Buffer.from(buf);
  c.stage(h, Stage.executing);
  c.end(h);
  c.storeSqhd(-1, 3);
  c.writeQpair(-1, { cntlid: 1, qid: 1, sqsize: 1, sqhd: 0, hdgst: false, ddgst: false, epoch: 0 });
  c.freeQpair(-1);
  assert.equal(c.begin(-1, 1, 2, 1, 0, 0, 0), -1);
  assert.ok(buf.equals(before));
});

test('end() is one store: the record keeps a stale CRC, yet reads as free, not as unknown; a torn begin reads as unknown', () => {
  const { buf, c } = setup();
  const sec = (() => { const p = parseImage(buf); assert.ok(p.ok); return p.image.sections.inflight; })();
  const q = c.allocateQpair();
  const h = c.begin(q, 9, 1, 1, 100, 0, 7, Stage.executing);
  const off = sec.offset + h * IF_SIZE;
  assert.equal(slotState(buf, off, IF_SIZE, RecordKind.INFLIGHT, h), 'valid');
  const before = Buffer.from(buf);
  c.end(h);
  const changed = [...buf.keys()].filter((i) => buf[i] !== before[i]);
  assert.deepEqual(changed, [off + IF.STAGE], 'end() changes the stage byte alone');
  assert.equal(slotState(buf, off, IF_SIZE, RecordKind.INFLIGHT, h), 'invalid', 'its CRC is stale');
  let p = parseImage(buf);
  assert.ok(p.ok);
  assert.deepEqual([p.image.contents.inflight, p.image.unknownInflight], [[], 0]);
  // The slot again, cut short after its stage word (before its CRC): unknown, never a valid old record.
  assert.equal(c.begin(q, 9, 1, 1, 100, 0, 7, Stage.executing), h);
  buf.writeUInt32LE((buf.readUInt32LE(off + REC.CRC) ^ 1) >>> 0, off + REC.CRC);
  p = parseImage(buf);
  assert.ok(p.ok);
  assert.deepEqual([p.image.contents.inflight, p.image.unknownInflight], [[], 1]);
});
