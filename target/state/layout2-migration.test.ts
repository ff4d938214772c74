// A file written by layout 2 (identity digest v1: the NQN and every namespace's identity and size) is migrated
// to layout 3 (digest v2: the NQN alone) on open, keeping what it held; afterwards a change of the namespace
// set or of a size (a live reconfiguration, then a restart) keeps the file as this subsystem's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { openStateFile, type OpenStateFileOptions } from './state-file.js';
import { decodeHeader, probeHeader } from './header.js';
import { HDR, HEADER_SLOT_SIZE, LAYOUT_2, LAYOUT_VERSION, REC } from './layout.js';
import { seal } from './slots.js';
import { identityDigest, identityDigestV1 } from './identity-digest.js';
import { BOOT_ID, SMALL_CAPACITY, recordingLog, tempDir, testController, testIdentity } from './test-support/fixtures.js';
import type { SubsystemIdentity } from './types.js';

function options(path: string, extra: Partial<OpenStateFileOptions> = {}): OpenStateFileOptions {
  return { path, identity: testIdentity(), durability: 'process', bootId: BOOT_ID, log: recordingLog(), capacity: SMALL_CAPACITY, ...extra };
}

/**
 * A layout-2 file as the previous binary left it: a process that wrote two controllers and died. Layout 2's
 * bytes are layout 3's; only the version and the digest (v1) differ, so a layout-3 file is made and its
 * header slots rewritten as layout 2 wrote them (both slots hold a version: the file was opened twice).
 */
async function layout2File(path: string, identity: SubsystemIdentity = testIdentity()): Promise<Buffer> {
  for (let i = 0; i < 2; i++) {
    const sf = await openStateFile(options(path, { identity }));
    if (i === 0) for (const n of [1, 2]) sf.writeController(sf.allocateControllerSlot(), testController(n));
    sf.close();
  }
  const b = readFileSync(path);
  for (const slot of [0, 1]) {
    const off = slot * HEADER_SLOT_SIZE;
    b.writeUInt32LE(LAYOUT_2, off + HDR.VERSION);
    identityDigestV1(identity).copy(b, off + HDR.IDENTITY_DIGEST);
    seal(b, off, HEADER_SLOT_SIZE, b.readUInt16LE(off + REC.KIND), 0, 0, b.readUInt32LE(off + REC.SEQ));
  }
  writeFileSync(path, b);
  const p = probeHeader(b);
  assert.ok(p.ok && p.layoutVersion === LAYOUT_2, 'the file reads as layout 2');
  return b;
}

function header(path: string) {
  const b = readFileSync(path);
  const p = probeHeader(b);
  assert.ok(p.ok);
  return decodeHeader(b, p.off);
}

test('a layout-2 file of a process that died migrates to layout 3: controllers kept, digest v2, the old file backed up', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const path = join(dir, 'state.bin');
  const old = await layout2File(path);
  const log = recordingLog();
  const sf = await openStateFile(options(path, { log }));
  assert.equal(sf.outcome, 'restored');
  assert.equal(sf.restored.migratedFrom, LAYOUT_2);
  assert.deepEqual(sf.restored.controllers.map((c) => c.record.cntlid).sort(), [1, 2]);
  assert.equal(sf.restored.namespaceChanges, undefined);
  assert.ok(log.lines.some((l) => /migrating state file/.test(l.msg) && l.meta?.from === LAYOUT_2 && l.meta?.to === LAYOUT_VERSION));
  sf.close();
  assert.ok(readFileSync(`${path}.layout-2`).equals(old), 'the layout-2 file is kept as a backup');
  const h = header(path);
  assert.equal(h.layoutVersion, LAYOUT_VERSION);
  assert.ok(h.identityDigest.equals(identityDigest(testIdentity())), 'the digest is v2: the NQN alone');
  const again = await openStateFile(options(path));
  assert.equal(again.restored.migratedFrom, undefined);
  assert.equal(again.restored.controllers.length, 2);
  again.close();
});

test('a layout-2 file whose namespaces changed migrates with the changes: controllers kept, nsid 2\'s state dropped', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const path = join(dir, 'state.bin');
  await layout2File(path);
  const now = testIdentity(undefined, [1, 3]);
  now.namespaces[0].size *= 2;
  const sf = await openStateFile(options(path, { identity: now }));
  assert.equal(sf.outcome, 'restored');
  assert.equal(sf.restored.migratedFrom, LAYOUT_2);
  const c = sf.restored.namespaceChanges!;
  assert.deepEqual([c.added, c.removed, c.grown.map((g) => g.nsid)], [[3], [2], [1]]);
  assert.equal(sf.restored.controllers.length, 2);
  sf.close();
});

test('a layout-2 file of another subsystem is set aside, not migrated', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const path = join(dir, 'state.bin');
  await layout2File(path, testIdentity('nqn.2024-01.io.nvmeof:other'));
  const sf = await openStateFile(options(path));
  assert.equal(sf.outcome, 'corrupt');
  assert.match(sf.restored.corruptReason ?? '', /another subsystem's state/);
  sf.close();
});

test('layout 3: namespaces added, removed and grown (a live change, then a restart) keep the file and its digest', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const path = join(dir, 'state.bin');
  const first = await openStateFile(options(path));
  first.writeController(first.allocateControllerSlot(), testController(7));
  first.close();
  const digest = header(path).identityDigest;
  const now = testIdentity(undefined, [1, 3]);
  now.namespaces[0].size += 1 << 20;
  const log = recordingLog();
  const sf = await openStateFile(options(path, { identity: now, log }));
  assert.notEqual(sf.outcome, 'corrupt');
  assert.equal(sf.restored.migratedFrom, undefined);
  const c = sf.restored.namespaceChanges!;
  assert.deepEqual([c.added, c.removed, c.grown.map((g) => g.nsid)], [[3], [2], [1]]);
  assert.deepEqual(sf.restored.controllers.map((x) => x.record.cntlid), [7]);
  assert.ok(log.lines.some((l) => /^namespaces changed: added nsid 3; removed nsid 2; nsid 1 grew/.test(l.msg)));
  sf.close();
  assert.ok(header(path).identityDigest.equals(digest), 'the digest did not move');
  const again = await openStateFile(options(path, { identity: now }));
  assert.equal(again.restored.namespaceChanges, undefined, 'the records now hold the new namespaces');
  again.close();
});
