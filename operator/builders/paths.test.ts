import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deviceAllowed, fileBackingPath, SUBSYSTEM_MOUNT, subsystemHostDir } from './paths.js';

test('fileBackingPath: paths inside the subsystem directory', () => {
  for (const [rel, abs] of [['ns1.img', `${SUBSYSTEM_MOUNT}/ns1.img`], ['data/ns-1_a.img', `${SUBSYSTEM_MOUNT}/data/ns-1_a.img`]]) {
    assert.deepEqual(fileBackingPath(rel), { ok: true, value: abs });
  }
});

test('fileBackingPath: refused paths', () => {
  const bad = ['', '/etc/passwd', '../x', 'a/../../x', 'a/./b', './a', 'a//b', 'a/', '.hidden', '-rf', 'state.bin', 'a\0b', 'a b', 'x'.repeat(201), '..'];
  for (const rel of bad) {
    const r = fileBackingPath(rel);
    assert.equal(r.ok, false, rel);
  }
});

test('subsystemHostDir: table', () => {
  assert.deepEqual(subsystemHostDir('/var/lib/nvmeof', 'storage', 'vol'), { ok: true, value: '/var/lib/nvmeof/storage/vol' });
  for (const [root, ns, name] of [['/', 'a', 'b'], ['relative', 'a', 'b'], ['/var/../etc', 'a', 'b'], ['/var/lib/nvmeof', '..', 'b'], ['/var/lib/nvmeof', 'a', '../b'], ['/var/lib/nvmeof', 'a', 'B']]) {
    assert.equal(subsystemHostDir(root, ns, name).ok, false, `${root} ${ns} ${name}`);
  }
});

test('deviceAllowed: exact entries and one-segment prefixes only', () => {
  const allow = ['/dev/sdb', '/dev/disk/by-id/nvme-*'];
  const cases: Array<[string, boolean]> = [
    ['/dev/sdb', true],
    ['/dev/sdc', false],
    ['/dev/sdb1', false],
    ['/dev/disk/by-id/nvme-Samsung_123', true],
    ['/dev/disk/by-id/nvme-', false],
    ['/dev/disk/by-id/nvme-x/../../../sda', false],
    ['/dev/disk/by-id/nvme-a/b', false],
    ['/dev/./sdb', false],
    ['/etc/passwd', false],
  ];
  for (const [dev, ok] of cases) assert.equal(deviceAllowed(dev, allow), ok, dev);
  assert.equal(deviceAllowed('/dev/sdb', []), false);
});
