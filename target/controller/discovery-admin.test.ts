// A discovery controller's admin commands (discovery-admin.ts), driven by the Linux host's own discovery
// session against the Linux target (target/protocol/testdata, stream 0) and by hand-built SQEs for what a
// discovery controller refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSqe } from '../protocol/sqe.js';
import { AdminOpc, DISCOVERY_NQN, FeatureId, LogId } from '../protocol/opcodes.js';
import { IDENTIFY_SIZE, IdCtrl } from '../protocol/identify-layout.js';
import { Subsystem } from '../subsystem/subsystem.js';
import { Controller } from './controller.js';
import { Qpair } from './qpair.js';
import { executeAdmin } from './admin.js';
import type { LogSources } from './log-pages.js';
import { CC_ENABLE, FakeTransport, HOSTID, cqeAsLinux, cqeHex, linuxCommand, request } from './test-support/harness.js';

function discoveryController(): { ctrl: Controller; removed: string[] } {
  const removed: string[] = [];
  const sub = new Subsystem('discovery', DISCOVERY_NQN, 'discovery', 'nvmeof-operator discovery', [], undefined);
  const ctrl = new Controller(1, sub, 'nqn.2014-08.org.nvmexpress:uuid:bfaf2044-43cc-46bd-9b5e-413f98947054', HOSTID, 0, { removed: (_c, r) => removed.push(r), backendError: () => {} });
  ctrl.admin = new Qpair(ctrl, 0, 31, new FakeTransport('10.0.2.15'), true);
  ctrl.setCC(CC_ENABLE & 1);
  return { ctrl, removed };
}

const LOG = Buffer.alloc(3072);
const logs: LogSources = { smart: new Subsystem('discovery', DISCOVERY_NQN, 'd', 'm', [], undefined).smart, discoveryLog: () => LOG, takeChangedNamespaces: () => [] };

function run(ctrl: Controller, sqe: Buffer) {
  const { req, done } = request(sqe, ctrl.admin);
  let settled = false;
  void done.then(() => { settled = true; });
  executeAdmin(req, ctrl, logs);
  return { done, settled: () => settled };
}

test("the Linux host's discovery session completes as on nvmet; its AER stays outstanding", async () => {
  const { ctrl } = discoveryController();
  // Stream 0 after Connect and CC.EN: Identify, Set Features AEC = 80000000h (nvmet reports OAES bit 31, as
  // this target now does), AER, Identify, Get Log Page 70h of 1 KiB with RAE, then of 3 KiB without.
  for (const index of [9, 10, 12, 13, 14]) {
    const v = linuxCommand(0, index);
    const c = await run(ctrl, v.sqe).done;
    // nvmet echoes the configuration in DW0 of Set Features; this target completes it with DW0 0, as for an
    // I/O controller (features.test.ts). Every other field is nvmet's.
    const expected = index === 10 ? '00000000' + v.cqe.toString('hex').slice(8) : v.cqe.toString('hex');
    assert.equal(cqeAsLinux(v, c), expected, `stream 0 #${index}`);
  }
  assert.equal(ctrl.features.asyncEventConfig >>> 0, 0x8000_0000);
  const aer = run(ctrl, linuxCommand(0, 11).sqe);
  await new Promise((r) => setImmediate(r));
  assert.equal(aer.settled(), false, 'nvmet completed it only when the host disconnected');
  assert.equal(ctrl.pendingAers.length, 1);
});

