// SPDK v24.09's host against our target, in this process (a Target and Connections over an in-memory wire):
// (a) every PDU of the capture (target/protocol/testdata/spdk-host-vs-spdk-target.jsonl, SPDK's host against
// SPDK's target) fed byte for byte, each answer compared with SPDK's target's: initialisation, Identify,
// features, four AERs, Keep Alive, an I/O queue's reads, and the detach whose Property Get reuses CID 3 of
// an outstanding AER; (b) initialisation's property sequence as lib/nvme/nvme_ctrlr.c's state machine runs
// it, with the branch for a controller found enabled; (c) shutdown by CC.SHN and CSTS.SHST polling.
// Reset, several I/O queues, keep-alive and Abort: spdk-host-lifecycle.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PduFlag, PduType, readCommonHeader, readDataHeader } from '../protocol/pdu.js';
import { AdminOpc, FabricsType, FeatureId, IoOpc } from '../protocol/opcodes.js';
import { CC, CSTS, Prop } from '../protocol/properties.js';
import { readCqe } from '../protocol/cqe.js';
import { SQE } from '../protocol/sqe.js';
import { icReqPdu } from './test-support/host-pdus.js';
import {
  SPDK_ADMIN_SQSIZE, SPDK_CC_ENABLE, capturedConnect, command, exchange, propertyGet, propertySet, spdkCapture, spdkConnect, spdkRig,
  type CapturedPdu, type HostConn, type SpdkRig,
} from './test-support/spdk-host.js';

const capture = spdkCapture();
const h2c = (stream: number) => capture.filter((p) => p.stream === stream && p.dir === 'h2c');
const sqeOf = (p: CapturedPdu) => p.bytes.subarray(8, 72);

/**
 * SPDK's target's completions on `stream`, in order: each CapsuleResp, and each C2HData with SUCCESS, which
 * SPDK's target sends in place of a CapsuleResp (its c2h_success option) even with SQ flow control enabled.
 */
function spdkCompletions(stream: number): Array<{ cid: number; status: number; dw0: number }> {
  const out: Array<{ cid: number; status: number; dw0: number }> = [];
  for (const p of capture.filter((x) => x.stream === stream && x.dir === 'c2h')) {
    const ch = readCommonHeader(p.bytes);
    if (ch.type === PduType.CapsuleResp) {
      const c = readCqe(p.bytes, 8);
      out.push({ cid: c.cid, status: c.status, dw0: c.dw0 });
    } else if (ch.type === PduType.C2HData && (ch.flags & PduFlag.DATA_SUCCESS) !== 0) {
      out.push({ cid: readDataHeader(p.bytes).cccid, status: 0, dw0: 0 });
    }
  }
  return out;
}

function describeCmd(sqe: Buffer): string {
  const opc = sqe[SQE.OPC];
  if (opc !== AdminOpc.Fabrics) return `opcode 0x${opc.toString(16)} cid ${sqe.readUInt16LE(SQE.CID)}`;
  return `fabrics 0x${sqe[SQE.FCTYPE].toString(16)} offset 0x${sqe.readUInt32LE(SQE.CDW11).toString(16)} cid ${sqe.readUInt16LE(SQE.CID)}`;
}

/** Feeds the captured commands of `pdus` one by one; each answer must match SPDK's target's (`want`, consumed in order). */
async function replay(c: HostConn, pdus: CapturedPdu[], want: Array<{ cid: number; status: number; dw0: number }>, qid: number): Promise<void> {
  for (const p of pdus) {
    const sqe = sqeOf(p);
    const what = describeCmd(sqe);
    const isAer = qid === 0 && sqe[SQE.OPC] === AdminOpc.AsyncEventRequest;
    const a = await exchange(c, p.bytes, isAer ? () => false : undefined);
    assert.ok(!a.types.includes(PduType.C2HTermReq), `${what}: no C2HTermReq`);
    if (isAer) {
      assert.deepEqual(a.types, [], `${what}: an AER waits for an event`);
      continue;
    }
    assert.equal(a.cqes.length, 1, `${what}: one completion`);
    const ours = a.cqes[0];
    const theirs = want.shift()!;
    assert.deepEqual({ cid: ours.cid, status: ours.status }, { cid: theirs.cid, status: theirs.status }, `${what}: as SPDK's target answered`);
    const opc = sqe[SQE.OPC];
    const len = sqe.readUInt32LE(SQE.SGL_LEN);
    if (opc === AdminOpc.Identify || opc === IoOpc.Read) assert.deepEqual(a.data, [{ cid: ours.cid, datal: len }], `${what}: its data`);
    const isPropertyGet = opc === AdminOpc.Fabrics && sqe[SQE.FCTYPE] === FabricsType.PropertyGet;
    // CAP differs on purpose (our MQES is 1023, SPDK's 127); every other register reads as SPDK's target's.
    if (isPropertyGet && sqe.readUInt32LE(SQE.CDW11) !== Prop.CAP) assert.equal(ours.dw0, theirs.dw0, `${what}: value`);
    if (opc === AdminOpc.GetFeatures && (sqe.readUInt32LE(SQE.CDW10) & 0xff) === FeatureId.KeepAliveTimer) assert.equal(ours.dw0, theirs.dw0, `${what}: KATO`);
  }
}

