// The fabrics commands (fabrics.ts) called directly, driven by the Linux host's own Connect and Property
// Get/Set capsules (target/protocol/testdata): where this target answers as the Linux target did, the CQE is
// compared byte for byte with the Linux target's; where it answers otherwise, the difference is pinned.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectData, ConnectSqe } from '../protocol/connect.js';
import { DISCOVERY_NQN } from '../protocol/opcodes.js';
import { Status } from '../protocol/status.js';
import { Subsystem } from '../subsystem/subsystem.js';
import { Controller } from './controller.js';
import { executeConnect, executePropertyGet, executePropertySet, type ControllerDirectory } from './fabrics.js';
import type { Qpair } from './qpair.js';
import { FakeTransport, cqeAsLinux, cqeHex, linuxCommand, memoryNamespace, request, subsystem, type LinuxCommand } from './test-support/harness.js';

/** The subsystem the Linux host connected to in the vectors. */
const LINUX_NQN = 'nqn.2014-08.io.linux-host:ref';
const LINUX_HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:bfaf2044-43cc-46bd-9b5e-413f98947054';

interface Dir extends ControllerDirectory {
  controllers: Map<number, Controller>;
  connected: Qpair[];
}

function directory(subs: Subsystem[], maxControllers = 10): Dir {
  const controllers = new Map<number, Controller>();
  const connected: Qpair[] = [];
  let next = 1;
  return {
    controllers,
    connected,
    findSubsystem: (nqn) => subs.find((s) => s.nqn === nqn),
    createController(sub, hostnqn, hostid, kato) {
      if (controllers.size >= maxControllers) return undefined;
      const c = new Controller(next++, sub, hostnqn, hostid, kato, { removed: () => {}, backendError: () => {} });
      controllers.set(c.cntlid, c);
      return c;
    },
    findController: (_sub, cntlid) => controllers.get(cntlid),
    queueConnected: (q) => connected.push(q),
  };
}

function linuxSubsystems(hosts?: string[]): Subsystem[] {
  return [subsystem([memoryNamespace(1, 1 << 20, 512, LINUX_NQN)], hosts, LINUX_NQN), new Subsystem('discovery', DISCOVERY_NQN, 'd', 'discovery', [], undefined)];
}

async function connect(v: { sqe: Buffer; data: Buffer | undefined }, dir: ControllerDirectory, transport = new FakeTransport()) {
  const { req, done } = request(v.sqe, undefined, v.data);
  const outcome = executeConnect(req, dir, transport);
  return { outcome, c: await done };
}

async function property(v: LinuxCommand, q: Qpair, set: boolean) {
  const { req, done } = request(v.sqe, q);
  if (set) executePropertySet(req, q.ctrl);
  else executePropertyGet(req, q.ctrl);
  return done;
}

test("the Linux host's admin Connect, enable, I/O Connect and shutdown, answered as the Linux target did", async () => {
  const dir = directory(linuxSubsystems());
  // Admin queue: qid 0, SQSIZE 31, cntlid FFFFh, KATO 5 s: the first controller, cntlid 1, in DW0.
  const admin = linuxCommand(1, 1);
  const a = await connect(admin, dir);
  assert.equal(cqeAsLinux(admin, a.c), admin.cqe.toString('hex'));
  assert.ok(a.outcome.ok);
  const q = a.outcome.qpair;
  assert.deepEqual([q.qid, q.sqsize, q.sqFlowControl, q.ctrl.kato, q.ctrl.hostnqn], [0, 31, true, 5000, LINUX_HOSTNQN]);
  assert.equal(dir.connected.length, 1);
  // Property Set CC = 00460060h (not enabled), Get CC, Set CC = 00460061h (EN), Get CSTS (RDY), Get VS (1.3).
  for (const [index, set] of [[3, true], [4, false], [6, true], [7, false], [8, false]] as const) {
    const v = linuxCommand(1, index);
    assert.equal(cqeAsLinux(v, await property(v, q, set)), v.cqe.toString('hex'), `stream 1 #${index}`);
  }
  assert.ok(q.ctrl.ready);
  // I/O queue 1 of that controller: qid 1, SQSIZE 127, cntlid 1 in the data.
  const ioConnect = linuxCommand(2, 1);
  const io = await connect(ioConnect, dir);
  assert.equal(cqeAsLinux(ioConnect, io.c), ioConnect.cqe.toString('hex'));
  assert.ok(io.outcome.ok && io.outcome.qpair.qid === 1 && q.ctrl.ioQueues.get(1) === io.outcome.qpair);
  // Shutdown: Set CC with SHN = 01b keeps EN; CSTS reports SHST complete. The Linux target clears RDY too
  // (CSTS 8); this target keeps RDY until EN is cleared (CSTS 9), and the Linux host accepts both.
  const shn = linuxCommand(1, 30);
  assert.equal(cqeAsLinux(shn, await property(shn, q, true)), shn.cqe.toString('hex'));
  const csts = linuxCommand(1, 31);
  const c = await property(csts, q, false);
  assert.equal(csts.cqe.readUInt32LE(0), 8);
  assert.equal(cqeHex(c, 0, 0), '09000000' + '00000000' + '0000' + '0000' + '0140' + '0000');
  q.ctrl.destroy('test over');
});

