import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveNamespaceIds, deriveSerial, formatUuid, namespaceIds, randomNamespaceIds } from './identity.js';

// Pinned values: if these change, every deployed namespace changes identity and Linux hosts drop it
// ("identifiers changed for nsid 1"). Never update them; add a new algorithm version instead.
test('derived identity is pinned to known values', () => {
  const nqn = 'nqn.2026-01.io.nvmeof:default';
  assert.equal(deriveSerial(nqn), 'a4967e3261c984b71ce7');
  const ids = deriveNamespaceIds(nqn, 1);
  assert.equal(formatUuid(ids.uuid), '11b036c4-50e3-8c4b-8120-969a79d95a96');
  assert.equal(ids.nguid.toString('hex'), '68ad6b0c8a7ed14e97378505d0b5ff33');
  assert.equal(ids.eui64.toString('hex'), 'be2a6eb9f198bc96');
});

test('derived identity depends on NQN and nsid only', () => {
  const a = deriveNamespaceIds('nqn.2026-01.io.example:a', 1);
  assert.deepEqual(deriveNamespaceIds('nqn.2026-01.io.example:a', 1), a);
  assert.notDeepEqual(deriveNamespaceIds('nqn.2026-01.io.example:a', 2).nguid, a.nguid);
  assert.notDeepEqual(deriveNamespaceIds('nqn.2026-01.io.example:b', 1).nguid, a.nguid);
  assert.equal(deriveSerial('nqn.2026-01.io.example:a').length, 20);
});

test('UUIDs carry version 8 and the RFC variant; EUI-64 is locally administered unicast', () => {
  for (const ids of [deriveNamespaceIds('nqn.2026-01.io.example:x', 7), randomNamespaceIds()]) {
    assert.equal(ids.uuid[6] >> 4, 8);
    assert.equal(ids.uuid[8] >> 6, 2);
    assert.equal(ids.eui64[0] & 0x03, 0x02);
    assert.equal(ids.uuid.length, 16);
    assert.equal(ids.nguid.length, 16);
    assert.equal(ids.eui64.length, 8);
  }
});

test('memory namespaces get new identifiers at every start; configured ones win', () => {
  const a = namespaceIds('nqn.2026-01.io.example:m', 1, true, {});
  const b = namespaceIds('nqn.2026-01.io.example:m', 1, true, {});
  assert.notDeepEqual(a.nguid, b.nguid);
  const c = namespaceIds('nqn.2026-01.io.example:m', 1, false, { eui64: '0102030405060708', uuid: '00112233-4455-6677-8899-aabbccddeeff' });
  assert.equal(c.eui64.toString('hex'), '0102030405060708');
  assert.equal(formatUuid(c.uuid), '00112233-4455-6677-8899-aabbccddeeff');
  assert.deepEqual(c.nguid, deriveNamespaceIds('nqn.2026-01.io.example:m', 1).nguid);
});