test('the capture is SPDK\'s host as described: ICReq as ours, Connects with KATO 10 s, AERs 0-3, the detach\'s CID 3', () => {
  const admin = h2c(0);
  assert.deepEqual(admin[0].bytes, icReqPdu(), 'SPDK\'s ICReq: PFV 0, HPDA 0, no digests, MAXR2T 0');
  const connect = sqeOf(admin[1]);
  assert.deepEqual({ cid: connect.readUInt16LE(SQE.CID), sqsize: connect.readUInt16LE(44), kato: connect.readUInt32LE(48) }, { cid: 0, sqsize: SPDK_ADMIN_SQSIZE, kato: 10_000 });
  const aers = admin.filter((p) => sqeOf(p)[SQE.OPC] === AdminOpc.AsyncEventRequest).map((p) => sqeOf(p).readUInt16LE(SQE.CID));
  assert.deepEqual(aers, [0, 1, 2, 3]);
  assert.deepEqual(admin.slice(-3).map((p) => describeCmd(sqeOf(p))), ['fabrics 0x4 offset 0x14 cid 3', 'fabrics 0x0 offset 0x14 cid 3', 'fabrics 0x4 offset 0x1c cid 3']);
  assert.equal(sqeOf(admin.at(-2)!).readUInt32LE(SQE.CDW12), SPDK_CC_ENABLE | (1 << CC.SHN_SHIFT), 'CC.SHN = 01b (normal) over the enabled CC');
});

test('(a) SPDK\'s host byte for byte: init, Identify, features, AERs 0-3, Keep Alive, I/O reads, and the detach reusing CID 3 of an outstanding AER, all answered as SPDK\'s target did', async () => {
  const r = spdkRig();
  const admin = r.open();
  const adminPdus = h2c(0);
  const wantAdmin = spdkCompletions(0);
  // Connect: the cntlid SPDK's target gave (1) is the one ours gives a first controller.
  const connected = await exchange(admin, capturedConnect(adminPdus[1]));
  assert.deepEqual({ status: connected.cqes[0].status, cntlid: connected.cqes[0].dw0 }, { status: 0, cntlid: wantAdmin.shift()!.dw0 });
  const detachAt = adminPdus.length - 3;
  await replay(admin, adminPdus.slice(2, detachAt), wantAdmin, 0);
  const ctrl = r.target.findController(r.sub, 1)!;
  assert.deepEqual(ctrl.pendingAers.map((q) => q.cid), [0, 1, 2, 3]);

  // spdk_nvme_perf's I/O queue, then freed (SPDK's host closes its socket; no Disconnect command).
  const io = r.open();
  const ioPdus = h2c(1);
  assert.deepEqual(ioPdus[0].bytes, icReqPdu());
  const wantIo = spdkCompletions(1);
  const ioConnected = await exchange(io, capturedConnect(ioPdus[1]));
  assert.deepEqual({ status: ioConnected.cqes[0].status, cntlid: ioConnected.cqes[0].dw0 & 0xffff }, { status: 0, cntlid: 1 });
  wantIo.shift();
  await replay(io, ioPdus.slice(2), wantIo, 1);
  assert.equal(wantIo.length, 0, 'every captured read answered');
  io.conn.wireClosed();
  assert.equal(ctrl.ioQueues.size, 0);

  // The detach: Property Get of CC with CID 3 (its AER retired, never completed), CC.SHN, CSTS polled.
  await replay(admin, adminPdus.slice(detachAt), wantAdmin, 0);
  assert.equal(wantAdmin.length, 0, 'every captured admin completion matched');
  assert.equal(admin.wire.take().length, 0, 'nothing more: no completion for the retired AER');
  assert.equal(admin.conn.isClosed, false);
  assert.deepEqual(r.protocolErrors, []);
  assert.deepEqual(ctrl.pendingAers.map((q) => q.cid), [0, 1, 2], 'AERs 0-2 still outstanding, as at SPDK\'s target');
  assert.equal(r.target.inflight, 3);
  assert.equal(ctrl.csts & (0x3 << CSTS.SHST_SHIFT), CSTS.SHST_COMPLETE);
  // SPDK's host then closes the admin queue's socket: the controller goes, without a TermReq.
  admin.conn.wireClosed();
  assert.deepEqual(r.removed, ['1: connection closed by host']);
  assert.equal(r.target.inflight, 0);
  assert.deepEqual(r.protocolErrors, []);
});

/** An admin queue connected as SPDK's host connects it; its cntlid. */
async function spdkAdmin(r: SpdkRig, hostid = Buffer.alloc(16, 0x66)): Promise<{ c: HostConn; cntlid: number }> {
  const c = r.open();
  const a = await exchange(c, spdkConnect(0, 0xffff, SPDK_ADMIN_SQSIZE, hostid));
  assert.equal(a.cqes[0]?.status, 0, 'admin Connect');
  return { c, cntlid: a.cqes[0].dw0 & 0xffff };
}

