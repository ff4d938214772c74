// Set Features and Get Features (features.ts) called directly, driven by the Linux host's own Set Features
// capsules (target/protocol/testdata) where they fit, hand-built SQEs otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSqe } from '../protocol/sqe.js';
import { AdminOpc, DISCOVERY_NQN, FeatureId } from '../protocol/opcodes.js';
import { Subsystem } from '../subsystem/subsystem.js';
import { Controller } from './controller.js';
import { executeGetFeatures, executeSetFeatures } from './features.js';
import { HOSTID, cqeAsLinux, cqeHex, linuxCommand, request, rig, type Rig } from './test-support/harness.js';

const SV = 0x8000_0000;

function set(r: Rig, fid: number, cdw11: number, save = false, ctrl = r.ctrl) {
  const { req, done } = request(buildSqe({ opc: AdminOpc.SetFeatures, cid: 0x61, cdw10: fid | (save ? SV : 0), cdw11 }), r.admin);
  executeSetFeatures(req, ctrl);
  return done;
}

function get(r: Rig, fid: number, sel = 0, cdw11 = 0, sglLen = 0) {
  const { req, done } = request(buildSqe({ opc: AdminOpc.GetFeatures, cid: 0x62, cdw10: fid | (sel << 8), cdw11, sglLen }), r.admin);
  executeGetFeatures(req, r.ctrl);
  return done;
}

/** DW0 and the status field of a completion's CQE, in hex. */
async function dw0AndStatus(p: Promise<Parameters<typeof cqeHex>[0]>): Promise<string> {
  const cqe = cqeHex(await p, 0, 0);
  return cqe.slice(0, 8) + cqe.slice(-4);
}

test("Number of Queues (the Linux host's Set Features): 128 I/O queues granted, as nvmet", async () => {
  const r = rig();
  const v = linuxCommand(1, 13);
  const { req, done } = request(v.sqe, r.admin);
  executeSetFeatures(req, r.ctrl);
  assert.equal(cqeAsLinux(v, await done), v.cqe.toString('hex'));
  assert.equal(await dw0AndStatus(get(r, FeatureId.NumberOfQueues)), '7f007f00' + '0000');
});

test("Asynchronous Event Configuration (the Linux host's Set Features): kept and read back; DW0 0 where nvmet echoes the value", async () => {
  const r = rig();
  const v = linuxCommand(1, 14);
  const { req, done } = request(v.sqe, r.admin);
  executeSetFeatures(req, r.ctrl);
  const c = await done;
  assert.equal(v.cqe.readUInt32LE(0), 0x900);
  assert.equal(cqeHex(c, 0, 0), '00000000' + '00000000' + '0000' + '0000' + '0a10' + '0000');
  assert.equal(r.ctrl.features.asyncEventConfig, 0x900);
  assert.equal(await dw0AndStatus(get(r, FeatureId.AsyncEventConfig)), '00090000' + '0000');
  assert.equal(await dw0AndStatus(get(r, FeatureId.AsyncEventConfig, 1)), '00000000' + '0000', 'default');
  // A discovery controller takes it too (the Linux host asks for discovery log change notices).
  const disc = new Controller(2, new Subsystem('discovery', DISCOVERY_NQN, 's', 'm', [], undefined), 'h', HOSTID, 0, { removed: () => {}, backendError: () => {} });
  const dv = linuxCommand(0, 10);
  const d = request(dv.sqe, r.admin);
  executeSetFeatures(d.req, disc);
  assert.equal((await d.done).status, 0);
  assert.equal(disc.features.asyncEventConfig, 0x80000000);
});

