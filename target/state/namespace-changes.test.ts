import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeNamespaceChanges, diffNamespaces, hasNamespaceChanges, namespaceChangesOf, nsidsLosingState } from './namespace-changes.js';
import { identityDigestV1 as identityDigest } from './identity-digest.js';
import { NQN, testIdentity } from './test-support/fixtures.js';
import type { NamespaceIdentity } from './types.js';

const ns = (nsid: number, over: Partial<NamespaceIdentity> = {}): NamespaceIdentity => ({ ...testIdentity(NQN, [nsid]).namespaces[0], ...over });

test('diffNamespaces: each kind of change, in nsid order', () => {
  const table: Array<[string, NamespaceIdentity[], NamespaceIdentity[], string, number[]]> = [
    ['nothing', [ns(1), ns(2)], [ns(2), ns(1)], 'none', []],
    ['one added', [ns(1)], [ns(1), ns(3)], 'added nsid 3', []],
    ['removed and added', [ns(1), ns(2)], [ns(1), ns(3)], 'added nsid 3; removed nsid 2', [2]],
    ['grown', [ns(1, { size: 16777216 })], [ns(1, { size: 33554432 })], 'nsid 1 grew 16777216 -> 33554432 bytes', []],
    ['shrunk', [ns(1, { size: 33554432 })], [ns(1, { size: 16777216 })], 'nsid 1 shrank 33554432 -> 16777216 bytes', []],
    ['uuid replaced', [ns(1)], [ns(1, { uuid: Buffer.alloc(16, 7) })], 'nsid 1 replaced (uuid changed)', [1]],
    ['block size and size', [ns(1)], [ns(1, { blockSize: 4096, size: 1 << 30 })], 'nsid 1 replaced (blockSize changed)', [1]],
    ['all of it', [ns(1, { size: 16777216 }), ns(2), ns(4)], [ns(1, { size: 33554432 }), ns(3), ns(4, { nguid: Buffer.alloc(16, 1), eui64: Buffer.alloc(8, 1) })],
      'added nsid 3; removed nsid 2; nsid 1 grew 16777216 -> 33554432 bytes; nsid 4 replaced (nguid, eui64 changed)', [2, 4]],
    ['every namespace removed', [ns(1), ns(2)], [], 'removed nsid 1, 2', [1, 2]],
  ];
  for (const [name, before, after, line, losing] of table) {
    const c = diffNamespaces(before, after);
    assert.equal(describeNamespaceChanges(c), line, name);
    assert.equal(hasNamespaceChanges(c), line !== 'none', name);
    assert.deepEqual([...nsidsLosingState(c)].sort(), losing, name);
  }
});

test('namespaceChangesOf: the same NQN with other namespaces is recognised, another NQN is not', () => {
  const file = testIdentity(NQN, [1, 2]);
  const digest = identityDigest(file);
  const configured = testIdentity(NQN, [1, 3]);
  assert.equal(describeNamespaceChanges(namespaceChangesOf(digest, file.namespaces, configured)!), 'added nsid 3; removed nsid 2');
  assert.equal(namespaceChangesOf(digest, file.namespaces, testIdentity('nqn.2024-01.io.nvmeof:other', [1, 2])), undefined, 'another NQN');
  const tampered = file.namespaces.map((n) => ({ ...n, size: n.size + 512 }));
  assert.equal(namespaceChangesOf(digest, tampered, configured), undefined, 'records that are not what the digest was made of');
  assert.equal(namespaceChangesOf(digest, [], configured), undefined, 'no records');
});
