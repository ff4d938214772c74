// SPDK v24.09's host against our target, in this process, where the capture does not reach (modelled on
// lib/nvme/nvme_ctrlr.c, nvme_tcp.c and nvme_fabric.c): (d) spdk_nvme_ctrlr_reset, (e) several I/O queues
// (spdk_nvme_perf -P 4) opened and closed in any order, (f) Keep Alive at SPDK's default interval, (g) Abort
// of an outstanding command. The capture itself: spdk-host.test.ts.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { PduType, readR2T } from '../protocol/pdu.js';
import { FeatureId, IoOpc } from '../protocol/opcodes.js';
import { CSTS, Prop, capValue } from '../protocol/properties.js';
import { buildSqe, SglId } from '../protocol/sqe.js';
import { Status } from '../protocol/status.js';
import { capsulePdu, h2cDataPdu } from './test-support/host-pdus.js';
import {
  SPDK_ADMIN_SQSIZE, SPDK_CC_ENABLE, SPDK_KATO_MS, abort, aer, command, exchange, getFeatures, keepAlive, parse, propertyGet, propertySet, spdkConnect, spdkRig,
  type HostConn, type SpdkRig,
} from './test-support/spdk-host.js';

const HOSTID = Buffer.from('664574af3a7a432686fc0ed9d6d81897', 'hex');
/** spdk_nvme_perf asks for UINT16_MAX entries per I/O queue; nvme_ctrlr.c reduces that to CAP.MQES + 1. */
const SPDK_IO_SQSIZE = Number(capValue() & 0xffffn);

/** SPDK's initialisation up to READY: Connect, properties, CC.EN, CSTS.RDY, AER configuration, its four AERs (CIDs 0-3), KATO, queues. */
async function attach(r: SpdkRig): Promise<{ admin: HostConn; cntlid: number }> {
  const admin = r.open();
  const c = await exchange(admin, spdkConnect(0, 0xffff, SPDK_ADMIN_SQSIZE, HOSTID));
  assert.equal(c.cqes[0].status, 0);
  for (const off of [Prop.VS, Prop.CAP, Prop.CC, Prop.CSTS]) assert.equal((await command(admin, propertyGet(0, off))).status, 0);
  assert.equal((await command(admin, propertySet(0, Prop.CC, SPDK_CC_ENABLE))).status, 0);
  assert.equal((await command(admin, propertyGet(0, Prop.CSTS))).dw0 & CSTS.RDY, CSTS.RDY);
  for (let cid = 0; cid < 4; cid++) assert.deepEqual((await exchange(admin, capsulePdu(aer(cid)), () => false)).types, []);
  assert.equal((await command(admin, getFeatures(4, FeatureId.KeepAliveTimer))).dw0, SPDK_KATO_MS);
  return { admin, cntlid: c.cqes[0].dw0 & 0xffff };
}

/** An I/O queue's Connect as SPDK sends it (CID 0, KATO too), on a new connection. */
async function ioQueue(r: SpdkRig, qid: number, cntlid: number): Promise<{ q: HostConn; status: number }> {
  const q = r.open();
  const a = await exchange(q, spdkConnect(qid, cntlid, SPDK_IO_SQSIZE, HOSTID));
  return { q, status: a.cqes[0].status };
}

const read4k = (cid: number, slba: number) => capsulePdu(buildSqe({ opc: IoOpc.Read, cid, nsid: 1, sglLen: 4096, cdw10: slba }));

async function readOk(q: HostConn, cid: number, slba: number): Promise<void> {
  const a = await exchange(q, read4k(cid, slba));
  assert.deepEqual({ data: a.data, status: a.cqes.map((c) => c.status) }, { data: [{ cid, datal: 4096 }], status: [0] });
}

