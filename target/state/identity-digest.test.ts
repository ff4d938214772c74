import { test } from 'node:test';
import assert from 'node:assert/strict';
import { identityDigest } from './identity-digest.js';
import { deriveNamespaceIds } from '../subsystem/identity.js';
import { testIdentity } from './test-support/fixtures.js';
import type { SubsystemIdentity } from './types.js';

test('the digest does not depend on the order namespaces are listed in', () => {
  const a = testIdentity();
  const b: SubsystemIdentity = { ...a, namespaces: [...a.namespaces].reverse() };
  assert.ok(identityDigest(a).equals(identityDigest(b)));
});

test('the digest changes with every identity field', () => {
  const base = testIdentity();
  const d0 = identityDigest(base);
  const edits: Array<[string, (id: SubsystemIdentity) => void]> = [
    ['nqn', (id) => { id.nqn += 'x'; }],
    ['nsid', (id) => { id.namespaces[0].nsid = 9; }],
    ['size', (id) => { id.namespaces[0].size += 4096; }],
    ['blockSize', (id) => { id.namespaces[0].blockSize = 4096; }],
    ['uuid', (id) => { id.namespaces[0].uuid = Buffer.alloc(16, 1); }],
    ['nguid', (id) => { id.namespaces[1].nguid = Buffer.alloc(16, 1); }],
    ['eui64', (id) => { id.namespaces[1].eui64 = Buffer.alloc(8, 1); }],
    ['namespace removed', (id) => { id.namespaces.pop(); }],
  ];
  for (const [what, edit] of edits) {
    const id = testIdentity();
    edit(id);
    assert.ok(!identityDigest(id).equals(d0), what);
  }
});

test('the digest is the frozen algorithm v1 (a changed value would set aside every deployed file)', () => {
  const id: SubsystemIdentity = {
    nqn: 'nqn.2024-01.io.example:a',
    namespaces: [{ nsid: 1, size: 1048576, blockSize: 512, uuid: Buffer.alloc(16, 0xaa), nguid: Buffer.alloc(16, 0xbb), eui64: Buffer.alloc(8, 0xcc) }],
  };
  // Computed independently: printf 'nvmeof-operator/state-identity/v1\0nqn...\0001\0...' | sha256sum
  assert.equal(identityDigest(id).toString('hex'), 'af0f9334c352bbc2cc29cc082f0503f8bf27ee77b8d80e039866c7f539b73940');
});

test('the digest of subsystems with derived identifiers equals the deployed vectors', () => {
  // Computed by the deployed code before the restructuring of issue 16: a state file written by any earlier
  // build for these subsystems must still be recognised as theirs. Never update them.
  const digest = (nqn: string, nss: Array<[nsid: number, size: number, blockSize: number]>) => identityDigest({
    nqn, namespaces: nss.map(([nsid, size, blockSize]) => ({ nsid, size, blockSize, ...deriveNamespaceIds(nqn, nsid) })),
  }).toString('hex');
  assert.equal(digest('nqn.2026-01.io.nvmeof:default', [[1, 1 << 30, 512]]), 'dff4e95c9ec23f9461eb6505be62ec15dce7b13e7be445d87157c8b5987b5624');
  assert.equal(
    digest('nqn.2026-01.io.example:disk1', [[2, 64 * 2 ** 20, 4096], [1, 2 ** 40, 512]]),
    'b2e7d1821e85deab9d209edb87476db2ae7e8a922fbb316396b179919647abc1',
  );
  assert.equal(digest('nqn.2026-01.io.nvmeof:storage.pg-data-0', []), 'e9ae52eb3ca30f8833deaadece2af6d7a00d3fb5c43986de98e7fba10e6dac38');
});
