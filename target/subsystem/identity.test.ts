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

test('formatUuid: 16 bytes, or 32 hex digits in any case with or without dashes, in the 8-4-4-4-12 form', () => {
  const want = '11b036c4-50e3-8c4b-8120-969a79d95a96';
  assert.equal(formatUuid(Buffer.from('11b036c450e38c4b8120969a79d95a96', 'hex')), want);
  for (const s of ['11b036c450e38c4b8120969a79d95a96', '11B036C4-50E3-8C4B-8120-969A79D95A96', want]) assert.equal(formatUuid(s), want, s);
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

// Vectors computed by the algorithm as deployed (before the restructuring of issue 16): whatever moves or is
// renamed, a host must see these identifiers for these NQNs and nsids. Never update them.
const VECTORS: Array<{ nqn: string; serial: string; ns: Array<[nsid: number, uuid: string, nguid: string, eui64: string]> }> = [
  {
    nqn: 'nqn.2026-01.io.nvmeof:default',
    serial: 'a4967e3261c984b71ce7',
    ns: [
      [1, '11b036c4-50e3-8c4b-8120-969a79d95a96', '68ad6b0c8a7ed14e97378505d0b5ff33', 'be2a6eb9f198bc96'],
      [2, '08421c75-b692-8396-b819-f06f00e4e0e5', '2a8ad01eec9a9711002ed0ac878dbb76', '1242f3f99384628c'],
      [1024, '7e956fce-379b-887e-931c-98f3d7531ce2', '7e23014e6005e99f28884b498649a77a', 'a2c6d65113013ee6'],
    ],
  },
  {
    nqn: 'nqn.2026-01.io.example:disk1',
    serial: '265ab544b3e44538f5bb',
    ns: [
      [1, 'bb487f72-b4aa-8e80-857b-da67db4c5593', '988cfd97761c09ed73d0652a70c4c525', 'b23cfa904a45ba92'],
      [7, '00b537ef-ba38-8ad8-8335-bbe6abe6bdea', 'f69a2e75ca50acd87cd1ec5a9fbd53e1', '9a89d54f89f7134f'],
    ],
  },
  {
    nqn: 'nqn.2014-08.org.nvmexpress:uuid:3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b',
    serial: '195ba0178f654d5435ee',
    ns: [
      [1, '65d93cdf-d8c5-8970-9abf-c6a7b731baac', 'c0f24a1aea6d43484cf3f900b6722daf', '7a99c6ef4fe741ff'],
      [4294967294, 'af6bcf7d-804a-8c95-a6a3-5d71eafb44fd', '25bba2cc929c018ecd4d7062d2593cfe', '7ab44ae742993bab'],
    ],
  },
  {
    nqn: 'nqn.2026-01.io.nvmeof:storage.pg-data-0',
    serial: '2629235a66917d3adc8e',
    ns: [[1, 'ef805b01-1394-8091-becc-5ad49fd25147', '51e4ffe732f9d168c20b110b8683a71b', '56690d9757f8e574']],
  },
  {
    // NQNs are UTF-8: the hash takes the UTF-8 bytes.
    nqn: 'nqn.2026-01.io.example:üñí',
    serial: 'e91c3aafa2ad1fde3102',
    ns: [[3, '9046507b-de22-83e7-87be-37c8e07ef491', 'b4730e6b07320dfbfa5e14bd8f6be04c', '1a65be74c7d3b13d']],
  },
];

test('derived serial, UUID, NGUID and EUI-64 equal the deployed vectors', () => {
  for (const v of VECTORS) {
    assert.equal(deriveSerial(v.nqn), v.serial, v.nqn);
    for (const [nsid, uuid, nguid, eui64] of v.ns) {
      const ids = deriveNamespaceIds(v.nqn, nsid);
      assert.deepEqual(
        { uuid: formatUuid(ids.uuid), nguid: ids.nguid.toString('hex'), eui64: ids.eui64.toString('hex') },
        { uuid, nguid, eui64 },
        `${v.nqn} nsid ${nsid}`,
      );
    }
  }
});