test('(d) spdk_nvme_ctrlr_reset: AERs dropped by the host, the admin socket closed (the target closes the I/O queues), a new admin Connect with cntlid 0xFFFF and the same host, a full init, the I/O queues connected again to the new cntlid', async () => {
  const r = spdkRig();
  const { admin, cntlid } = await attach(r);
  const ios = [await ioQueue(r, 1, cntlid), await ioQueue(r, 2, cntlid)];
  for (const [i, { q, status }] of ios.entries()) {
    assert.equal(status, 0);
    await readOk(q, 0, i);
  }
  // nvme_ctrlr_disconnect: nvme_transport_admin_qpair_abort_aers completes the AERs inside the host (nothing
  // is sent), then the admin qpair's socket closes. The controller goes with it, and so do its I/O queues.
  admin.conn.wireClosed();
  assert.deepEqual(r.removed, [`${cntlid}: connection closed by host`]);
  for (const { q } of ios) {
    assert.equal(q.conn.isClosed, true);
    assert.equal(q.wire.ended, true, 'the I/O connection is ended');
    assert.ok(!parse(q.wire.take()).types.includes(PduType.C2HTermReq), 'without a TermReq');
  }
  // nvme_fabric_qpair_connect: the admin queue always asks for 0xFFFF; SPDK takes the cntlid the Connect returns
  // (nvme_ctrlr.c trusts it over Identify's) and puts it in its I/O queues' Connects.
  const again = await attach(r);
  assert.notEqual(again.cntlid, cntlid, 'a new controller');
  assert.equal(r.target.findController(r.sub, cntlid), undefined);
  const stale = await ioQueue(r, 1, cntlid);
  assert.equal(stale.status, Status.ConnectInvalidParameters, 'the old cntlid is gone');
  for (const qid of [1, 2]) {
    const { q, status } = await ioQueue(r, qid, again.cntlid);
    assert.equal(status, 0, `I/O queue ${qid} on the new controller`);
    await readOk(q, 0, qid);
  }
  assert.equal(r.target.findController(r.sub, again.cntlid)!.ioQueues.size, 2);
  assert.deepEqual(r.protocolErrors, []);
});

test('(e) four I/O queues (spdk_nvme_perf -P 4): Connects answered in any order, closed in any order, a freed qid taken again, I/O on the others all along', async () => {
  const r = spdkRig();
  const { admin, cntlid } = await attach(r);
  const ctrl = r.target.findController(r.sub, cntlid)!;
  // Each qpair connects on its own poll group, so the Connects may arrive in any order.
  const conns = new Map<number, HostConn>();
  for (const qid of [4, 2, 1, 3]) {
    const { q, status } = await ioQueue(r, qid, cntlid);
    assert.equal(status, 0, `qid ${qid}`);
    conns.set(qid, q);
  }
  assert.deepEqual([...ctrl.ioQueues.keys()].sort(), [1, 2, 3, 4]);
  const inUse = await ioQueue(r, 2, cntlid);
  assert.equal(inUse.status, Status.ConnectInvalidParameters, 'a connected qid is refused');
  for (const [qid, q] of conns) await readOk(q, 1, qid);
  // spdk_nvme_ctrlr_free_io_qpair closes the socket (no Fabrics Disconnect); the others go on.
  const closeAndCheck = async (qid: number) => {
    conns.get(qid)!.conn.wireClosed();
    conns.delete(qid);
    assert.equal(ctrl.ioQueues.has(qid), false);
    for (const [other, q] of conns) await readOk(q, 2, other);
  };
  await closeAndCheck(3);
  await closeAndCheck(1);
  // SPDK hands out the lowest free qid again.
  const back = await ioQueue(r, 1, cntlid);
  assert.equal(back.status, 0);
  conns.set(1, back.q);
  await readOk(back.q, 3, 100);
  for (const qid of [4, 1, 2]) await closeAndCheck(qid);
  assert.equal(ctrl.ioQueues.size, 0);
  assert.equal((await command(admin, keepAlive(4))).status, 0, 'the controller is untouched');
  assert.equal(admin.conn.isClosed, false);
  assert.deepEqual(r.protocolErrors, []);
});