test('Identify Controller and the two features a discovery controller has; Keep Alive counts as traffic', async () => {
  const { ctrl } = discoveryController();
  const id = await run(ctrl, buildSqe({ opc: AdminOpc.Identify, cid: 1, sglLen: IDENTIFY_SIZE, cdw10: 1 })).done;
  assert.equal(id.data![IdCtrl.CNTRLTYPE], 2);
  assert.equal(id.data!.readUInt32LE(IdCtrl.OAES), 0x8000_0000);
  const kato = await run(ctrl, buildSqe({ opc: AdminOpc.SetFeatures, cid: 2, cdw10: FeatureId.KeepAliveTimer, cdw11: 5000 })).done;
  assert.equal(kato.status, 0);
  assert.equal(ctrl.kato, 5000);
  const get = async (fid: number, sel = 0) => {
    const c = await run(ctrl, buildSqe({ opc: AdminOpc.GetFeatures, cid: 3, cdw10: fid | (sel << 8) })).done;
    return [c.status, c.dw0 >>> 0];
  };
  assert.deepEqual(await get(FeatureId.KeepAliveTimer), [0, 5000]);
  await run(ctrl, buildSqe({ opc: AdminOpc.SetFeatures, cid: 4, cdw10: FeatureId.AsyncEventConfig, cdw11: 0x8000_0000 })).done;
  assert.deepEqual(await get(FeatureId.AsyncEventConfig), [0, 0x8000_0000]);
  assert.deepEqual(await get(FeatureId.AsyncEventConfig, 3), [0, 4], 'changeable, not saveable');
  assert.equal((await run(ctrl, buildSqe({ opc: AdminOpc.KeepAlive, cid: 5 })).done).status, 0);
  ctrl.destroy('test over'); // stops the keep-alive timer Set Features started
});

test('what a discovery controller refuses, each with the status nvmet gives or the spec names', async () => {
  const { ctrl } = discoveryController();
  const feature = (opc: number, fid: number, cdw11 = 0) => buildSqe({ opc, cid: 0x42, cdw10: fid, cdw11 });
  // [what, SQE, status field of the CQE (status << 1, little-endian)]
  const cases: Array<[string, Buffer, string]> = [
    ['Identify Namespace', buildSqe({ opc: AdminOpc.Identify, cid: 0x42, nsid: 1, sglLen: IDENTIFY_SIZE, cdw10: 0 }), '0480'],
    ['Identify Active Namespace List', buildSqe({ opc: AdminOpc.Identify, cid: 0x42, sglLen: IDENTIFY_SIZE, cdw10: 2 }), '0480'],
    ['Identify Controller into 512 bytes', buildSqe({ opc: AdminOpc.Identify, cid: 0x42, sglLen: 512, cdw10: 1 }), '1e80'],
    ['Get Log Page SMART', buildSqe({ opc: AdminOpc.GetLogPage, cid: 0x42, sglLen: 512, cdw10: LogId.Smart | (127 << 16) }), '1282'],
    ['Get Log Page Commands Supported and Effects', buildSqe({ opc: AdminOpc.GetLogPage, cid: 0x42, sglLen: 4096, cdw10: LogId.CommandsEffects | (1023 << 16) }), '1282'],
    ['Set Features AEC with a SMART warning bit', feature(AdminOpc.SetFeatures, FeatureId.AsyncEventConfig, 0x8000_0001), '0480'],
    ['Set Features AEC with namespace attribute notices', feature(AdminOpc.SetFeatures, FeatureId.AsyncEventConfig, 0x100), '0480'],
    ['Set Features Volatile Write Cache', feature(AdminOpc.SetFeatures, FeatureId.VolatileWriteCache, 1), '0480'],
    ['Set Features Number of Queues', feature(AdminOpc.SetFeatures, FeatureId.NumberOfQueues, 0), '0480'],
    ['Get Features Number of Queues', feature(AdminOpc.GetFeatures, FeatureId.NumberOfQueues), '0480'],
    ['Get Features Host Identifier', buildSqe({ opc: AdminOpc.GetFeatures, cid: 0x42, sglLen: 16, cdw10: FeatureId.HostIdentifier, cdw11: 1 }), '0480'],
    ['Abort', buildSqe({ opc: AdminOpc.Abort, cid: 0x42, cdw10: 1 << 16 }), '0280'],
    ['Create I/O Submission Queue', buildSqe({ opc: AdminOpc.CreateIoSq, cid: 0x42 }), '0280'],
  ];
  for (const [what, sqe, status] of cases) {
    const c = await run(ctrl, sqe).done;
    assert.equal(cqeHex(c, 0, 0), '00000000' + '00000000' + '0000' + '0000' + '4200' + status, what);
    assert.equal(c.data, undefined, what);
  }
  assert.equal(ctrl.features.asyncEventConfig, 0, 'nothing refused changed the configuration');
});
