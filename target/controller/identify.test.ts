// The Identify data structures (identify.ts), against the ones the Linux target sent the Linux host
// (target/protocol/testdata): the fields this target fills as nvmet does are compared byte for byte, and the
// fields it fills otherwise are pinned, each with the reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IDENTIFY_SIZE, IdCtrl, IdNs } from '../protocol/identify-layout.js';
import { DISCOVERY_NQN } from '../protocol/opcodes.js';
import { Subsystem } from '../subsystem/subsystem.js';
import { Controller } from './controller.js';
import { activeNamespaceList, identifyController, identifyNamespace, namespaceDescriptors } from './identify.js';
import { linuxCommand, memoryNamespace, rig, subsystem } from './test-support/harness.js';

const LINUX_NQN = 'nqn.2014-08.io.linux-host:ref';
/** Sizes of the Identify Controller fields compared. */
const CTRL_FIELDS: Array<[keyof typeof IdCtrl, number]> = [
  ['VID', 2], ['SSVID', 2], ['RAB', 1], ['IEEE', 3], ['CMIC', 1], ['MDTS', 1], ['CNTLID', 2], ['VER', 4], ['RTD3R', 4], ['RTD3E', 4],
  ['OAES', 4], ['CTRATT', 4], ['CNTRLTYPE', 1], ['OACS', 2], ['ACL', 1], ['AERL', 1], ['FRMW', 1], ['LPA', 1], ['ELPE', 1],
  ['NPSS', 1], ['AVSCC', 1], ['APSTA', 1], ['WCTEMP', 2], ['CCTEMP', 2], ['KAS', 2], ['SQES', 1], ['CQES', 1], ['MAXCMD', 2],
  ['NN', 4], ['ONCS', 2], ['FUSES', 2], ['FNA', 1], ['VWC', 1], ['AWUN', 2], ['AWUPF', 2], ['NVSCC', 1], ['ACWU', 2], ['SGLS', 4],
  ['MNAN', 4], ['SUBNQN', 256], ['IOCCSZ', 4], ['IORCSZ', 4], ['ICDOFF', 2], ['FCATT', 1], ['MSDBD', 1], ['OFCS', 2], ['PSD0', 32],
];

function field(b: Buffer, name: keyof typeof IdCtrl, size: number): string {
  return b.subarray(IdCtrl[name], IdCtrl[name] + size).toString('hex');
}

/** The fields of `ours` that differ from `linux`, with both values in hex. */
function differences(ours: Buffer, linux: Buffer): Record<string, [string, string]> {
  const out: Record<string, [string, string]> = {};
  for (const [name, size] of CTRL_FIELDS) {
    if (field(ours, name, size) !== field(linux, name, size)) out[name] = [field(ours, name, size), field(linux, name, size)];
  }
  return out;
}

test('Identify Controller of an I/O controller: as nvmet but where this target differs, each difference pinned', () => {
  const r = rig(subsystem([memoryNamespace(1, 64 << 20, 512, LINUX_NQN)], undefined, LINUX_NQN));
  const ours = identifyController(r.ctrl);
  assert.equal(ours.length, IDENTIFY_SIZE);
  const linux = linuxCommand(1, 9).c2hData!;
  // [ours, the Linux target's]
  assert.deepEqual(differences(ours, linux), {
    CMIC: ['03', '0b'], // no ANA reporting (bit 3)
    MDTS: ['08', '00'], // 1 MiB transfers at most; nvmet: no limit
    OAES: ['00010000', '00090000'], // Namespace Attribute Notices (bit 8) as nvmet; no ANA change notices (bit 11)
    LPA: ['06', '07'], // no per-namespace SMART log
    ELPE: ['3f', '7f'], // 64 error log entries
    WCTEMP: ['5701', '0000'], // 343 K warning, 373 K critical: the SMART log reports 321 K
    CCTEMP: ['7501', '0000'],
    ONCS: ['2c00', '0c00'], // reservations (bit 5), besides Dataset Management and Write Zeroes
    MNAN: ['00000000', '00040000'],
    IOCCSZ: ['04020000', '04040000'], // 8 KiB of in-capsule data: (64 + 8192) / 16
    PSD0: ['c409' + '00'.repeat(30), 'c409000010000000040000000000000000000000000000000000000000000000'],
  });
  assert.equal(ours.subarray(IdCtrl.SN, IdCtrl.SN + 20).toString('ascii'), 'a4967e3261c984b71ce7');
  assert.equal(ours.subarray(IdCtrl.MN, IdCtrl.MN + 40).toString('ascii'), 'nvmeof-operator'.padEnd(40, ' '));
  assert.equal(ours.subarray(IdCtrl.FR, IdCtrl.FR + 8).toString('ascii'), '0.1.0   ');
  assert.equal(ours.subarray(IdCtrl.SUBNQN, IdCtrl.SUBNQN + LINUX_NQN.length + 1).toString('latin1'), `${LINUX_NQN}\0`);
  // Nothing outside the fields above (the Linux target sets vendor-specific bytes of its own).
  const known = new Set(CTRL_FIELDS.flatMap(([name, size]) => Array.from({ length: size }, (_, i) => IdCtrl[name] + i)));
  for (const [at, size] of [[IdCtrl.SN, 20], [IdCtrl.MN, 40], [IdCtrl.FR, 8]]) for (let i = 0; i < size; i++) known.add(at + i);
  assert.deepEqual([...ours.keys()].filter((i) => !known.has(i) && ours[i] !== 0), []);
});

