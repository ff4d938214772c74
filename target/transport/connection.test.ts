// Handler tests: a Connection over an in-memory wire, driven PDU by PDU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Connection } from './connection.js';
import { MemWire } from './test-support/mem-wire.js';
import { Target } from '../controller/target.js';
import { Subsystem } from '../subsystem/subsystem.js';
import { Namespace } from '../subsystem/namespace.js';
import { MemoryBackend } from '../subsystem/backends/memory.js';
import { deriveNamespaceIds } from '../subsystem/identity.js';
import { encodeICReq, writeCommonHeader, PduType, HLEN, PduFlag, writeDataHeader, decodeICResp, TermFes } from '../protocol/pdu.js';
import { buildSqe, SglId } from '../protocol/sqe.js';
import { readCqe } from '../protocol/cqe.js';
import { encodeConnectData } from '../protocol/connect.js';
import { AdminOpc, IoOpc, FabricsType, Cns } from '../protocol/opcodes.js';
import { Status } from '../protocol/status.js';
import { StateFileRecorder } from './state-recorder.js';
import { capsulePdu, connectSqe as hostConnectSqe } from './test-support/host-pdus.js';
import { IoStage, type IoRecords } from '../controller/io-records.js';

const NQN = 'nqn.2026-01.io.example:conn';
const HOST = 'nqn.2026-01.io.example:host';

function setup(hosts?: string[], records?: LoggingRecords) {
  const sub = new Subsystem('nvm', NQN, 'SERIAL', 'MODEL', [{ address: '127.0.0.1', port: 4420 }], hosts ? new Set(hosts) : undefined);
  sub.addNamespace(new Namespace(1, 512, deriveNamespaceIds(NQN, 1), new MemoryBackend(1 << 20)));
  const target = new Target([sub], records ? { records: new Map([[sub, records]]) } : undefined);
  return { target, sub };
}

function open(target: Target, digests = false) {
  const wire = new MemWire();
  const conn = new Connection(wire, target, { recorder: new StateFileRecorder(target) });
  conn.feed(encodeICReq({ pfv: 0, hpda: 0, hdgst: digests, ddgst: digests, maxr2t: 0 }));
  const [icresp] = wire.take();
  return { wire, conn, icresp };
}

function capsule(sqe: Buffer, data?: Buffer, digests = false): Buffer {
  return capsulePdu(sqe, data, digests ? { hdgst: true, ddgst: true } : {});
}

function connectSqe(cid: number, qid: number, kato = 0): Buffer {
  assert.equal(cid, qid);
  return hostConnectSqe(qid, { kato });
}

function connect(c: { wire: MemWire; conn: Connection }, qid: number, cntlid: number, subnqn = NQN, hostnqn = HOST) {
  c.conn.feed(capsule(connectSqe(qid, qid), encodeConnectData({ hostid: Buffer.alloc(16, 7), cntlid, subnqn, hostnqn })));
  return readCqe(c.wire.take()[0], 8);
}

function enable(c: { wire: MemWire; conn: Connection }) {
  const set = buildSqe({ opc: AdminOpc.Fabrics, cid: 2, fctype: FabricsType.PropertySet, cdw11: 0x14 });
  set.writeUInt32LE(1 | (6 << 16) | (4 << 20), 48);
  c.conn.feed(capsule(set));
  assert.equal(readCqe(c.wire.take()[0], 8).status, 0);
}

test('ICReq gets an ICResp with MAXH2CDATA and the requested digests', () => {
  const { target } = setup();
  const { icresp } = open(target, true);
  const r = decodeICResp(icresp);
  assert.equal(icresp[0], PduType.ICResp);
  assert.equal(r.pfv, 0);
  assert.equal(r.cpda, 0);
  assert.ok(r.maxh2cdata >= 4096 && r.maxh2cdata % 4 === 0);
  assert.equal(r.hdgst, true);
  assert.equal(r.ddgst, true);
});

