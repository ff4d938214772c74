// A file written by the previous layout (1) is migrated to layout 2 on open, keeping what it held.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { openStateFile, type OpenStateFileOptions } from './state-file.js';
import { probeHeader } from './header.js';
import { LAYOUT_VERSION } from './layout.js';
import { writeV1Image, type V1State } from './test-support/v1-writer.js';
import { BOOT_ID, NQN, SMALL_CAPACITY, recordingLog, tempDir, testIdentity } from './test-support/fixtures.js';

const NOW = 1_750_000_000_000;

function options(path: string, extra: Partial<OpenStateFileOptions> = {}): OpenStateFileOptions {
  return { path, identity: testIdentity(), durability: 'process', bootId: BOOT_ID, log: recordingLog(), capacity: SMALL_CAPACITY, now: () => NOW, ...extra };
}

const v1: V1State = {
  bootCount: 7,
  cleanShutdown: false,
  outcomes: { fresh: 1, clean: 2, restored: 4 },
  cntlidNext: 31,
  controllers: [
    { cntlid: 29, hostNqn: 'nqn.2014-08.org.nvmexpress:uuid:host-a', hostId: Buffer.alloc(16, 0xa), katoMs: 5000 },
    undefined,
    { cntlid: 30, hostNqn: 'nqn.2014-08.org.nvmexpress:uuid:host-b', hostId: Buffer.alloc(16, 0xb), katoMs: 15000 },
    undefined,
  ],
};

test('a layout-1 file of a process that died migrates: controllers, allocator and counts carried over', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const path = join(dir, 'state.bin');
  const old = writeV1Image(testIdentity(), v1);
  writeFileSync(path, old);
  const log = recordingLog();
  const sf = await openStateFile(options(path, { log }));
  assert.equal(sf.outcome, 'restored');
  assert.equal(sf.restored.migratedFrom, 1);
  assert.deepEqual(sf.header.outcomes, { fresh: 1, clean: 2, restored: 5, corrupt: 0 });
  assert.equal(sf.restored.bootCount, 8);
  assert.equal(sf.restored.cntlidNext, 31);
  const ctrls = sf.restored.controllers.map((c) => c.record);
  assert.deepEqual(ctrls.map((c) => [c.cntlid, c.hostNqn, c.katoMs, c.hostId.toString('hex')]), [
    [29, 'nqn.2014-08.org.nvmexpress:uuid:host-a', 5000, '0a'.repeat(16)],
    [30, 'nqn.2014-08.org.nvmexpress:uuid:host-b', 15000, '0b'.repeat(16)],
  ]);
  for (const c of ctrls) {
    assert.equal(c.subnqn, NQN);
    assert.equal(c.lastSeenMs, NOW, 'a migrated controller gets its full controller-loss time');
    assert.deepEqual(c.savedFeatures, []);
  }
  assert.equal(sf.allocateCntlid(), 31);
  assert.ok(log.lines.some((l) => /migrating state file/.test(l.msg) && l.meta?.from === 1));
  sf.close();
  assert.ok(readFileSync(`${path}.layout-1`).equals(old), 'the layout-1 file is kept as a backup');
  const p = probeHeader(readFileSync(path));
  assert.ok(p.ok && p.layoutVersion === LAYOUT_VERSION);
  const again = await openStateFile(options(path));
  assert.equal(again.outcome, 'restored');
  assert.equal(again.restored.migratedFrom, undefined);
  assert.equal(again.restored.controllers.length, 2);
  again.close();
});

test('a layout-1 file with its clean flag set migrates as a clean start', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const path = join(dir, 'state.bin');
  writeFileSync(path, writeV1Image(testIdentity(), { ...v1, cleanShutdown: true }));
  const sf = await openStateFile(options(path));
  assert.equal(sf.outcome, 'clean');
  assert.equal(sf.header.outcomes.clean, 3);
  sf.close();
});

test('a layout-1 file of another subsystem is set aside, not migrated', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const path = join(dir, 'state.bin');
  writeFileSync(path, writeV1Image(testIdentity('nqn.2024-01.io.nvmeof:other'), v1));
  const sf = await openStateFile(options(path));
  assert.equal(sf.outcome, 'corrupt');
  assert.match(sf.restored.corruptReason ?? '', /identity digest differs/);
  sf.close();
});

test('a truncated layout-1 file is set aside', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const path = join(dir, 'state.bin');
  writeFileSync(path, writeV1Image(testIdentity(), v1).subarray(0, 10000));
  const sf = await openStateFile(options(path));
  assert.equal(sf.outcome, 'corrupt');
  assert.match(sf.restored.corruptReason ?? '', /truncated layout-1/);
  sf.close();
});
