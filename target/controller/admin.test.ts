// The admin commands (admin.ts) called directly, driven by the Linux host's own admin capsules
// (target/protocol/testdata) where they fit, hand-built SQEs otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSqe } from '../protocol/sqe.js';
import { AdminOpc, DISCOVERY_NQN } from '../protocol/opcodes.js';
import { IDENTIFY_SIZE } from '../protocol/identify-layout.js';
import { Subsystem } from '../subsystem/subsystem.js';
import { Controller } from './controller.js';
import { executeAdmin } from './admin.js';
import type { LogSources } from './log-pages.js';
import { cqeAsLinux, cqeHex, linuxCommand, memoryNamespace, request, rig, subsystem, type Rig } from './test-support/harness.js';

const LINUX_NQN = 'nqn.2014-08.io.linux-host:ref';

function logs(r: Rig): LogSources {
  return { smart: r.sub.smart, discoveryLog: () => Buffer.alloc(1024), takeChangedNamespaces: () => [] };
}

function admin(r: Rig, sqe: Buffer, ctrl: Controller = r.ctrl) {
  const { req, done } = request(sqe, r.admin);
  executeAdmin(req, ctrl, logs(r));
  return done;
}

const linuxRig = () => rig(subsystem([memoryNamespace(1, 64 << 20, 512, LINUX_NQN)], undefined, LINUX_NQN));

test("the Linux host's Identify commands (CNS 01h, 06h, 02h, 03h, 00h) complete as on the Linux target", async () => {
  const r = linuxRig();
  for (const index of [9, 16, 17, 18, 19]) {
    const v = linuxCommand(1, index);
    const c = await admin(r, v.sqe);
    assert.equal(cqeAsLinux(v, c), v.cqe.toString('hex'), `stream 1 #${index}`);
    assert.equal(c.data?.length, IDENTIFY_SIZE);
  }
  // CNS 06h (NVM command set controller structure: no limits) and CNS 02h (active nsids: 1) equal nvmet's bytes.
  for (const index of [16, 17]) assert.deepEqual((await admin(r, linuxCommand(1, index).sqe)).data, linuxCommand(1, index).c2hData);
});

test('Identify refusals: wrong length, invalid or inactive namespaces, unknown CNS and command sets, a discovery controller', async () => {
  const r = linuxRig();
  const discovery = new Controller(2, new Subsystem('discovery', DISCOVERY_NQN, 's', 'm', [], undefined), 'h', Buffer.alloc(16), 0, { removed: () => {}, backendError: () => {} });
  const identify = (cns: number, nsid: number, csi = 0, sglLen = IDENTIFY_SIZE) => buildSqe({ opc: AdminOpc.Identify, cid: 0x42, nsid, sglLen, cdw10: cns, cdw11: csi << 24 });
  // [what, SQE, controller, status field of the CQE (status << 1, little-endian)]
  const cases: Array<[string, Buffer, Controller, string]> = [
    ['512 bytes: SGL Data Length Invalid', identify(1, 0, 0, 512), r.ctrl, '1e80'],
    ['CNS 00h, nsid 0: Invalid Namespace', identify(0, 0), r.ctrl, '1680'],
    ['CNS 00h, nsid FFFFFFFFh', identify(0, 0xffffffff), r.ctrl, '1680'],
    ['CNS 00h, nsid 1025 (above NN)', identify(0, 1025), r.ctrl, '1680'],
    ['CNS 02h, nsid FFFFFFFEh', identify(2, 0xfffffffe), r.ctrl, '1680'],
    ['CNS 03h of an inactive nsid', identify(3, 2), r.ctrl, '1680'],
    ['CNS 05h of an inactive nsid', identify(5, 2), r.ctrl, '1680'],
    ['CNS 05h, CSI 1: Invalid Field', identify(5, 1, 1), r.ctrl, '0480'],
    ['CNS 06h, CSI 2', identify(6, 0, 2), r.ctrl, '0480'],
    ['CNS 10h', identify(0x10, 0), r.ctrl, '0480'],
    ['discovery controller, CNS 00h', identify(0, 1), discovery, '0480'],
  ];
  for (const [what, sqe, ctrl, status] of cases) {
    const c = await admin(r, sqe, ctrl);
    assert.equal(cqeHex(c, 0, 0), '00000000' + '00000000' + '0000' + '0000' + '4200' + status, what);
    assert.equal(c.data, undefined, what);
  }
  // An inactive nsid at or below NN reads as zeroes (CNS 00h), and the discovery controller has CNS 01h.
  assert.deepEqual((await admin(r, identify(0, 7))).data, Buffer.alloc(IDENTIFY_SIZE));
  assert.equal((await admin(r, identify(1, 0), discovery)).data?.length, IDENTIFY_SIZE);
});

test('Keep Alive and Abort complete at once ("not aborted"); opcodes a fabrics controller lacks are Invalid Opcode', async () => {
  const r = linuxRig();
  const ka = await admin(r, buildSqe({ opc: AdminOpc.KeepAlive, cid: 5 }));
  assert.equal(cqeHex(ka, 0, 0), '00000000' + '00000000' + '0000' + '0000' + '0500' + '0000');
  const abort = await admin(r, buildSqe({ opc: AdminOpc.Abort, cid: 6, cdw10: (1 << 16) | 0 }));
  assert.equal(cqeHex(abort, 0, 0), '01000000' + '00000000' + '0000' + '0000' + '0600' + '0000');
  for (const opc of [AdminOpc.DeleteIoSq, AdminOpc.CreateIoSq, AdminOpc.DeleteIoCq, AdminOpc.CreateIoCq, 0x10, 0x80, 0xc0]) {
    const c = await admin(r, buildSqe({ opc, cid: 7 }));
    assert.equal(cqeHex(c, 0, 0), '00000000' + '00000000' + '0000' + '0000' + '0700' + '0280', `opcode ${opc}`);
  }
});

test("Asynchronous Event Requests: the Linux host's stays outstanding; four at most; an event completes the oldest", async () => {
  const r = linuxRig();
  const v = linuxCommand(1, 15);
  const pending: Array<Promise<unknown>> = [];
  const completed: number[] = [];
  for (let i = 0; i < 4; i++) {
    const { req, done } = request(v.sqe, r.admin);
    executeAdmin(req, r.ctrl, logs(r));
    pending.push(done.then((c) => completed.push(c.dw0)));
  }
  const fifth = await admin(r, buildSqe({ opc: AdminOpc.AsyncEventRequest, cid: 9 }));
  assert.equal(cqeHex(fifth, 0, 0), '00000000' + '00000000' + '0000' + '0000' + '0900' + '0a82', 'Asynchronous Event Request Limit Exceeded');
  assert.equal(r.ctrl.pendingAers.length, 4);
  r.ctrl.raiseAsyncEvent(0x00800006);
  await pending[0];
  assert.deepEqual(completed, [0x00800006]);
  assert.equal(r.ctrl.pendingAers.length, 3);
});

test('Get Log Page, Set Features and Get Features reach their handlers', async () => {
  const r = linuxRig();
  for (const index of [10, 12, 13]) { // log 05h, log 02h, Set Features Number of Queues
    const v = linuxCommand(1, index);
    assert.equal(cqeAsLinux(v, await admin(r, v.sqe)), v.cqe.toString('hex'), `stream 1 #${index}`);
  }
  const get = await admin(r, buildSqe({ opc: AdminOpc.GetFeatures, cid: 1, cdw10: 0x06 }));
  assert.deepEqual([get.status, get.dw0], [0, 1], 'volatile write cache enabled');
});
