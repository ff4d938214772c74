import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { openStateFile, type OpenStateFileOptions } from './state-file.js';
import { decideSidecar, formatSidecar, listSidecars, parseSidecar, ReservationSidecar, sidecarPath } from './reservation-sidecar.js';
import type { ReservationRecord, SubsystemIdentity } from './types.js';
import { BOOT_ID, SMALL_CAPACITY, recordingLog, tempDir, testIdentity } from './test-support/fixtures.js';

function options(path: string, identity: SubsystemIdentity, log = recordingLog()): OpenStateFileOptions {
  return { path, identity, durability: 'process', bootId: BOOT_ID, log, capacity: SMALL_CAPACITY };
}

function record(nsid: number, key: bigint): ReservationRecord {
  return { nsid, generation: 2, rtype: 1, ptpl: false, holderHostId: Buffer.alloc(16, 7), registrants: [{ hostId: Buffer.alloc(16, 7), key }] };
}

const ONE = testIdentity(undefined, [1]);
const TWO = testIdentity(undefined, [1, 2]);
const NS2 = TWO.namespaces[1];

test('a sidecar keeps the newest record written, across close and reopen of its bytes', (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const path = join(dir, 'state.bin');
  const sc = ReservationSidecar.create(path, NS2);
  assert.equal(sc.read(), undefined);
  sc.write(record(2, 1n), false);
  sc.write(record(2, 9n), true);
  sc.close();
  const c = parseSidecar(readFileSync(sidecarPath(path, 2)));
  assert.ok(c.ok);
  assert.equal(c.ns.nsid, 2);
  assert.ok(c.ns.uuid.equals(NS2.uuid));
  assert.equal(c.record?.registrants[0].key, 9n);
  assert.deepEqual(listSidecars(path), [{ nsid: 2, path: sidecarPath(path, 2) }]);
  assert.throws(() => sc.write(record(2, 3n), false), /closed/);
});

test('decisions: import only a record of a namespace the file lacks, whose identity is served', () => {
  const withRecord = { ok: true as const, ns: NS2, record: record(2, 5n) };
  assert.deepEqual(decideSidecar(2, withRecord, true, NS2), { action: 'import', record: withRecord.record });
  assert.equal(decideSidecar(2, withRecord, false, NS2).action, 'discard');
  assert.equal(decideSidecar(2, withRecord, true, undefined).action, 'discard');
  assert.equal(decideSidecar(2, { ok: true, ns: NS2 }, true, NS2).action, 'discard');
  const other = { ...NS2, uuid: Buffer.alloc(16, 1) };
  assert.match((decideSidecar(2, withRecord, true, other) as { reason: string }).reason, /uuid/);
  assert.equal(decideSidecar(3, withRecord, true, NS2).action, 'set-aside');
  assert.equal(decideSidecar(2, { ok: false, problem: 'x' }, true, NS2).action, 'set-aside');
  // A grown namespace is the same namespace (namespace-changes.ts).
  assert.equal(decideSidecar(2, withRecord, true, { ...NS2, size: NS2.size * 2 }).action, 'import');
});

test('a sidecar whose namespace record fails its CRC, or of another size, does not parse', () => {
  const buf = formatSidecar(NS2);
  assert.equal(parseSidecar(buf).ok, true);
  const bad = Buffer.from(buf);
  bad[20] ^= 0xff; // inside the namespace record's slot A
  assert.equal(parseSidecar(bad).ok, false);
  assert.equal(parseSidecar(buf.subarray(0, 100)).ok, false);
});

test('the next start imports a sidecar into the resized state file, then removes it', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const path = join(dir, 'state.bin');
  (await openStateFile(options(path, ONE))).close();
  const sc = ReservationSidecar.create(path, NS2);
  sc.write(record(2, 77n), false);
  sc.close();
  const log = recordingLog();
  const sf = await openStateFile(options(path, TWO, log));
  assert.equal(sf.reservation(2)?.registrants[0].key, 77n);
  assert.equal(sf.reservation(2)?.rtype, 1);
  sf.close();
  assert.equal(existsSync(sidecarPath(path, 2)), false);
  assert.ok(log.lines.some((l) => /imported/.test(l.msg)));
  // A sidecar left by a crash after the file was stored: the file's record wins, the sidecar goes.
  const left = ReservationSidecar.create(path, NS2);
  left.write(record(2, 1n), false);
  left.close();
  const again = await openStateFile(options(path, TWO));
  assert.equal(again.reservation(2)?.registrants[0].key, 77n);
  again.close();
  assert.equal(existsSync(sidecarPath(path, 2)), false);
});

test('a corrupt sidecar is set aside and reported; the start goes on', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const path = join(dir, 'state.bin');
  (await openStateFile(options(path, ONE))).close();
  writeFileSync(sidecarPath(path, 2), Buffer.alloc(4096, 0xab));
  const log = recordingLog();
  const sf = await openStateFile(options(path, TWO, log));
  assert.equal(sf.reservation(2), undefined);
  sf.close();
  assert.equal(existsSync(sidecarPath(path, 2)), false);
  assert.ok(readdirSync(dir).some((n) => n.startsWith('state.bin.reservations-nsid-2.bin.corrupt-')));
  assert.ok(log.lines.some((l) => l.level === 'warn' && /sidecar is corrupt/.test(l.msg)));
});

test('a removed namespace takes its sidecar along', (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const path = join(dir, 'state.bin');
  const sc = ReservationSidecar.create(path, NS2);
  sc.write(record(2, 4n), false);
  sc.remove();
  assert.deepEqual(listSidecars(path), []);
});
