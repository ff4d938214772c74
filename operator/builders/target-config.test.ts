import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../../target/contract.js';
import { SETTINGS, subsystem } from '../testing/fixtures.js';
import { Reason } from './reasons.js';
import { identityFor } from './issue-identities.js';
import { realise } from './target-config.js';

test('realise: a file-backed subsystem becomes a valid target configuration', () => {
  const r = realise(subsystem(), SETTINGS);
  assert.ok(r.ok);
  const c = r.value.config;
  assert.deepEqual(validateConfig(JSON.parse(JSON.stringify(c))), c, 'the target accepts it as is');
  assert.equal(c.subsystems[0].nqn, 'nqn.2024-01.io.nvmeof:storage:vol');
  assert.deepEqual(c.subsystems[0].listeners, [{ address: '0.0.0.0', port: 4420 }]);
  assert.deepEqual(c.metrics, { address: '0.0.0.0', port: 9420 });
  assert.equal(c.subsystems[0].stateFile, '/var/lib/nvmeof/subsystem/state.bin');
  assert.equal(c.subsystems[0].allowAnyHost, true);
  assert.equal(c.subsystems[0].durability, 'process');
  assert.deepEqual(c.subsystems[0].namespaces[0].backing, { kind: 'file', path: '/var/lib/nvmeof/subsystem/ns1.img', size: 2 ** 30 });
  assert.equal(c.subsystems[0].namespaces[0].uuid, 'c43028d96b8084f992482d86102207e2', 'derived from the NQN and nsid 1');
  assert.equal(c.shutdownGraceSeconds, 10);
  assert.equal(r.value.hostDir, '/var/lib/nvmeof/storage/vol');
  assert.deepEqual(r.value.devices, []);
});

test('realise: hosts, block devices, memory, durability, identity pins', () => {
  const r = realise(subsystem({
    allowAnyHost: undefined,
    hosts: ['nqn.2014-08.org.nvmexpress:uuid:2b9c7b8e-7f52-4c44-9c8a-2f1e8f0f9a01'],
    nqn: 'nqn.2024-01.io.example:vol',
    serial: 'SN1', model: 'M1',
    persistence: { durability: 'node' },
    namespaces: [
      { nsid: 1, backing: { block: { device: '/dev/sdb' } }, blockSize: 4096 },
      { nsid: 2, size: '64Mi', backing: { memory: {} } },
      { nsid: 3, size: 1048576, backing: { block: { device: '/dev/disk/by-id/nvme-A' } }, uuid: '5a1f5c0e-3b0c-4f4e-8d7a-1f2e3d4c5b6a' },
    ],
  }), SETTINGS);
  assert.ok(r.ok);
  const s = r.value.config.subsystems[0];
  assert.equal(s.nqn, 'nqn.2024-01.io.example:vol');
  assert.deepEqual(s.hosts, ['nqn.2014-08.org.nvmexpress:uuid:2b9c7b8e-7f52-4c44-9c8a-2f1e8f0f9a01']);
  assert.equal(s.allowAnyHost, undefined);
  assert.equal(s.durability, 'node');
  assert.equal(s.serial, 'SN1');
  assert.deepEqual(s.namespaces.map((n) => n.backing.kind), ['block', 'memory', 'block']);
  assert.equal(s.namespaces[1].uuid, undefined, 'memory namespaces get new identifiers from the target at every start');
  assert.equal(s.namespaces[2].uuid, '5a1f5c0e3b0c4f4e8d7a1f2e3d4c5b6a');
  assert.deepEqual(r.value.devices, ['/dev/sdb', '/dev/disk/by-id/nvme-A']);
  assert.deepEqual(r.value.identities[1], { nsid: 2, volatile: true, backing: { memory: {} } });
});

test('realise: problems, by reason', () => {
  const cases: Array<[string, Parameters<typeof subsystem>[0], string, RegExp]> = [
    ['device not allowed', { namespaces: [{ nsid: 1, backing: { block: { device: '/dev/sda' } } }] }, Reason.DeviceNotAllowed, /\/dev\/sda/],
    ['path escape', { namespaces: [{ nsid: 1, size: '1Gi', backing: { file: { path: '../../etc/shadow' } } }] }, Reason.InvalidBacking, /\.\./],
    ['absolute path', { namespaces: [{ nsid: 1, size: '1Gi', backing: { file: { path: '/etc/shadow' } } }] }, Reason.InvalidBacking, /relative/],
    ['two backings', { namespaces: [{ nsid: 1, size: '1Gi', backing: { memory: {}, file: { path: 'a' } } }] }, Reason.InvalidBacking, /exactly one/],
    ['no size', { namespaces: [{ nsid: 1, backing: { memory: {} } }] }, Reason.InvalidSpec, /size is required/],
    ['bad quantity', { namespaces: [{ nsid: 1, size: '1.5Gi', backing: { memory: {} } }] }, Reason.InvalidSpec, /quantity/],
    ['not a block multiple', { namespaces: [{ nsid: 1, size: 6144, blockSize: 4096, backing: { memory: {} } }] }, Reason.InvalidSpec, /multiple of blockSize/],
    ['too small', { namespaces: [{ nsid: 1, size: 512, backing: { memory: {} } }] }, Reason.InvalidSpec, /^spec\.namespaces\[0\]\.size: /],
    ['duplicate nsid', { namespaces: [{ nsid: 1, size: '1Mi', backing: { memory: {} } }, { nsid: 1, size: '1Mi', backing: { memory: {} } }] }, Reason.InvalidSpec, /duplicate nsid/],
    ['no host', { allowAnyHost: undefined, hosts: [] }, Reason.InvalidSpec, /host NQN/],
    ['same ports', { listener: { port: 9000, metricsPort: 9000 } }, Reason.InvalidSpec, /differ/],
    ['null namespace', { namespaces: [null as never] }, Reason.InvalidSpec, /object/],
    ['no namespaces list', { namespaces: undefined as never }, Reason.InvalidSpec, /list/],
  ];
  for (const [what, spec, reason, msg] of cases) {
    const r = realise(subsystem(spec), SETTINGS);
    assert.equal(r.ok, false, what);
    if (!r.ok) {
      assert.equal(r.problem.reason, reason, what);
      assert.match(r.problem.message, msg, what);
    }
  }
});