test('admin Connect, enable, Identify; I/O Connect, in-capsule write, R2T write and read back', async () => {
  const { target } = setup();
  const admin = open(target);
  const cqe = connect(admin, 0, 0xffff);
  assert.equal(cqe.status, 0);
  const cntlid = cqe.dw0 & 0xffff;
  assert.ok(cntlid >= 1);
  assert.equal(cqe.sqhd, 1);
  enable(admin);
  admin.conn.feed(capsule(buildSqe({ opc: AdminOpc.Identify, cid: 3, cdw10: Cns.Controller, sglLen: 4096 })));
  const [data, resp] = admin.wire.take();
  assert.equal(data[0], PduType.C2HData);
  assert.equal(data.readUInt32LE(16), 4096);
  assert.equal(data.readUInt16LE(24 + 78), cntlid, 'Identify CNTLID equals the Connect cntlid');
  assert.equal(readCqe(resp, 8).status, 0);

  const io = open(target);
  assert.equal(connect(io, 1, cntlid).status, 0);
  const pattern = Buffer.alloc(4096, 0xab);
  io.conn.feed(capsule(buildSqe({ opc: IoOpc.Write, cid: 10, nsid: 1, sglId: SglId.InCapsule, sglLen: 4096, cdw10: 8, cdw12: 7 }), pattern));
  await new Promise((r) => setImmediate(r));
  assert.equal(readCqe(io.wire.take()[0], 8).status, 0);

  // 64 KiB: beyond in-capsule size, so R2T; the host sends it as two H2CData PDUs.
  const big = Buffer.alloc(65536);
  for (let i = 0; i < big.length; i++) big[i] = i * 7;
  io.conn.feed(capsule(buildSqe({ opc: IoOpc.Write, cid: 11, nsid: 1, sglLen: big.length, cdw10: 100, cdw12: 127 })));
  const [r2t] = io.wire.take();
  assert.equal(r2t[0], PduType.R2T);
  const ttag = r2t.readUInt16LE(10);
  assert.equal(r2t.readUInt32LE(16), big.length);
  for (const [off, len, last] of [[0, 32768, false], [32768, 32768, true]] as const) {
    const pdu = Buffer.alloc(24 + len);
    writeDataHeader(pdu, PduType.H2CData, last ? PduFlag.DATA_LAST : 0, 24, 24 + len, 11, ttag, off, len);
    big.copy(pdu, 24, off, off + len);
    io.conn.feed(pdu);
  }
  await new Promise((r) => setImmediate(r));
  assert.equal(readCqe(io.wire.take()[0], 8).status, 0);

  io.conn.feed(capsule(buildSqe({ opc: IoOpc.Read, cid: 12, nsid: 1, sglLen: big.length, cdw10: 100, cdw12: 127 })));
  await new Promise((r) => setImmediate(r));
  const [rd, rresp] = io.wire.take();
  assert.equal(rd[0], PduType.C2HData);
  assert.equal(rd[1] & PduFlag.DATA_SUCCESS, 0, 'SUCCESS only when SQ flow control is disabled');
  assert.deepEqual(rd.subarray(24), big);
  assert.equal(readCqe(rresp, 8).status, 0);

  io.conn.feed(capsule(buildSqe({ opc: IoOpc.Read, cid: 13, nsid: 1, sglLen: 4096, cdw10: 8, cdw12: 7 })));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(io.wire.take()[0].subarray(24), pattern);
});

test('invalid commands get the right NVMe status', async () => {
  const { target } = setup();
  const admin = open(target);
  const cntlid = connect(admin, 0, 0xffff).dw0;
  // Before CC.EN: Command Sequence Error.
  admin.conn.feed(capsule(buildSqe({ opc: AdminOpc.Identify, cid: 3, cdw10: Cns.Controller, sglLen: 4096 })));
  assert.equal(readCqe(admin.wire.take()[0], 8).status, Status.CommandSequenceError);
  enable(admin);
  const cases: Array<[Buffer, number]> = [
    [buildSqe({ opc: 0x55, cid: 4 }), Status.InvalidOpcode],
    [buildSqe({ opc: AdminOpc.Identify, cid: 5, cdw10: 0x13, sglLen: 4096 }), Status.InvalidField],
    [buildSqe({ opc: AdminOpc.Identify, cid: 6, cdw10: Cns.NsDescriptorList, nsid: 9, sglLen: 4096 }), Status.InvalidNamespace],
    [buildSqe({ opc: AdminOpc.GetLogPage, cid: 7, cdw10: 0x0c | (1023 << 16), sglLen: 4096 }), Status.InvalidLogPage],
    [buildSqe({ opc: AdminOpc.SetFeatures, cid: 8, cdw10: 0x81 }), Status.CommandSequenceError],
    [buildSqe({ opc: AdminOpc.SetFeatures, cid: 9, cdw10: 0x06 | 0x8000_0000, cdw11: 1 }), Status.FeatureNotSaveable],
  ];
  for (const [sqe, status] of cases) {
    admin.conn.feed(capsule(sqe));
    assert.equal(readCqe(admin.wire.take()[0], 8).status, status, `opcode ${sqe[0]}`);
  }
  const io = open(target);
  assert.equal(connect(io, 1, cntlid).status, 0);
  const ioCases: Array<[Buffer, number]> = [
    [buildSqe({ opc: IoOpc.Read, cid: 1, nsid: 1, sglLen: 512, cdw10: 2048, cdw12: 0 }), Status.LbaOutOfRange],
    [buildSqe({ opc: IoOpc.Read, cid: 2, nsid: 2, sglLen: 512, cdw10: 0, cdw12: 0 }), Status.InvalidNamespace],
    [buildSqe({ opc: IoOpc.Read, cid: 3, nsid: 1, sglLen: 1024, cdw10: 0, cdw12: 0 }), Status.SglDataLengthInvalid],
    [buildSqe({ opc: 0x7e, cid: 4, nsid: 1 }), Status.InvalidOpcode],
  ];
  for (const [sqe, status] of ioCases) {
    io.conn.feed(capsule(sqe));
    await new Promise((r) => setImmediate(r));
    assert.equal(readCqe(io.wire.take()[0], 8).status, status);
  }
});