/** nvme_ctrlr_process_init's property steps for a fabrics controller, CID 0 each (nothing else outstanding). */
async function spdkInit(c: HostConn): Promise<{ vs: number; cap: bigint; polls: number }> {
  const vs = await command(c, propertyGet(0, Prop.VS));
  const capCqe = await command(c, propertyGet(0, Prop.CAP));
  const cap = BigInt(capCqe.dw0 >>> 0) | (BigInt(capCqe.dw1 >>> 0) << 32n);
  let cc = (await command(c, propertyGet(0, Prop.CC))).dw0;
  let csts = (await command(c, propertyGet(0, Prop.CSTS))).dw0;
  if (cc & CC.EN) {
    // CHECK_EN found the controller enabled: DISABLE_WAIT_FOR_READY_1, SET_EN_0, DISABLE_WAIT_FOR_READY_0.
    assert.equal(csts & CSTS.RDY, CSTS.RDY);
    assert.equal((await command(c, propertySet(0, Prop.CC, cc & ~CC.EN))).status, 0);
    csts = (await command(c, propertyGet(0, Prop.CSTS))).dw0;
    assert.equal(csts & CSTS.RDY, 0, 'CSTS.RDY clears with CC.EN');
    cc = (await command(c, propertyGet(0, Prop.CC))).dw0;
    assert.equal(cc & CC.EN, 0);
  }
  assert.equal((await command(c, propertySet(0, Prop.CC, SPDK_CC_ENABLE))).status, 0, 'ENABLE');
  // ENABLE_WAIT_FOR_READY_1, within CAP.TO * 500 ms (nvme_ctrlr_get_ready_timeout).
  let polls = 0;
  for (; polls < 10; polls++) if ((await command(c, propertyGet(0, Prop.CSTS))).dw0 & CSTS.RDY) break;
  return { vs: vs.dw0, cap, polls: polls + 1 };
}

test('(b) initialisation as nvme_ctrlr.c runs it: VS, CAP, CC (EN 0), CSTS, CC.EN=1, CSTS.RDY on the first poll; CAP as SPDK reads it', async () => {
  const r = spdkRig();
  const { c } = await spdkAdmin(r);
  const { vs, cap, polls } = await spdkInit(c);
  assert.equal(vs, 0x00010300, 'VS 1.3.0 (SPDK\'s target reports the same)');
  assert.equal(polls, 1);
  // What SPDK takes from CAP: TO for the ready timeout (0 would time out at once), MQES + 1 entries per I/O
  // queue (spdk_nvme_perf asks for UINT16_MAX, reduced to MQES + 1), CSS bit 0 (NVM), MPSMIN 0 (4 KiB pages).
  const to = Number((cap >> 24n) & 0xffn);
  const mqes = Number(cap & 0xffffn);
  assert.ok(to > 0, 'CAP.TO');
  assert.ok(mqes >= SPDK_ADMIN_SQSIZE, 'CAP.MQES');
  assert.equal((cap >> 37n) & 1n, 1n, 'CAP.CSS NVM');
  assert.equal((cap >> 48n) & 0xfn, 0n, 'CAP.MPSMIN');
  assert.equal((await command(c, propertyGet(0, Prop.CC))).dw0, SPDK_CC_ENABLE, 'CC reads back as written');
  // A controller found enabled (SPDK's CHECK_EN branch): disabled, then enabled again.
  const again = await spdkInit(c);
  assert.equal(again.polls, 1);
  assert.deepEqual(r.protocolErrors, []);
  assert.equal(c.conn.isClosed, false);
});

test('(c) shutdown as nvme_ctrlr_shutdown_async does it: Get CC, CC.SHN = 01b, CSTS polled until SHST = 10b; then the socket closes', async () => {
  const r = spdkRig();
  const { c, cntlid } = await spdkAdmin(r);
  await spdkInit(c);
  const cc = (await command(c, propertyGet(0, Prop.CC))).dw0;
  assert.equal((await command(c, propertySet(0, Prop.CC, (cc & ~CC.SHN_MASK) | (1 << CC.SHN_SHIFT)))).status, 0);
  // nvme_ctrlr_shutdown_poll_async: SHST complete ends it; SPDK waits at least 10 s for it.
  for (let poll = 0; poll < 3; poll++) {
    const csts = (await command(c, propertyGet(0, Prop.CSTS))).dw0;
    assert.equal(csts & (0x3 << CSTS.SHST_SHIFT), CSTS.SHST_COMPLETE, `poll ${poll}: SHST complete`);
    assert.equal(csts & CSTS.CFS, 0);
  }
  assert.equal(c.conn.isClosed, false, 'the target leaves closing to the host');
  c.conn.wireClosed();
  assert.deepEqual(r.removed, [`${cntlid}: connection closed by host`]);
  assert.equal(r.target.findController(r.sub, cntlid), undefined);
  assert.deepEqual(r.protocolErrors, []);
});
