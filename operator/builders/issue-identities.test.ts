import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NamespaceSpec, RetiredNamespaceStatus } from '../api/types.js';
import { boundRetired, identityFor, issueIdentities } from './issue-identities.js';

const NQN = 'nqn.2024-01.io.nvmeof:storage:vol';
const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-02T00:00:00.000Z';
const file = (nsid: number, path: string, extra: Partial<NamespaceSpec> = {}): NamespaceSpec => ({ nsid, size: '1Gi', backing: { file: { path } }, ...extra });

test('issueIdentities: a first spec gets incarnation 0, the derivation deployed subsystems already have', () => {
  const { identities, retired } = issueIdentities(NQN, [file(1, 'a.img')], undefined, undefined, T0);
  assert.deepEqual(identities, [identityFor(NQN, file(1, 'a.img'), 0)]);
  assert.equal(identities[0].incarnation, undefined);
  assert.deepEqual(retired, []);
});

test('issueIdentities: an unchanged namespace keeps what status records, even a record from before backings were recorded', () => {
  const legacy = { nsid: 1, uuid: '11111111-2222-8333-8444-555555555555', nguid: 'ab'.repeat(16), eui64: '02'.repeat(8) };
  const { identities } = issueIdentities(NQN, [file(1, 'a.img')], [legacy], undefined, T0);
  assert.deepEqual(identities, [{ ...legacy, backing: { file: { path: 'a.img' } } }]);
});

test('issueIdentities: a nsid over other data is a new incarnation with new identifiers; the old identity is retired', () => {
  const first = issueIdentities(NQN, [file(1, 'a.img')], undefined, undefined, T0);
  const moved = issueIdentities(NQN, [file(1, 'b.img')], first.identities, first.retired, T1);
  assert.equal(moved.identities[0].incarnation, 1);
  assert.notEqual(moved.identities[0].uuid, first.identities[0].uuid);
  assert.notEqual(moved.identities[0].nguid, first.identities[0].nguid);
  assert.notEqual(moved.identities[0].eui64, first.identities[0].eui64);
  assert.deepEqual(moved.retired, [{ nsid: 1, uuid: first.identities[0].uuid, nguid: first.identities[0].nguid, eui64: first.identities[0].eui64, backing: { file: { path: 'a.img' } }, retiredAt: T1 }]);
});

test('issueIdentities: removed in one apply, added back over other data in a later one: new identity; over its old data: the old one', () => {
  const first = issueIdentities(NQN, [file(1, 'a.img'), file(2, 'x.img')], undefined, undefined, T0);
  const removed = issueIdentities(NQN, [file(2, 'x.img')], first.identities, first.retired, T1);
  assert.deepEqual(removed.identities.map((i) => i.nsid), [2]);
  assert.deepEqual(removed.retired.map((r) => [r.nsid, r.backing?.file?.path]), [[1, 'a.img']]);
  const other = issueIdentities(NQN, [file(1, 'b.img'), file(2, 'x.img')], removed.identities, removed.retired, T1);
  assert.equal(other.identities[0].incarnation, 1);
  assert.notEqual(other.identities[0].uuid, first.identities[0].uuid, 'never the old identity over different data');
  const same = issueIdentities(NQN, [file(1, 'a.img'), file(2, 'x.img')], removed.identities, removed.retired, T1);
  assert.deepEqual(same.identities, first.identities, 'the same data gets its identity back');
  assert.deepEqual(same.retired, []);
  // Away twice: the incarnation counts up from the highest retired.
  const again = issueIdentities(NQN, [file(2, 'x.img')], other.identities, other.retired, T1);
  const third = issueIdentities(NQN, [file(1, 'c.img'), file(2, 'x.img')], again.identities, again.retired, T1);
  assert.equal(third.identities[0].incarnation, 2);
});

test('issueIdentities: memory namespaces are volatile; configured identifiers are kept for them', () => {
  const { identities } = issueIdentities(NQN, [{ nsid: 3, size: '1Mi', backing: { memory: {} }, nguid: 'AB'.repeat(16) }], undefined, undefined, T0);
  assert.deepEqual(identities, [{ nsid: 3, volatile: true, backing: { memory: {} }, nguid: 'ab'.repeat(16) }]);
});

test('boundRetired: drops the oldest beyond the bound, never the highest incarnation of a nsid', () => {
  const r = (nsid: number, incarnation: number, day: number): RetiredNamespaceStatus => ({ nsid, incarnation, retiredAt: `2026-01-${String(day).padStart(2, '0')}T00:00:00Z` });
  const list = [r(1, 0, 1), r(1, 1, 2), r(2, 0, 3), r(3, 0, 4)];
  assert.deepEqual(boundRetired(list, 3), [r(1, 1, 2), r(2, 0, 3), r(3, 0, 4)]);
  const tops = [r(1, 5, 1), r(2, 0, 2), r(3, 0, 3)];
  assert.deepEqual(boundRetired(tops, 2), tops, 'each is its nsid\'s highest: all stay');
});
