// The reservation commands, conflicts, notifications and features (reservations.ts) called directly with
// hand-built SQEs and data (the Linux host of the vectors sent none), checking the bytes hosts get.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSqe } from '../protocol/sqe.js';
import { AdminOpc, FeatureId, IoOpc } from '../protocol/opcodes.js';
import { AcquireAction, RegisterAction, ResvType } from '../protocol/reservations.js';
import { Status } from '../protocol/status.js';
import { Controller } from './controller.js';
import { Qpair } from './qpair.js';
import {
  checkAccess, checkReservationCommand, executeReservation, getReservationFeature, isReservationCommand, reservationLog, rescap, setReservationFeature,
} from './reservations.js';
import { CC_ENABLE, FakeTransport, HOSTID, cqeHex, request, rig, type Rig } from './test-support/harness.js';

const HOST_B = Buffer.from('b0b0b0b0000040008000000000000002', 'hex');

/** A second host's controller (cntlid 2) on the rig's subsystem, with I/O queue 1. */
function hostB(r: Rig, hostid = HOST_B): Controller {
  const c = new Controller(2, r.sub, 'nqn.2014-08.io.example:host-b', hostid, 0, { removed: () => {}, backendError: () => {} });
  c.admin = new Qpair(c, 0, 31, new FakeTransport(), true);
  c.ioQueues.set(1, new Qpair(c, 1, 127, new FakeTransport(), true));
  c.setCC(CC_ENABLE);
  return c;
}

function keys(...k: bigint[]): Buffer {
  const b = Buffer.alloc(k.length * 8);
  k.forEach((v, i) => b.writeBigUInt64LE(v, i * 8));
  return b;
}

/** Controllers of other hosts on the subsystem (notices go to every controller of the host named). */
let others: Controller[] = [];

/** Executes a reservation command of `ctrl` on nsid 1; resolves with its completion. */
function resv(r: Rig, ctrl: Controller, opc: number, cdw10: number, data?: Buffer, cdw11 = 0, sglLen = data?.length ?? 0) {
  const { req, done } = request(buildSqe({ opc, cid: 0x71, nsid: 1, sglLen, cdw10, cdw11 }), ctrl.ioQueues.get(1)!, data);
  assert.equal(checkReservationCommand(req, r.sub), 0);
  executeReservation(req, ctrl, () => [r.ctrl, ...others]);
  return done;
}

const register = (r: Rig, ctrl: Controller, nrkey: bigint) => resv(r, ctrl, IoOpc.ReservationRegister, RegisterAction.Register, keys(0n, nrkey));
const acquire = (r: Rig, ctrl: Controller, action: number, rtype: number, crkey: bigint, prkey = 0n) => resv(r, ctrl, IoOpc.ReservationAcquire, action | (rtype << 8), keys(crkey, prkey));
const report = (r: Rig, ctrl: Controller, bytes: number, eds = true) => resv(r, ctrl, IoOpc.ReservationReport, bytes / 4 - 1, undefined, eds ? 1 : 0, bytes);

test('Register, then Report (extended): one entry per host, as the dynamic controller, with its key and host identifier', async () => {
  const r = rig();
  others = [];
  assert.equal((await register(r, r.ctrl, 0xaan)).status, 0);
  const c = await report(r, r.ctrl, 128);
  assert.equal(c.data!.toString('hex'),
    '01000000' + '00' + '0100' + '0000' + '00' + '00'.repeat(54) // GEN 1, RTYPE 0, REGCTL 1, PTPLS 0
    + 'ffff' + '00' + '00'.repeat(5) + 'aa00000000000000' + HOSTID.toString('hex') + '00'.repeat(32)); // CNTLID, RCSTS, RKEY, HOSTID
  assert.equal((await acquire(r, r.ctrl, AcquireAction.Acquire, ResvType.WriteExclusive, 0xaan)).status, 0);
  const held = (await report(r, r.ctrl, 128)).data!;
  assert.deepEqual([held.readUInt32LE(0), held[4], held[64 + 2]], [1, ResvType.WriteExclusive, 1], 'same generation, Write Exclusive, RCSTS holder');
  // Only what NUMD asks for: the 64-byte header.
  assert.equal((await report(r, r.ctrl, 64)).data!.length, 64);
});

/** Host A (the rig's controller) registered with key AAh and holding Write Exclusive on nsid 1; host B connected. */
async function heldByA(): Promise<{ r: Rig; b: Controller }> {
  const r = rig();
  const b = hostB(r);
  others = [b];
  await register(r, r.ctrl, 0xaan);
  await acquire(r, r.ctrl, AcquireAction.Acquire, ResvType.WriteExclusive, 0xaan);
  return { r, b };
}

test('Report without the extended data structure: Host Identifier Inconsistent Format (fabrics hosts have 128-bit identifiers)', async () => {
  const r = rig();
  const c = await report(r, r.ctrl, 64, false);
  assert.equal(cqeHex(c, 0, 0), '00000000' + '00000000' + '0000' + '0000' + '7100' + '3080');
});