test('Connect refuses unknown subsystems, disallowed hosts and unknown controllers', () => {
  const { target } = setup([HOST]);
  assert.equal(connect(open(target), 0, 0xffff, 'nqn.2026-01.io.example:none').status, Status.ConnectInvalidParameters);
  assert.equal(connect(open(target), 0, 0xffff, NQN, 'nqn.2026-01.io.example:intruder').status, Status.ConnectInvalidHost);
  assert.equal(connect(open(target), 1, 77).status, Status.ConnectInvalidParameters);
  assert.equal(connect(open(target), 0, 0xffff).status, 0);
});

function termOf(pdus: Buffer[]) {
  const t = pdus.find((p) => p[0] === PduType.C2HTermReq);
  return t ? { fes: t.readUInt16LE(8), fei: t.readUInt32LE(10) } : undefined;
}

test('malformed PDUs get a C2HTermReq naming the field, then the connection closes', () => {
  const { target } = setup();
  const cases: Array<[string, (c: ReturnType<typeof open>) => void, number, number]> = [
    ['a controller-to-host PDU type', (c) => { const b = Buffer.alloc(24); writeCommonHeader(b, PduType.CapsuleResp, 0, 24, 0, 24); c.conn.feed(b); }, TermFes.InvalidHeaderField, 0],
    ['an unknown PDU type', (c) => { const b = Buffer.alloc(24); writeCommonHeader(b, 0x42, 0, 24, 0, 24); c.conn.feed(b); }, TermFes.InvalidHeaderField, 0],
    ['a wrong HLEN', (c) => { const b = Buffer.alloc(80); writeCommonHeader(b, PduType.CapsuleCmd, 0, 80, 0, 80); c.conn.feed(b); }, TermFes.InvalidHeaderField, 2],
    ['a PLEN shorter than the header', (c) => { const b = Buffer.alloc(72); writeCommonHeader(b, PduType.CapsuleCmd, 0, 72, 0, 40); c.conn.feed(b); }, TermFes.InvalidHeaderField, 4],
    ['H2CData for an unknown tag', (c) => { const b = Buffer.alloc(24 + 16); writeDataHeader(b, PduType.H2CData, PduFlag.DATA_LAST, 24, 40, 1, 99, 0, 16); c.conn.feed(b); }, TermFes.InvalidHeaderField, 10],
    ['a second ICReq', (c) => { c.conn.feed(encodeICReq({ pfv: 0, hpda: 0, hdgst: false, ddgst: false, maxr2t: 0 })); }, TermFes.PduSequenceError, 0],
  ];
  for (const [name, send, fes, fei] of cases) {
    const c = open(target);
    send(c);
    assert.deepEqual(termOf(c.wire.take()), { fes, fei }, name);
    assert.ok(c.wire.ended, `${name}: connection closed`);
  }
  // Before ICReq: a capsule is a PDU sequence error.
  const w = new MemWire();
  const conn = new Connection(w, target);
  conn.feed(capsule(connectSqe(0, 0), Buffer.alloc(1024)));
  assert.deepEqual(termOf(w.take()), { fes: TermFes.PduSequenceError, fei: 0 });
});