test('Identify Controller of a discovery controller: no queues, namespaces or command sets beyond the admin ones', () => {
  const sub = new Subsystem('discovery', DISCOVERY_NQN, 'discovery-serial', 'nvmeof-operator discovery', [], undefined);
  const ctrl = new Controller(1, sub, 'h', Buffer.alloc(16), 0, { removed: () => {}, backendError: () => {} });
  const ours = identifyController(ctrl);
  const linux = linuxCommand(0, 9).c2hData!;
  assert.deepEqual(differences(ours, linux), {
    // Both say: CNTRLTYPE 2, no SQES/CQES/NN/ONCS/VWC, CMIC 0, OAES bit 31 (Discovery Log Page Change
    // Notices), LPA 04h (no commands effects log). This target fills what any controller has.
    RAB: ['06', '00'], MDTS: ['08', '00'], CTRATT: ['41000000', '00000000'],
    ACL: ['03', '00'], AERL: ['03', '00'], FRMW: ['03', '00'], ELPE: ['3f', '00'],
    WCTEMP: ['5701', '0000'], CCTEMP: ['7501', '0000'], KAS: ['0a00', '0000'], IOCCSZ: ['04020000', '00000000'],
    IORCSZ: ['01000000', '00000000'], MSDBD: ['01', '00'], PSD0: ['c409' + '00'.repeat(30), '00'.repeat(32)],
  });
  assert.equal(ours[IdCtrl.CNTRLTYPE], 2);
  assert.equal(ours.readUInt32LE(IdCtrl.OAES), 0x8000_0000);
});

test('Identify Namespace: size, LBA format and sharing as nvmet; RESCAP, DLFEAT and the identifiers of this target', () => {
  const r = rig(subsystem([memoryNamespace(1, 64 << 20, 512, 'nqn.2026-01.io.nvmeof:default')], undefined, 'nqn.2026-01.io.nvmeof:default'));
  const ours = identifyNamespace(r.sub.namespaces.get(1), 0xfe);
  const linux = linuxCommand(1, 19).c2hData!;
  const same = (at: number, len: number) => assert.equal(ours.subarray(at, at + len).toString('hex'), linux.subarray(at, at + len).toString('hex'), `byte ${at}`);
  same(IdNs.NSZE, 24); // NSZE, NCAP, NUSE: 20000h blocks of 512 bytes
  same(IdNs.NLBAF, 6); // NLBAF, FLBAS, MC, DPC, DPS, NMIC (shared)
  same(IdNs.LBAF0, 4); // LBADS 9
  assert.equal(linux[IdNs.NSFEAT], 0x12, 'nvmet reports optimal I/O fields; this target does not');
  assert.equal(ours[IdNs.NSFEAT], 0);
  assert.equal(ours[IdNs.RESCAP], 0xfe);
  assert.equal(ours[IdNs.DLFEAT], 1, 'deallocated blocks read as zeroes');
  assert.equal(ours.subarray(IdNs.NGUID, IdNs.NGUID + 16).toString('hex'), '68ad6b0c8a7ed14e97378505d0b5ff33');
  assert.equal(ours.subarray(IdNs.EUI64, IdNs.EUI64 + 8).toString('hex'), 'be2a6eb9f198bc96');
  assert.deepEqual(identifyNamespace(undefined), Buffer.alloc(IDENTIFY_SIZE), 'an inactive nsid reads as zeroes');
  const big = identifyNamespace(memoryNamespace(2, 1 << 20, 4096));
  assert.equal(big.readBigUInt64LE(IdNs.NSZE), 256n);
  assert.equal(big[IdNs.LBAF0 + 2], 12);
});

test('Active Namespace List: as nvmet for one namespace; above the nsid asked, at most 1024', () => {
  assert.deepEqual(activeNamespaceList([1], 0), linuxCommand(1, 17).c2hData);
  const b = activeNamespaceList([1, 2, 5, 9], 2);
  assert.equal(b.subarray(0, 12).toString('hex'), '05000000' + '09000000' + '00000000');
  const many = activeNamespaceList(Array.from({ length: 1100 }, (_, i) => i + 1), 0);
  assert.equal(many.readUInt32LE(4092), 1024);
});

test('Namespace Identification Descriptor list: EUI-64, NGUID, UUID, then the NVM command set', () => {
  const ns = memoryNamespace(1, 1 << 20, 512, 'nqn.2026-01.io.nvmeof:default');
  const b = namespaceDescriptors(ns);
  assert.equal(b.subarray(0, 60).toString('hex'),
    '01080000' + 'be2a6eb9f198bc96'
    + '02100000' + '68ad6b0c8a7ed14e97378505d0b5ff33'
    + '03100000' + '11b036c450e38c4b8120969a79d95a96'
    + '04010000' + '00' + '000000');
  assert.ok(b.subarray(60).equals(Buffer.alloc(IDENTIFY_SIZE - 60)));
  // nvmet's for its namespace: the UUID and the command set, in the same encoding.
  const linux = linuxCommand(1, 18).c2hData!;
  assert.equal(linux.subarray(0, 4).toString('hex'), '03100000');
  assert.equal(linux.subarray(20, 25).toString('hex'), '0401000000');
});