test('the discovery Connect of the Linux host gets a discovery controller; an I/O queue on it is refused', async () => {
  const dir = directory(linuxSubsystems());
  const v = linuxCommand(0, 1);
  const a = await connect(v, dir);
  assert.equal(cqeAsLinux(v, a.c), v.cqe.toString('hex'));
  assert.ok(a.outcome.ok && a.outcome.qpair.ctrl.isDiscovery);
  const io = linuxCommand(2, 1);
  const sqe = Buffer.from(io.sqe);
  const data = Buffer.from(io.data!);
  data.fill(0, ConnectData.SUBNQN, ConnectData.SUBNQN + 256).write(DISCOVERY_NQN, ConnectData.SUBNQN);
  const r = await connect({ sqe, data }, dir);
  // Connect Invalid Parameters (SCT 1h, SC 82h, DNR), IATTR 0 (in the SQE), IPO 42 (QID).
  assert.equal(cqeHex(r.c, 0, 0), '2a000000' + '00000000' + '0000' + '0000' + '0000' + '0483');
});

test('the CAP this target reports (MQES 1023, CQR, TO 7.5 s, NVM command set) and Property Get/Set refusals', async () => {
  const dir = directory(linuxSubsystems());
  const { outcome } = await connect(linuxCommand(1, 1), dir);
  assert.ok(outcome.ok);
  const q = outcome.qpair;
  const cap = linuxCommand(1, 2);
  const c = await property(cap, q, false);
  // The Linux target: 0f0003ffh / 00000820h. Here: CQR set (fabrics queues are contiguous), no CMBS/PMRS.
  assert.equal(cap.cqe.readUInt32LE(0), 0x0f0003ff);
  assert.deepEqual([c.status, c.dw0, c.dw1], [0, 0x0f0103ff, 0x20]);
  // DW0, DW1, SQHD, SQID, then CID 1 (Get) or 1000h (Set) and Invalid Field (0x4002 << 1 = 8004h).
  const getInvalid = '000000000000000000000000' + '0100' + '0480';
  const setInvalid = '000000000000000000000000' + '0010' + '0480';
  const attrib = (sqe: Buffer, size8: boolean, offset: number, value = 0) => {
    const b = Buffer.from(sqe);
    b[40] = size8 ? 1 : 0;
    b.writeUInt32LE(offset, 44);
    b.writeUInt32LE(value, 48);
    return b;
  };
  const get = async (size8: boolean, offset: number) => {
    const { req, done } = request(attrib(cap.sqe, size8, offset), q);
    executePropertyGet(req, q.ctrl);
    return cqeHex(await done, 0, 0);
  };
  const set = async (size8: boolean, offset: number, value: number) => {
    const { req, done } = request(attrib(linuxCommand(1, 3).sqe, size8, offset, value), q);
    executePropertySet(req, q.ctrl);
    return cqeHex(await done, 0, 0);
  };
  assert.equal(await get(false, 0x00), getInvalid, 'CAP is 8 bytes');
  assert.equal(await get(true, 0x08), getInvalid, 'VS is 4 bytes');
  assert.equal(await get(false, 0x20), getInvalid, 'NSSR is not implemented');
  assert.equal(await set(false, 0x00, 1), setInvalid, 'CAP is read-only');
  assert.equal(await set(true, 0x14, 1), setInvalid, 'CC is 4 bytes');
  assert.equal(q.ctrl.cc, 0, 'a refused Set changes nothing');
  q.ctrl.destroy('test over');
});