test('header digest errors get FES 3; an H2CTermReq closes without a C2HTermReq', () => {
  const { target } = setup();
  const c = open(target, true);
  const pdu = capsule(connectSqe(0, 0), encodeConnectData({ hostid: Buffer.alloc(16), cntlid: 0xffff, subnqn: NQN, hostnqn: HOST }), true);
  pdu[72] ^= 0xff; // corrupt the header digest
  c.conn.feed(pdu);
  assert.equal(termOf(c.wire.take())?.fes, TermFes.HeaderDigestError);

  const d = open(target);
  const t = Buffer.alloc(24);
  writeCommonHeader(t, PduType.H2CTermReq, 0, 24, 0, 24);
  d.conn.feed(t);
  assert.equal(termOf(d.wire.take()), undefined);
  assert.ok(d.wire.ended);
});

test('a data digest error completes the command with Transient Transport Error and keeps the connection', () => {
  const { target } = setup();
  const c = open(target, true);
  const pdu = capsule(connectSqe(0, 0), encodeConnectData({ hostid: Buffer.alloc(16), cntlid: 0xffff, subnqn: NQN, hostnqn: HOST }), true);
  pdu[pdu.length - 1] ^= 0xff;
  c.conn.feed(pdu);
  const [resp] = c.wire.take();
  assert.equal(readCqe(resp, 8).status, Status.TransientTransportError);
  assert.equal(c.wire.ended, false);
});

test('keep-alive: a controller with no command for KATO ms fails and its connections close without a TermReq', async () => {
  const { target } = setup();
  const admin = open(target);
  admin.conn.feed(capsule(connectSqe(0, 0, 150), encodeConnectData({ hostid: Buffer.alloc(16, 1), cntlid: 0xffff, subnqn: NQN, hostnqn: HOST })));
  const cntlid = readCqe(admin.wire.take()[0], 8).dw0;
  enable(admin);
  const io = open(target);
  assert.equal(connect(io, 1, cntlid).status, 0);
  // Traffic keeps it alive past one KATO...
  for (let i = 0; i < 4; i++) {
    await new Promise((r) => setTimeout(r, 60));
    admin.conn.feed(capsule(buildSqe({ opc: AdminOpc.KeepAlive, cid: 20 + i })));
    assert.equal(readCqe(admin.wire.take()[0], 8).status, 0);
  }
  assert.equal(admin.wire.ended, false);
  // ...silence ends it.
  await new Promise((r) => setTimeout(r, 400));
  assert.ok(admin.wire.ended, 'admin connection closed');
  assert.ok(io.wire.ended, 'I/O connection closed');
  assert.equal(termOf(admin.wire.take()), undefined);
  assert.equal(target.findController(target.findSubsystem(NQN)!, cntlid), undefined);
});

test('with SQ flow control disabled, a successful read is one C2HData with SUCCESS and no CapsuleResp', async () => {
  const { target } = setup();
  const admin = open(target);
  const cntlid = connect(admin, 0, 0xffff).dw0;
  enable(admin);
  const io = open(target);
  const sqe = connectSqe(1, 1);
  sqe[46] = 0x04; // CATTR: disable SQ flow control
  io.conn.feed(capsule(sqe, encodeConnectData({ hostid: Buffer.alloc(16, 7), cntlid, subnqn: NQN, hostnqn: HOST })));
  assert.equal(readCqe(io.wire.take()[0], 8).status, 0);
  io.conn.feed(capsule(buildSqe({ opc: IoOpc.Read, cid: 5, nsid: 1, sglLen: 512, cdw10: 0, cdw12: 0 })));
  await new Promise((r) => setImmediate(r));
  const pdus = io.wire.take();
  assert.equal(pdus.length, 1);
  assert.equal(pdus[0][0], PduType.C2HData);
  assert.equal(pdus[0][1] & (PduFlag.DATA_SUCCESS | PduFlag.DATA_LAST), PduFlag.DATA_SUCCESS | PduFlag.DATA_LAST);
  // A failed read still gets a CapsuleResp.
  io.conn.feed(capsule(buildSqe({ opc: IoOpc.Read, cid: 6, nsid: 1, sglLen: 512, cdw10: 4096, cdw12: 0 })));
  await new Promise((r) => setImmediate(r));
  assert.equal(readCqe(io.wire.take()[0], 8).status, Status.LbaOutOfRange);
});