test('(f) Keep Alive every KATO/2 (SPDK: Get Features KATO, then every 5 s of the default 10 s) keeps the controller for a minute; silence ends it after KATO, without a TermReq', async (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  t.after(() => mock.timers.reset());
  const r = spdkRig();
  const { admin, cntlid } = await attach(r);
  // nvme_ctrlr_set_keep_alive_timeout_done: interval = KATO from Get Features / 2, the first one at once.
  const interval = SPDK_KATO_MS / 2;
  assert.equal((await command(admin, keepAlive(4))).status, 0);
  for (let sent = 0; sent < 12; sent++) {
    mock.timers.tick(interval);
    assert.equal((await command(admin, keepAlive(4))).status, 0, `Keep Alive ${sent + 1}`);
  }
  assert.ok(r.target.findController(r.sub, cntlid), 'alive after 60 s of Keep Alive only');
  mock.timers.tick(SPDK_KATO_MS - 1);
  assert.equal(admin.conn.isClosed, false, 'not before KATO');
  mock.timers.tick(2);
  assert.equal(admin.conn.isClosed, true);
  assert.match(r.removed[0], new RegExp(`^${cntlid}: keep-alive timeout`));
  assert.ok(!parse(admin.wire.take()).types.includes(PduType.C2HTermReq));
  assert.deepEqual(r.protocolErrors, []);
});

test('(g) Abort (spdk_nvme_ctrlr_cmd_abort): "not aborted" (CDW0 bit 0 = 1, as Linux nvmet answers), and the command still completes exactly once', async () => {
  const r = spdkRig();
  const { admin, cntlid } = await attach(r);
  const { q } = await ioQueue(r, 1, cntlid);
  // A 16 KiB write waiting for its data (R2T out): outstanding at the target until the H2CData comes.
  q.conn.feed(capsulePdu(buildSqe({ opc: IoOpc.Write, cid: 7, nsid: 1, sglId: SglId.Transport, sglLen: 16384, cdw10: 10, cdw12: 3 })));
  await new Promise((res) => setImmediate(res));
  const [r2t] = q.wire.take();
  assert.equal(r2t[0], PduType.R2T);
  const ab = await command(admin, abort(4, 1, 7));
  assert.deepEqual({ status: ab.status, notAborted: ab.dw0 & 1 }, { status: 0, notAborted: 1 });
  const done = await exchange(q, h2cDataPdu(7, readR2T(r2t).ttag, 0, Buffer.alloc(16384, 0xa5), true));
  assert.deepEqual(done.cqes.map((c) => ({ cid: c.cid, status: c.status })), [{ cid: 7, status: 0 }], 'the write completes once, successfully');
  await readOk(q, 8, 10);

  // An outstanding AER: not aborted either; it completes once, when an event comes.
  const ctrl = r.target.findController(r.sub, cntlid)!;
  const abAer = await command(admin, abort(4, 0, 0));
  assert.deepEqual({ status: abAer.status, notAborted: abAer.dw0 & 1 }, { status: 0, notAborted: 1 });
  assert.deepEqual(ctrl.pendingAers.map((x) => x.cid), [0, 1, 2, 3]);
  ctrl.raiseAsyncEvent(0x00010002);
  const ev = parse(admin.wire.take());
  assert.deepEqual(ev.cqes.map((c) => ({ cid: c.cid, dw0: c.dw0 })), [{ cid: 0, dw0: 0x00010002 }]);
  // A command not outstanding (nothing to abort).
  const none = await command(admin, abort(4, 1, 99));
  assert.deepEqual({ status: none.status, notAborted: none.dw0 & 1 }, { status: 0, notAborted: 1 });
  assert.deepEqual(parse(admin.wire.take()).cqes, [], 'nothing else completed');
  assert.deepEqual(r.protocolErrors, []);
});