test('refused Connects: each status, and the field its result dword names', async () => {
  const admin = linuxCommand(1, 1);
  const ioq = linuxCommand(2, 1);
  const edit = (v: LinuxCommand, f: (sqe: Buffer, data: Buffer) => void) => {
    const sqe = Buffer.from(v.sqe);
    const data = Buffer.from(v.data!);
    f(sqe, data);
    return { sqe, data };
  };
  const cases: Array<[string, () => Dir, { sqe: Buffer; data: Buffer | undefined }, string]> = [
    // [what, directory, capsule, DW0 + status field of the CQE]
    ['no data', () => directory(linuxSubsystems()), { sqe: admin.sqe, data: Buffer.alloc(512) }, '00000000' + '1e80'],
    ['RECFMT 1: Incompatible Format', () => directory(linuxSubsystems()), edit(admin, (s) => s.writeUInt16LE(1, ConnectSqe.RECFMT)), '00000000' + '0083'],
    ['unknown subsystem: SUBNQN in the data', () => directory(linuxSubsystems()),
      edit(admin, (_s, d) => d.write('nqn.2014-08.io.example:none\0', ConnectData.SUBNQN)), '00010100' + '0483'],
    ['host not allowed: Invalid Host, HOSTNQN', () => directory(linuxSubsystems(['nqn.2014-08.io.example:other-host'])), admin, '00020100' + '0883'],
    ['SQSIZE 0', () => directory(linuxSubsystems()), edit(admin, (s) => s.writeUInt16LE(0, ConnectSqe.SQSIZE)), '2c000000' + '0483'],
    ['SQSIZE 1024', () => directory(linuxSubsystems()), edit(admin, (s) => s.writeUInt16LE(1024, ConnectSqe.SQSIZE)), '2c000000' + '0483'],
    ['admin queue naming a cntlid', () => directory(linuxSubsystems()), edit(admin, (_s, d) => d.writeUInt16LE(1, ConnectData.CNTLID)), '10000100' + '0483'],
    ['no controller left: Controller Busy', () => directory(linuxSubsystems(), 0), admin, '00000000' + '0203'],
    ['I/O queue of no controller', () => directory(linuxSubsystems()), ioq, '10000100' + '0483'],
  ];
  for (const [what, dir, capsule, expected] of cases) {
    const r = await connect(capsule, dir());
    assert.equal(r.outcome.ok, false, what);
    const cqe = cqeHex(r.c, 0, 0);
    assert.equal(cqe.slice(0, 8) + cqe.slice(-4), expected, what);
  }
});

test('an I/O Connect is refused before the controller is enabled, from another host, and for a queue already connected', async () => {
  const dir = directory(linuxSubsystems());
  const { outcome } = await connect(linuxCommand(1, 1), dir);
  assert.ok(outcome.ok);
  const ctrl = outcome.qpair.ctrl;
  const ioq = linuxCommand(2, 1);
  const status = async (capsule: { sqe: Buffer; data: Buffer | undefined }) => {
    const cqe = cqeHex((await connect(capsule, dir)).c, 0, 0);
    return cqe.slice(0, 8) + cqe.slice(-4);
  };
  assert.equal(await status(ioq), '00000000' + '1880', 'Command Sequence Error before CC.EN');
  ctrl.setCC(0x460061);
  const otherHost = Buffer.from(ioq.data!);
  otherHost.fill(0, ConnectData.HOSTNQN, ConnectData.HOSTNQN + 256).write('nqn.2014-08.io.example:intruder', ConnectData.HOSTNQN);
  assert.equal(await status({ sqe: ioq.sqe, data: otherHost }), '00020100' + '0483', 'HOSTNQN differs from the admin queue');
  assert.equal(await status(ioq), '01000000' + '0000');
  assert.equal(await status(ioq), '2a000000' + '0483', 'QID 1 is connected already');
  const qid200 = Buffer.from(ioq.sqe);
  qid200.writeUInt16LE(200, ConnectSqe.QID);
  assert.equal(await status({ sqe: qid200, data: ioq.data }), '2a000000' + '0483', 'QID above the 128 granted');
  ctrl.destroy('test over');
  assert.equal(await status(ioq), '10000100' + '0483', 'a destroyed controller is gone');
  assert.equal(Status.ConnectInvalidParameters, 0x4182);
});

test('a TLS connection is bound to its PSK identity: a Connect naming another host or subsystem is refused', async () => {
  const other = 'nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-0000000000aa';
  const dir = directory(linuxSubsystems([LINUX_HOSTNQN, other]));
  const over = (tlsPeer: { hostNqn: string; subNqn: string }) => Object.assign(new FakeTransport(), { tlsPeer });
  const admin = linuxCommand(1, 1);
  // The identity names another (allowed) host: Connect Invalid Host, IATTR 1 (data), IPO 512 (HOSTNQN).
  const wrongHost = await connect(admin, dir, over({ hostNqn: other, subNqn: LINUX_NQN }));
  assert.deepEqual([wrongHost.outcome.ok, wrongHost.c.status, wrongHost.c.dw0], [false, Status.ConnectInvalidHost, 0x10000 | ConnectData.HOSTNQN]);
  const wrongSub = await connect(admin, dir, over({ hostNqn: LINUX_HOSTNQN, subNqn: `${LINUX_NQN}x` }));
  assert.equal(wrongSub.outcome.ok, false);
  assert.equal(dir.controllers.size, 0, 'no controller was made');
  const ok = await connect(admin, dir, over({ hostNqn: LINUX_HOSTNQN, subNqn: LINUX_NQN }));
  assert.ok(ok.outcome.ok, 'the identity\'s own host and subsystem connect');
});