test('the changeable features: set, read back current, default and saved, and their capabilities', async () => {
  const r = rig();
  assert.equal(await dw0AndStatus(set(r, FeatureId.VolatileWriteCache, 0)), '00000000' + '0000');
  assert.equal(r.ctrl.features.volatileWriteCache, false);
  assert.equal(await dw0AndStatus(get(r, FeatureId.VolatileWriteCache)), '00000000' + '0000');
  assert.equal(await dw0AndStatus(get(r, FeatureId.VolatileWriteCache, 1)), '01000000' + '0000', 'default: enabled');
  assert.equal(await dw0AndStatus(get(r, FeatureId.VolatileWriteCache, 2)), '01000000' + '0000', 'saved = default');
  assert.equal(await dw0AndStatus(set(r, FeatureId.TemperatureThreshold, 0x0150)), '00000000' + '0000');
  assert.equal(await dw0AndStatus(get(r, FeatureId.TemperatureThreshold)), '50010000' + '0000');
  assert.equal(await dw0AndStatus(get(r, FeatureId.TemperatureThreshold, 1)), '57010000' + '0000');
  assert.equal(await dw0AndStatus(set(r, FeatureId.KeepAliveTimer, 15000)), '00000000' + '0000');
  assert.equal(await dw0AndStatus(get(r, FeatureId.KeepAliveTimer)), '983a0000' + '0000');
  assert.equal(await dw0AndStatus(set(r, FeatureId.KeepAliveTimer, 0)), '00000000' + '0000');
  for (const fid of [FeatureId.VolatileWriteCache, FeatureId.NumberOfQueues, FeatureId.AsyncEventConfig, FeatureId.KeepAliveTimer, FeatureId.TemperatureThreshold]) {
    assert.equal(await dw0AndStatus(get(r, fid, 3)), '04000000' + '0000', `feature ${fid}: changeable, not saveable`);
  }
  assert.equal(await dw0AndStatus(get(r, FeatureId.Arbitration, 3)), '00000000' + '0000');
  assert.equal(await dw0AndStatus(get(r, FeatureId.PowerManagement)), '00000000' + '0000');
});

test('the host identifier: read with EXHID only, never set (the host gives it at Connect, as nvmet)', async () => {
  const r = rig();
  const c = await get(r, FeatureId.HostIdentifier, 0, 1, 16);
  assert.deepEqual([c.status, c.data?.toString('hex')], [0, HOSTID.toString('hex')]);
  assert.equal(await dw0AndStatus(get(r, FeatureId.HostIdentifier, 0, 0, 16)), '00000000' + '0480', 'EXHID 0: Invalid Field');
  assert.equal(await dw0AndStatus(get(r, FeatureId.HostIdentifier, 0, 1, 8)), '00000000' + '1e80', 'room for 8 bytes only');
  assert.equal(await dw0AndStatus(set(r, FeatureId.HostIdentifier, 1)), '00000000' + '1880', 'Command Sequence Error');
});

test('Set/Get Features refusals', async () => {
  const r = rig();
  const disc = new Controller(2, new Subsystem('discovery', DISCOVERY_NQN, 's', 'm', [], undefined), 'h', HOSTID, 0, { removed: () => {}, backendError: () => {} });
  // [what, completion, DW0 + status field]
  const cases: Array<[string, () => ReturnType<typeof set>, string]> = [
    ['SV=1: Feature Identifier Not Saveable', () => set(r, FeatureId.VolatileWriteCache, 1, true), '00000000' + '1a82'],
    ['Arbitration is readable, not changeable', () => set(r, FeatureId.Arbitration, 0), '00000000' + '1c82'],
    ['unknown feature 10h', () => set(r, 0x10, 0), '00000000' + '0480'],
    ['Number of Queues asking 65536', () => set(r, FeatureId.NumberOfQueues, 0xffff), '00000000' + '0480'],
    ['a temperature threshold of another sensor', () => set(r, FeatureId.TemperatureThreshold, (1 << 16) | 0x150), '00000000' + '0480'],
    ['a discovery controller has no write cache', () => set(r, FeatureId.VolatileWriteCache, 1, false, disc), '00000000' + '0480'],
    ['Get of unknown feature 10h', () => get(r, 0x10), '00000000' + '0480'],
    ['Get with SEL 4', () => get(r, FeatureId.VolatileWriteCache, 4), '00000000' + '0480'],
  ];
  for (const [what, run, expected] of cases) assert.equal(await dw0AndStatus(run()), expected, what);
  assert.equal(r.ctrl.features.volatileWriteCache, true, 'nothing refused changed anything');
});
