import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionRecords } from './connection-records.js';
import { formatImage, NEW_HEADER_SEED, parseImage } from './image.js';
import { IF, IF_ORDERED, IF_SIZE, REC, RecordKind, Stage } from './layout.js';
import { seal, slotState } from './slots.js';
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

test('begin() commits with its stage word: cut short at any earlier store it reads as free; a stale body reads as unknown; stage() and end() are one store', () => {
  const { buf, c } = setup();
  const sec = (() => { const p = parseImage(buf); assert.ok(p.ok); return p.image.sections.inflight; })();
  const read = () => { const p = parseImage(buf); assert.ok(p.ok); return [p.image.contents.inflight.map((f) => [f.cid, f.slba, f.stage]), p.image.unknownInflight]; };
  const q = c.allocateQpair();
  const h = c.begin(q, 9, 1, 1, 100, 0, 7, Stage.executing);
  const off = sec.offset + h * IF_SIZE;
  assert.deepEqual(read(), [[[9, 100, 'executing']], 0]);
  assert.equal(buf.readUInt16LE(off + REC.FLAGS) & IF_ORDERED, IF_ORDERED);
  const words = (b: Buffer) => Array.from({ length: IF_SIZE / 4 }, (_, i) => b.readUInt32LE(off + 4 * i));
  let before = Buffer.from(buf);
  c.stage(h, Stage['done-but-unsent']);
  assert.deepEqual([...buf.keys()].filter((i) => buf[i] !== before[i]), [off + IF.STAGE], 'stage() changes the stage byte alone');
  assert.deepEqual(read(), [[[9, 100, 'done-but-unsent']], 0]);
  before = Buffer.from(buf);
  c.end(h);
  assert.deepEqual([...buf.keys()].filter((i) => buf[i] !== before[i]), [off + IF.STAGE], 'end() changes the stage byte alone');
  assert.deepEqual(read(), [[], 0]);

  // The slot again for another command: every mix of its new words but the stage word (the stores before
  // the commit, in any order) reads as free.
  const old = words(buf);
  assert.equal(c.begin(q, 10, 2, 1, 200, 0, 3, Stage.executing), h);
  const now = words(buf);
  const changed = now.map((w, i) => (w !== old[i] ? i : -1)).filter((i) => i >= 0 && i !== IF.STAGE >> 2);
  assert.ok(changed.length >= 3, `begin() stored ${changed.length} words before its stage word`);
  for (let m = 0; m < 1 << changed.length; m++) {
    changed.forEach((w, j) => buf.writeUInt32LE(m & (1 << j) ? now[w] : old[w], off + 4 * w));
    buf.writeUInt32LE(old[IF.STAGE >> 2], off + IF.STAGE - 3);
    assert.deepEqual(read(), [[], 0], `words ${changed.filter((_, j) => m & (1 << j))} stored, the stage word not`);
  }
  // Committed with one body word stale (a page written back mid-begin, then a node crash): unknown.
  now.forEach((w, i) => buf.writeUInt32LE(w, off + 4 * i));
  assert.deepEqual(read(), [[[10, 200, 'executing']], 0]);
  buf.writeUInt32LE(old[IF.SLBA_LO >> 2], off + IF.SLBA_LO);
  assert.deepEqual(read(), [[], 1]);
});

test('an older binary\'s in-flight record (no IF_ORDERED flag) is checked by its CRC', () => {
  const { buf, c } = setup();
  const sec = (() => { const p = parseImage(buf); assert.ok(p.ok); return p.image.sections.inflight; })();
  const q = c.allocateQpair();
  const h = c.begin(q, 9, 1, 1, 100, 0, 7, Stage.executing);
  const off = sec.offset + h * IF_SIZE;
  buf.writeUInt16LE(0, off + REC.FLAGS);
  seal(buf, off, IF_SIZE, RecordKind.INFLIGHT, 0, h, 1);
  assert.equal(slotState(buf, off, IF_SIZE, RecordKind.INFLIGHT, h), 'valid');
  let p = parseImage(buf);
  assert.ok(p.ok);
  assert.deepEqual([p.image.contents.inflight.length, p.image.unknownInflight], [1, 0]);
  buf[off + IF.NSID] ^= 1;
  p = parseImage(buf);
  assert.ok(p.ok);
  assert.deepEqual([p.image.contents.inflight.length, p.image.unknownInflight], [0, 1]);
});
