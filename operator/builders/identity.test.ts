import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deriveNamespaceIds, formatUuid as targetFormatUuid } from '../../target/subsystem/identity.js';
import { derivedEui64, derivedNguid, derivedUuid, namespaceIdentity } from './identity.js';

test('derived identifiers are the ones the target derives itself (algorithm version 1)', () => {
  for (const [nqn, nsid] of [['nqn.2024-01.io.nvmeof:storage:vol', 1], ['nqn.2014-08.org.example:x', 4294967294]] as const) {
    const t = deriveNamespaceIds(nqn, nsid);
    assert.equal(derivedUuid(nqn, nsid), targetFormatUuid(t.uuid));
    assert.equal(derivedNguid(nqn, nsid), t.nguid.toString('hex'));
    assert.equal(derivedEui64(nqn, nsid), t.eui64.toString('hex'));
  }
});

test('identifier shapes: UUID version 8 and RFC variant, EUI-64 locally administered unicast', () => {
  const u = derivedUuid('nqn.2024-01.io.nvmeof:a:b', 7);
  assert.match(u, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  const e = parseInt(derivedEui64('nqn.2024-01.io.nvmeof:a:b', 7).slice(0, 2), 16);
  assert.equal(e & 0x03, 0x02);
});

test('namespaceIdentity: table', () => {
  const nqn = 'nqn.2024-01.io.nvmeof:storage:vol';
  assert.deepEqual(namespaceIdentity(nqn, { nsid: 1, backing: { file: { path: 'a' } } }), {
    nsid: 1, uuid: derivedUuid(nqn, 1), nguid: derivedNguid(nqn, 1), eui64: derivedEui64(nqn, 1),
  });
  assert.deepEqual(namespaceIdentity(nqn, { nsid: 2, backing: { block: { device: '/dev/sdb' } }, uuid: '5A1F5C0E3B0C4F4E8D7A1F2E3D4C5B6A', eui64: '02A0B1C2D3E4F506' }), {
    nsid: 2, uuid: '5a1f5c0e-3b0c-4f4e-8d7a-1f2e3d4c5b6a', nguid: derivedNguid(nqn, 2), eui64: '02a0b1c2d3e4f506',
  });
  assert.deepEqual(namespaceIdentity(nqn, { nsid: 3, backing: { memory: {} } }), { nsid: 3, volatile: true });
  assert.deepEqual(namespaceIdentity(nqn, { nsid: 4, backing: { memory: {} }, nguid: 'AB'.repeat(16) }), { nsid: 4, volatile: true, nguid: 'ab'.repeat(16) });
});