test('SQHD advances per capsule and wraps at the queue size', async () => {
  const { target } = setup();
  const admin = open(target);
  connect(admin, 0, 0xffff); // sqsize 31: 32 entries
  enable(admin); // sqhd 2
  let last = 0;
  for (let i = 0; i < 40; i++) {
    admin.conn.feed(capsule(buildSqe({ opc: AdminOpc.KeepAlive, cid: 100 + i })));
    last = readCqe(admin.wire.take()[0], 8).sqhd;
    assert.equal(last, (3 + i) % 32);
  }
});

/** An IoRecords that logs each call: what the state file would be asked to store. */
class LoggingRecords implements IoRecords {
  log: string[] = [];
  private next = 0;
  allocateQpair(): number { return 0; }
  writeQpair(): void {}
  sqhds: number[] = [];
  storeSqhd(_slot: number, sqhd: number): void { this.log.push('sqhd'); this.sqhds.push(sqhd); }
  freeQpair(): void {}
  begin(_q: number, _cid: number, _opc: number, _nsid: number, _cdw10: number, _cdw11: number, _cdw12: number, stage: number): number {
    this.log.push(`begin ${stage}`);
    return this.next++;
  }
  stage(_h: number, stage: number): void { this.log.push(`stage ${stage}`); }
  end(): void { this.log.push('end'); }
}

/** A target whose subsystem's state-file stores are logged, with an enabled admin queue connected. */
function recordedTarget() {
  const records = new LoggingRecords();
  const { target, sub } = setup(undefined, records);
  const admin = open(target);
  const cntlid = connect(admin, 0, 0xffff).dw0 & 0xffff;
  enable(admin);
  return { sub, records, target, admin, cntlid };
}

test('state-file stores per I/O: a read or an in-capsule write begins at executing; an R2T write at data-in; a rejected command has no record; the SQ head once per chunk fed', async () => {
  const { sub, records, target, admin, cntlid } = recordedTarget();
  const io = open(target);
  assert.equal(connect(io, 1, cntlid).status, 0);
  const { executing, dataIn } = IoStage;
  const run = async (pdu: Buffer): Promise<string[]> => {
    records.log = [];
    io.conn.feed(pdu);
    await new Promise((r) => setImmediate(r));
    return records.log;
  };
  // A memory namespace completes at once, inside the chunk; the SQ head is stored as the chunk ends.
  assert.deepEqual(await run(capsule(buildSqe({ opc: IoOpc.Read, cid: 20, nsid: 1, sglLen: 4096, cdw10: 0, cdw12: 7 }))), [`begin ${executing}`, 'end', 'sqhd']);
  assert.deepEqual(
    await run(capsule(buildSqe({ opc: IoOpc.Write, cid: 21, nsid: 1, sglId: SglId.InCapsule, sglLen: 4096, cdw10: 8, cdw12: 7 }), Buffer.alloc(4096, 1))),
    [`begin ${executing}`, 'end', 'sqhd'],
  );
  // Two reads in one chunk: one SQ head store.
  const two = Buffer.concat([20, 21].map((cid) => capsule(buildSqe({ opc: IoOpc.Read, cid, nsid: 1, sglLen: 4096, cdw10: cid * 8, cdw12: 7 }))));
  assert.deepEqual(await run(two), [`begin ${executing}`, 'end', `begin ${executing}`, 'end', 'sqhd']);
  const big = 16384;
  assert.deepEqual(await run(capsule(buildSqe({ opc: IoOpc.Write, cid: 22, nsid: 1, sglLen: big, cdw10: 16, cdw12: 31 }))), [`begin ${dataIn}`, 'sqhd']);
  const ttag = io.wire.take().find((p) => p[0] === PduType.R2T)!.readUInt16LE(10);
  const h2c = Buffer.alloc(24 + big, 2);
  writeDataHeader(h2c, PduType.H2CData, PduFlag.DATA_LAST, 24, 24 + big, 22, ttag, 0, big);
  assert.deepEqual(await run(h2c), [`stage ${executing}`, 'end']);
  // Out of range: rejected in the step it arrived, no record at all (the SQ head still moves).
  assert.deepEqual(await run(capsule(buildSqe({ opc: IoOpc.Read, cid: 23, nsid: 1, sglLen: 4096, cdw10: 1 << 30, cdw12: 7 }))), ['sqhd']);
  const statuses = io.wire.take().filter((p) => p[0] === PduType.CapsuleResp).map((p) => readCqe(p, 8).status);
  assert.deepEqual(statuses, [0, Status.LbaOutOfRange]);
  // Each store holds the SQ head after its chunk: +1 per capsule (the H2CData chunk stored none).
  const s = records.sqhds.slice(-5);
  assert.deepEqual(s.slice(1).map((x, i) => x - s[i]), [1, 2, 1, 1]);
});