test('Write Exclusive: the holder writes; another host reads but gets Reservation Conflict for writes; a Flush of all namespaces passes', async () => {
  const { r, b } = await heldByA();
  const access = (ctrl: Controller, opc: number, nsid = 1) => checkAccess(request(buildSqe({ opc, cid: 1, nsid }), ctrl.ioQueues.get(1)!).req, ctrl);
  assert.equal(access(r.ctrl, IoOpc.Write), 0);
  assert.equal(access(b, IoOpc.Read), 0);
  for (const opc of [IoOpc.Write, IoOpc.WriteZeroes, IoOpc.DatasetManagement, IoOpc.Flush]) assert.equal(access(b, opc), Status.ReservationConflict, `opcode ${opc}`);
  assert.equal(access(b, IoOpc.Flush, 0xffffffff), 0);
  // A reservation command of an unregistered host that needs a registration is a conflict too (status 0x4083 << 1).
  const c = await acquire(r, b, AcquireAction.Acquire, ResvType.WriteExclusive, 0xbbn);
  assert.equal(cqeHex(c, 0, 0).slice(-4), '0681');
});

test('a Preempt notifies the preempted host: one asynchronous event, then log page 80h, oldest entry first', async () => {
  const { r, b } = await heldByA();
  await register(r, b, 0xbbn);
  const aer = request(buildSqe({ opc: AdminOpc.AsyncEventRequest, cid: 0x1f }), r.admin);
  r.ctrl.queueAer(aer.req);
  assert.equal((await acquire(r, b, AcquireAction.Preempt, ResvType.WriteExclusive, 0xbbn, 0xaan)).status, 0);
  // Reservation Log Page Available: type 6, log page 80h.
  assert.equal(cqeHex(await aer.done, 0, 0), '06008000' + '00000000' + '0000' + '0000' + '1f00' + '0000');
  // COUNT 1, TYPE 1 (Registration Preempted), NALP 0, NSID 1.
  assert.equal(reservationLog(r.ctrl, false, true).toString('hex'), '0100000000000000' + '01' + '00' + '0000' + '01000000' + '00'.repeat(48));
  assert.deepEqual(reservationLog(r.ctrl, false, true), Buffer.alloc(64), 'read: gone');
  assert.equal(checkAccess(request(buildSqe({ opc: IoOpc.Write, cid: 1, nsid: 1 }), r.io).req, r.ctrl), Status.ReservationConflict);
});

test('reservation command checks: opcodes, namespace, data length; an all-zero host identifier holds nothing', async () => {
  const r = rig();
  assert.deepEqual([0x0d, 0x0e, 0x11, 0x15, 0x01, 0x02].map(isReservationCommand), [true, true, true, true, false, false]);
  const check = (opc: number, nsid: number, sglLen: number) => checkReservationCommand(request(buildSqe({ opc, cid: 1, nsid, sglLen }), r.io).req, r.sub);
  assert.equal(check(IoOpc.ReservationRegister, 2, 16), Status.InvalidNamespace);
  assert.equal(check(IoOpc.ReservationRegister, 1, 8), Status.SglDataLengthInvalid);
  assert.equal(check(IoOpc.ReservationAcquire, 1, 8), Status.SglDataLengthInvalid);
  assert.equal(check(IoOpc.ReservationRelease, 1, 8), 0);
  assert.equal(check(IoOpc.ReservationReport, 1, 0), 0);
  const anonymous = hostB(r, Buffer.alloc(16));
  others = [anonymous];
  const c = await register(r, anonymous, 1n);
  assert.equal(cqeHex(c, 0, 0).slice(-4), '1880', 'Command Sequence Error');
});

test('features 82h and 83h: the mask per controller and namespace; PTPL only where a state file keeps it; RESCAP', async () => {
  const r = rig();
  const feature = async (setIt: boolean, fid: number, cdw11: number, nsid = 1, sel = 0) => {
    const { req, done } = request(buildSqe({ opc: setIt ? AdminOpc.SetFeatures : AdminOpc.GetFeatures, cid: 0x55, nsid, cdw10: fid | (sel << 8), cdw11 }), r.admin);
    if (setIt) setReservationFeature(req, r.ctrl);
    else getReservationFeature(req, r.ctrl);
    const cqe = cqeHex(await done, 0, 0);
    return cqe.slice(0, 8) + cqe.slice(-4);
  };
  const MASK = FeatureId.ReservationNotificationMask;
  const PTPL = FeatureId.ReservationPersistence;
  assert.equal(await feature(true, MASK, 0x0e), '00000000' + '0000');
  assert.equal(await feature(false, MASK, 0), '0e000000' + '0000');
  assert.equal(await feature(true, MASK, 0x01), '00000000' + '0480', 'bit 0 is reserved');
  assert.equal(await feature(true, MASK, 0x02, 9), '00000000' + '1680', 'no namespace 9');
  assert.equal(await feature(false, MASK, 0, 1, 3), '06000000' + '0000', 'namespace specific, changeable');
  assert.equal(await feature(true, PTPL, 1), '00000000' + '0480', 'a memory namespace cannot persist');
  assert.equal(await feature(true, PTPL, 0, 0xffffffff), '00000000' + '0000');
  assert.equal(await feature(false, PTPL, 0), '00000000' + '0000');
  assert.equal(rescap(r.sub, 1), 0xfe, 'all six types and IEKEY; no PTPL without a state file');
});
