// Each kind of bad state file is set aside (newest three kept), counted, and a fresh file started;
// a file from a newer layout is kept untouched and open() refuses to serve.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { openStateFile, StateFileError, type OpenStateFileOptions } from './state-file.js';
import { HDR, HEADER_SLOT_SIZE, LAYOUT_VERSION, REC, slotOffset } from './layout.js';
import { seal } from './slots.js';
import { parseImage } from './image.js';
import { listAside } from './files.js';
import { BOOT_ID, SMALL_CAPACITY, recordingLog, tempDir, testController, testIdentity } from './test-support/fixtures.js';

function options(path: string, extra: Partial<OpenStateFileOptions> = {}): OpenStateFileOptions {
  return { path, identity: testIdentity(), durability: 'process', bootId: BOOT_ID, log: recordingLog(), capacity: SMALL_CAPACITY, ...extra };
}

/** A real file: two opens (so both header slots hold a version) and two controllers written twice. */
async function goodFile(path: string): Promise<void> {
  for (let i = 0; i < 2; i++) {
    const sf = await openStateFile(options(path));
    if (i === 0) {
      for (const n of [1, 2]) sf.writeController(sf.allocateControllerSlot(), testController(n));
    } else {
      for (const { slot, record } of sf.liveControllers()) sf.writeController(slot, { ...record, katoMs: 9 });
    }
    sf.close();
  }
}

function reseal(buf: Buffer, slot: 0 | 1): void {
  const off = slot * HEADER_SLOT_SIZE;
  seal(buf, off, HEADER_SLOT_SIZE, buf.readUInt16LE(off + REC.KIND), 0, 0, buf.readUInt32LE(off + REC.SEQ));
}

const cases: Array<{ name: string; damage(path: string): void; reason: RegExp; identity?: ReturnType<typeof testIdentity> }> = [
  { name: 'truncated body', damage: (p) => truncateSync(p, 16384), reason: /truncated: 16384 bytes/ },
  { name: 'truncated below the header', damage: (p) => truncateSync(p, 100), reason: /truncated: 100 bytes/ },
  { name: 'empty file', damage: (p) => truncateSync(p, 0), reason: /truncated: 0 bytes/ },
  {
    name: 'torn header in both slots',
    damage: (p) => {
      const b = readFileSync(p);
      b[HDR.BOOT_COUNT] ^= 1;
      b[HEADER_SLOT_SIZE + HDR.BOOT_COUNT] ^= 1;
      writeFileSync(p, b);
    },
    reason: /torn header/,
  },
  { name: 'garbage', damage: (p) => writeFileSync(p, randomBytes(readFileSync(p).length)), reason: /garbage/ },
  {
    name: 'wrong magic with valid CRCs',
    damage: (p) => {
      const b = readFileSync(p);
      for (const slot of [0, 1] as const) {
        b.write('NOTOURS!', slot * HEADER_SLOT_SIZE + HDR.MAGIC, 'latin1');
        reseal(b, slot);
      }
      writeFileSync(p, b);
    },
    reason: /wrong magic/,
  },
  { name: 'another subsystem\'s identity', damage: () => {}, identity: testIdentity('nqn.2024-01.io.nvmeof:someone-else'), reason: /another subsystem's state \(the file belongs to nqn.2024-01.io.nvmeof:test-subsystem\)/ },
  {
    name: 'a controller record damaged in both slots',
    damage: (p) => {
      const b = readFileSync(p);
      const parsed = parseImage(b);
      assert.ok(parsed.ok);
      const sec = parsed.image.sections.controllers.sec;
      b[slotOffset(sec, 0, 0) + 100] ^= 1;
      b[slotOffset(sec, 0, 1) + 100] ^= 1;
      writeFileSync(p, b);
    },
    reason: /controller record 0: both slots damaged/,
  },
];

for (const c of cases) {
  test(`bad file: ${c.name} is set aside, counted, and a fresh file serves`, async (t) => {
    const { dir, cleanup } = tempDir();
    t.after(cleanup);
    const path = join(dir, 'state.bin');
    await goodFile(path);
    c.damage(path);
    const bad = readFileSync(path);
    const log = recordingLog();
    const sf = await openStateFile(options(path, { log, ...(c.identity ? { identity: c.identity } : {}) }));
    assert.equal(sf.outcome, 'corrupt');
    assert.match(sf.restored.corruptReason ?? '', c.reason);
    assert.deepEqual(sf.header.outcomes, { fresh: 0, clean: 0, restored: 0, corrupt: 1 });
    assert.equal(sf.restored.controllers.length, 0);
    assert.ok(sf.restored.asidePath && readFileSync(sf.restored.asidePath).equals(bad), 'the bad file is kept as it was');
    assert.deepEqual(listAside(path), [sf.restored.asidePath]);
    assert.ok(log.lines.some((l) => l.level === 'warn' && /set aside/.test(l.msg)));
    assert.equal(sf.allocateCntlid(), 1);
    sf.close();
    const again = await openStateFile(options(path, c.identity ? { identity: c.identity } : {}));
    assert.equal(again.outcome, 'restored', 'the fresh file is a good one');
    again.close();
  });
}

test('only the newest three set-aside files are kept', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const path = join(dir, 'state.bin');
  for (let i = 1; i <= 5; i++) {
    writeFileSync(path, Buffer.from(`junk number ${i}`.padEnd(9000, '.')));
    const sf = await openStateFile(options(path, { now: () => Date.UTC(2026, 0, 1, 0, 0, i) }));
    assert.equal(sf.outcome, 'corrupt');
    sf.close();
  }
  const kept = listAside(path);
  assert.equal(kept.length, 3);
  assert.deepEqual(kept.map((p) => readFileSync(p, 'latin1').slice(0, 13)), ['junk number 5', 'junk number 4', 'junk number 3']);
  assert.match(kept[0], /state\.bin\.corrupt-20260101T000005\.000Z$/);
});

test('a file from a newer layout is kept untouched and open refuses to serve', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const path = join(dir, 'state.bin');
  await goodFile(path);
  const b = readFileSync(path);
  for (const slot of [0, 1] as const) {
    b.writeUInt32LE(LAYOUT_VERSION + 1, slot * HEADER_SLOT_SIZE + HDR.VERSION);
    reseal(b, slot);
  }
  b.fill(0x77, b.length - 4096); // a section this binary knows nothing of
  writeFileSync(path, b);
  const log = recordingLog();
  await assert.rejects(openStateFile(options(path, { log })), (e: unknown) => {
    assert.ok(e instanceof StateFileError);
    assert.equal(e.code, 'newer-layout');
    assert.match(e.message, new RegExp(`layout version ${LAYOUT_VERSION + 1}, newer than this binary's ${LAYOUT_VERSION}: refusing to serve`));
    return true;
  });
  assert.ok(readFileSync(path).equals(b), 'the file is byte for byte what the newer binary left');
  assert.deepEqual(listAside(path), []);
  assert.ok(log.lines.some((l) => l.level === 'error' && /refused/.test(l.msg)));
  // The lock was released: a second attempt is refused at once rather than waiting.
  let waited = false;
  await assert.rejects(openStateFile(options(path, { onWaitingForLock: () => { waited = true; } })), StateFileError);
  assert.equal(waited, false);
  assert.ok(!existsSync(`${path}.new`));
});