test('a new admin command with the CID of an outstanding AER retires it (never completed, its record ends) and runs; the next event goes to another AER', async () => {
  const { sub, records, target, admin, cntlid } = recordedTarget();
  records.log = [];
  // SPDK's host at detach (target/protocol/testdata/spdk-host-vs-spdk-target.jsonl): AERs 0-3 outstanding, then a
  // Property Get of CC with CID 3.
  for (let cid = 0; cid < 4; cid++) admin.conn.feed(capsule(buildSqe({ opc: AdminOpc.AsyncEventRequest, cid })));
  assert.deepEqual(admin.wire.take(), [], 'AERs wait for events');
  assert.equal(target.inflight, 4);
  const get = buildSqe({ opc: AdminOpc.Fabrics, cid: 3, fctype: FabricsType.PropertyGet });
  get.writeUInt32LE(0x14, 44);
  admin.conn.feed(capsule(get));
  const pdus = admin.wire.take();
  assert.equal(pdus.length, 1, 'one completion: the Property Get, none for the retired AER');
  const cqe = readCqe(pdus[0], 8);
  assert.deepEqual({ cid: cqe.cid, status: cqe.status, cc: cqe.dw0 & 1 }, { cid: 3, status: 0, cc: 1 });
  assert.equal(admin.conn.isClosed, false);
  assert.equal(target.inflight, 3);
  const { executing } = IoStage;
  assert.deepEqual(records.log.filter((x) => x !== 'sqhd'), [`begin ${executing}`, `begin ${executing}`, `begin ${executing}`, `begin ${executing}`, 'end', `begin ${executing}`, 'end'],
    'the retired AER\'s in-flight record ends before the Property Get\'s begins');
  const ctrl = target.findController(sub, cntlid)!;
  assert.equal(ctrl.pendingAers.length, 3);
  ctrl.raiseAsyncEvent(0x00010002);
  const ev = readCqe(admin.wire.take()[0], 8);
  assert.deepEqual({ cid: ev.cid, dw0: ev.dw0 }, { cid: 0, dw0: 0x00010002 });
  // CID 3 is free again: a fifth AER under it is outstanding like the others.
  admin.conn.feed(capsule(buildSqe({ opc: AdminOpc.AsyncEventRequest, cid: 3 })));
  assert.deepEqual(admin.wire.take(), []);
  assert.equal(ctrl.pendingAers.length, 3);
});

test('any other CID collision stays a protocol error: an admin command waiting for its data, an I/O command', async () => {
  const { target } = setup();
  const admin = open(target);
  const cntlid = connect(admin, 0, 0xffff).dw0 & 0xffff;
  enable(admin);
  const io = open(target);
  assert.equal(connect(io, 1, cntlid).status, 0);
  // Set Features with 4 KiB of host data by R2T: outstanding until its H2CData comes.
  admin.conn.feed(capsule(buildSqe({ opc: AdminOpc.SetFeatures, cid: 5, sglLen: 4096, cdw10: 0x0b })));
  assert.equal(admin.wire.take()[0][0], PduType.R2T);
  admin.conn.feed(capsule(buildSqe({ opc: AdminOpc.KeepAlive, cid: 5 })));
  assert.deepEqual(termOf(admin.wire.take()), { fes: TermFes.InvalidHeaderField, fei: 8 + 2 });
  assert.equal(admin.conn.isClosed, true);

  const { target: t2 } = setup();
  const a2 = open(t2);
  const c2 = connect(a2, 0, 0xffff).dw0 & 0xffff;
  enable(a2);
  const io2 = open(t2);
  assert.equal(connect(io2, 1, c2).status, 0);
  io2.conn.feed(capsule(buildSqe({ opc: IoOpc.Write, cid: 7, nsid: 1, sglLen: 16384, cdw10: 0, cdw12: 31 })));
  assert.equal(io2.wire.take()[0][0], PduType.R2T);
  io2.conn.feed(capsule(buildSqe({ opc: IoOpc.Read, cid: 7, nsid: 1, sglLen: 4096, cdw10: 0, cdw12: 7 })));
  assert.deepEqual(termOf(io2.wire.take()), { fes: TermFes.InvalidHeaderField, fei: 8 + 2 });
  assert.equal(io2.conn.isClosed, true);
  assert.equal(a2.conn.isClosed, false, 'an I/O queue\'s error does not end the controller');
});
