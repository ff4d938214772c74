import { test } from 'node:test';
import assert from 'node:assert/strict';
import { identityDigest, identityDigestV1 } from './identity-digest.js';
import { deriveNamespaceIds } from '../subsystem/identity.js';
import { testIdentity } from './test-support/fixtures.js';
import type { SubsystemIdentity } from './types.js';

test('v1: the digest does not depend on the order namespaces are listed in', () => {
  const a = testIdentity();
  const b: SubsystemIdentity = { ...a, namespaces: [...a.namespaces].reverse() };
  assert.ok(identityDigestV1(a).equals(identityDigestV1(b)));
});

test('v1 (layouts 1 and 2): the digest changes with every identity field', () => {
  const base = testIdentity();
  const d0 = identityDigestV1(base);
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
    assert.ok(!identityDigestV1(id).equals(d0), what);
  }
});

test('v1 is the frozen algorithm (a changed value would set aside every deployed file)', () => {
  const id: SubsystemIdentity = {
    nqn: 'nqn.2024-01.io.example:a',
    namespaces: [{ nsid: 1, size: 1048576, blockSize: 512, uuid: Buffer.alloc(16, 0xaa), nguid: Buffer.alloc(16, 0xbb), eui64: Buffer.alloc(8, 0xcc) }],
  };
  // Computed independently: printf 'nvmeof-operator/state-identity/v1\0nqn...\0001\0...' | sha256sum
  assert.equal(identityDigestV1(id).toString('hex'), 'af0f9334c352bbc2cc29cc082f0503f8bf27ee77b8d80e039866c7f539b73940');
});

test('v1 of subsystems with derived identifiers equals the deployed vectors', () => {
  // Computed by the deployed code before the restructuring of issue 16: a state file written by any earlier
  // build for these subsystems must still be recognised as theirs. Never update them.
  const digest = (nqn: string, nss: Array<[nsid: number, size: number, blockSize: number]>) => identityDigestV1({
    nqn, namespaces: nss.map(([nsid, size, blockSize]) => ({ nsid, size, blockSize, ...deriveNamespaceIds(nqn, nsid) })),
  }).toString('hex');
  assert.equal(digest('nqn.2026-01.io.nvmeof:default', [[1, 1 << 30, 512]]), 'dff4e95c9ec23f9461eb6505be62ec15dce7b13e7be445d87157c8b5987b5624');
  assert.equal(
    digest('nqn.2026-01.io.example:disk1', [[2, 64 * 2 ** 20, 4096], [1, 2 ** 40, 512]]),
    'b2e7d1821e85deab9d209edb87476db2ae7e8a922fbb316396b179919647abc1',
  );
  assert.equal(digest('nqn.2026-01.io.nvmeof:storage.pg-data-0', []), 'e9ae52eb3ca30f8833deaadece2af6d7a00d3fb5c43986de98e7fba10e6dac38');
});

test('v2 (layout 3): the NQN alone, so namespaces added, removed or grown leave the file this subsystem\'s', () => {
  const base = testIdentity();
  const d0 = identityDigest(base);
  const same: Array<[string, (id: SubsystemIdentity) => void]> = [
    ['a size grown', (id) => { id.namespaces[0].size += 4096; }],
    ['a namespace removed', (id) => { id.namespaces.pop(); }],
    ['a namespace added', (id) => { id.namespaces.push({ ...id.namespaces[0], nsid: 9 }); }],
  ];
  for (const [what, edit] of same) {
    const id = testIdentity();
    edit(id);
    assert.ok(identityDigest(id).equals(d0), what);
  }
  assert.ok(!identityDigest({ nqn: `${base.nqn}x` }).equals(d0), 'another NQN');
  assert.ok(!identityDigestV1(base).equals(d0), 'v1 and v2 never agree');
});

test('v2 is the frozen algorithm (a changed value would set aside every layout-3 file)', () => {
  // Computed independently: printf 'nvmeof-operator/state-identity/v2\0nqn.2024-01.io.example:a\0' | sha256sum
  assert.equal(identityDigest({ nqn: 'nqn.2024-01.io.example:a' }).toString('hex'), '5965150bb454178ff8699855be1c24951605c6a787bb5ae969097a4b4fdc4922');
});
