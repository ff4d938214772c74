import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findIdentityConflicts, ownDuplicate, type IdentityClaim } from './identity-claims.js';

const claim = (key: string, createdAt: string, over: Partial<IdentityClaim> = {}): IdentityClaim => ({
  key, createdAt, serving: false, nqn: `nqn.2024-01.io.nvmeof:${key}`, namespaces: [], retired: [], devices: [], ...over,
});
const U = '11111111-2222-8333-8444-555555555555';

test('findIdentityConflicts: the later resource loses an NQN, naming the other', () => {
  const c = findIdentityConflicts([claim('ns/b', '2026-01-02', { nqn: 'nqn.x:a' }), claim('ns/a', '2026-01-01', { nqn: 'nqn.x:a' })]);
  assert.deepEqual([...c], [['ns/b', { with: 'ns/a', what: 'NQN nqn.x:a', where: 'its NQN' }]]);
});

test('findIdentityConflicts: a serving subsystem is never the loser, whatever its age', () => {
  const c = findIdentityConflicts([claim('ns/old', '2026-01-01', { nqn: 'nqn.x:a' }), claim('ns/new', '2026-01-02', { nqn: 'nqn.x:a', serving: true })]);
  assert.deepEqual([...c.keys()], ['ns/old']);
});

test('findIdentityConflicts: namespace identifiers, case-insensitively, retired ones too; a loser blocks no third', () => {
  const a = claim('ns/a', '2026-01-01', { namespaces: [{ nsid: 1, uuid: U }], retired: [{ nsid: 2, nguid: 'ab'.repeat(16) }] });
  const b = claim('ns/b', '2026-01-02', { namespaces: [{ nsid: 7, uuid: U.toUpperCase() }, { nsid: 8, eui64: '02'.repeat(8) }] });
  const c = claim('ns/c', '2026-01-03', { namespaces: [{ nsid: 1, nguid: 'AB'.repeat(16) }, { nsid: 2, eui64: '02'.repeat(8) }] });
  const out = findIdentityConflicts([a, b, c]);
  assert.deepEqual(out.get('ns/b'), { with: 'ns/a', what: `uuid ${U}`, where: 'nsid 1' });
  assert.deepEqual(out.get('ns/c'), { with: 'ns/a', what: `nguid ${'ab'.repeat(16)}`, where: 'retired nsid 2' });
  assert.equal(findIdentityConflicts([a, b, claim('ns/d', '2026-01-03', { namespaces: [{ nsid: 2, eui64: '02'.repeat(8) }] })]).has('ns/d'), false);
});

test('findIdentityConflicts: a block device on the same node, or a subsystem not yet placed', () => {
  const a = claim('ns/a', '2026-01-01', { devices: [{ node: 'n1', device: '/dev/sdb' }] });
  assert.equal(findIdentityConflicts([a, claim('ns/b', '2026-01-02', { devices: [{ node: 'n2', device: '/dev/sdb' }] })]).size, 0, 'another node\'s /dev/sdb is another disk');
  assert.deepEqual(findIdentityConflicts([a, claim('ns/b', '2026-01-02', { devices: [{ node: 'n1', device: '/dev/sdb' }] })]).get('ns/b'), { with: 'ns/a', what: 'block device /dev/sdb on node n1', where: 'a namespace' });
  assert.ok(findIdentityConflicts([a, claim('ns/b', '2026-01-02', { devices: [{ device: '/dev/sdb' }] })]).has('ns/b'));
  assert.equal(findIdentityConflicts([claim('ns/a', '2026-01-01', { devices: [{ node: 'n1', device: '/dev/sdb' }, { node: 'n1', device: '/dev/sdc' }] })]).size, 0, 'a resource never conflicts with itself');
});

test('ownDuplicate: two namespaces, or a namespace and a retired one, with one identifier', () => {
  assert.equal(ownDuplicate([{ nsid: 1, uuid: U }, { nsid: 2, uuid: 'aaaaaaaa-2222-8333-8444-555555555555' }], []), undefined);
  assert.match(ownDuplicate([{ nsid: 1, uuid: U }, { nsid: 2, uuid: U.toUpperCase() }], []) ?? '', new RegExp(`uuid ${U} is both nsid 1's and nsid 2's`));
  assert.match(ownDuplicate([{ nsid: 3, eui64: '02'.repeat(8) }], [{ nsid: 1, incarnation: 2, eui64: '02'.repeat(8) }]) ?? '', /nsid 3's and retired nsid 1 \(incarnation 2\)'s/);
});