// Identifiers as the operator wrote them to status and to the target's configuration before issue 16 (its own
// copy of the derivation, now the target's): target/subsystem/identity.test.ts pins the same vectors.
test('realise: derived identifiers in status and configuration are the deployed ones', () => {
  const r = realise(subsystem({
    nqn: 'nqn.2026-01.io.nvmeof:default',
    namespaces: [
      { nsid: 1, size: '1Gi', backing: { file: { path: 'ns1.img' } } },
      { nsid: 2, backing: { block: { device: '/dev/sdb' } } },
      { nsid: 1024, size: '1Gi', backing: { file: { path: 'ns1024.img' } } },
    ],
  }), SETTINGS);
  assert.ok(r.ok);
  const pinned = [
    { nsid: 1, uuid: '11b036c4-50e3-8c4b-8120-969a79d95a96', nguid: '68ad6b0c8a7ed14e97378505d0b5ff33', eui64: 'be2a6eb9f198bc96' },
    { nsid: 2, uuid: '08421c75-b692-8396-b819-f06f00e4e0e5', nguid: '2a8ad01eec9a9711002ed0ac878dbb76', eui64: '1242f3f99384628c' },
    { nsid: 1024, uuid: '7e956fce-379b-887e-931c-98f3d7531ce2', nguid: '7e23014e6005e99f28884b498649a77a', eui64: 'a2c6d65113013ee6' },
  ];
  assert.deepEqual(r.value.identities.map(({ backing, ...id }) => id), pinned, 'the identifiers deployed subsystems have (incarnation 0) never change');
  assert.deepEqual(r.value.identities.map((i) => i.backing), [{ file: { path: 'ns1.img' } }, { block: { device: '/dev/sdb' } }, { file: { path: 'ns1024.img' } }]);
  assert.deepEqual(
    r.value.config.subsystems[0].namespaces.map(({ nsid, uuid, nguid, eui64 }) => ({ nsid, uuid, nguid, eui64 })),
    pinned.map((p) => ({ ...p, uuid: p.uuid.replace(/-/g, '') })),
    'the configuration carries the UUID without dashes',
  );
});

test('identityFor: configured identifiers win one by one, normalised; memory namespaces pin none', () => {
  const nqn = 'nqn.2024-01.io.nvmeof:storage:vol';
  const namespaceIdentity = (q: string, ns: Parameters<typeof identityFor>[1]) => {
    const { backing, ...id } = identityFor(q, ns, 0);
    assert.deepEqual(backing, ns.backing, 'the backing the identifiers were issued for is recorded');
    return id;
  };
  assert.deepEqual(namespaceIdentity(nqn, { nsid: 1, backing: { file: { path: 'a' } } }), {
    nsid: 1, uuid: 'c43028d9-6b80-84f9-9248-2d86102207e2', nguid: 'e5e80704324557ed1eaeadfbf7a3ae0f', eui64: 'f68d96d87ab2ed3d',
  });
  const two = namespaceIdentity(nqn, { nsid: 2, backing: { block: { device: '/dev/sdb' } }, uuid: '5A1F5C0E3B0C4F4E8D7A1F2E3D4C5B6A', eui64: '02A0B1C2D3E4F506' });
  assert.deepEqual({ ...two, nguid: undefined }, { nsid: 2, uuid: '5a1f5c0e-3b0c-4f4e-8d7a-1f2e3d4c5b6a', nguid: undefined, eui64: '02a0b1c2d3e4f506' });
  assert.match(two.nguid!, /^[0-9a-f]{32}$/);
  assert.deepEqual(namespaceIdentity(nqn, { nsid: 3, backing: { memory: {} } }), { nsid: 3, volatile: true });
  assert.deepEqual(namespaceIdentity(nqn, { nsid: 4, backing: { memory: {} }, nguid: 'AB'.repeat(16) }), { nsid: 4, volatile: true, nguid: 'ab'.repeat(16) });
});
