// Get Log Page (log-pages.ts) called directly, driven by the Linux host's own Get Log Page capsules
// (target/protocol/testdata) where they fit, hand-built SQEs otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSqe } from '../protocol/sqe.js';
import { AdminOpc, DISCOVERY_NQN, IoOpc } from '../protocol/opcodes.js';
import { Status } from '../protocol/status.js';
import { Subsystem } from '../subsystem/subsystem.js';
import { Controller } from './controller.js';
import { Qpair } from './qpair.js';
import { executeGetLogPage, type LogSources } from './log-pages.js';
import { FakeTransport, cqeAsLinux, cqeHex, linuxCommand, request, rig, type Rig } from './test-support/harness.js';

function sources(r: Rig, over: Partial<LogSources> = {}): LogSources {
  return { smart: r.sub.smart, discoveryLog: () => Buffer.alloc(0), takeChangedNamespaces: () => [], ...over };
}

function getLog(r: Rig, sqe: Buffer, src = sources(r), ctrl = r.ctrl) {
  const { req, done } = request(sqe, ctrl.admin ?? r.admin);
  executeGetLogPage(req, ctrl, src);
  return done;
}

/** Get Log Page of `lid`, `bytes` long (a multiple of 4), at `lpo`, with RAE if asked. */
function logSqe(lid: number, bytes: number, lpo = 0, rae = false, cid = 0x31): Buffer {
  const numd = bytes / 4 - 1;
  return buildSqe({ opc: AdminOpc.GetLogPage, cid, nsid: 0xffffffff, sglLen: bytes, cdw10: lid | (rae ? 1 << 15 : 0) | ((numd & 0xffff) << 16), cdw11: numd >>> 16, cdw12: lpo });
}

/** The non-zero dwords of a buffer, by byte offset. */
function dwords(b: Buffer): Record<number, number> {
  const out: Record<number, number> = {};
  for (let at = 0; at < b.length; at += 4) if (b.readUInt32LE(at) !== 0) out[at] = b.readUInt32LE(at);
  return out;
}

test("Commands Supported and Effects (the Linux host's read): every opcode this target executes, LBCC for those changing data", async () => {
  const r = rig();
  const v = linuxCommand(1, 10);
  const c = await getLog(r, v.sqe);
  assert.equal(cqeAsLinux(v, c), v.cqe.toString('hex'));
  const CSUPP = 1;
  const LBCC = 3;
  const io = (opc: number) => 1024 + opc * 4;
  assert.deepEqual(dwords(c.data!), {
    [AdminOpc.GetLogPage * 4]: CSUPP, [AdminOpc.Identify * 4]: CSUPP, [AdminOpc.Abort * 4]: CSUPP, [AdminOpc.SetFeatures * 4]: CSUPP,
    [AdminOpc.GetFeatures * 4]: CSUPP, [AdminOpc.AsyncEventRequest * 4]: CSUPP, [AdminOpc.KeepAlive * 4]: CSUPP,
    [io(IoOpc.Flush)]: CSUPP, [io(IoOpc.Read)]: CSUPP, [io(IoOpc.Write)]: LBCC, [io(IoOpc.WriteZeroes)]: LBCC, [io(IoOpc.DatasetManagement)]: LBCC,
    [io(IoOpc.ReservationRegister)]: CSUPP, [io(IoOpc.ReservationReport)]: CSUPP, [io(IoOpc.ReservationAcquire)]: CSUPP, [io(IoOpc.ReservationRelease)]: CSUPP,
  });
  // From an offset: the same bytes, shifted (LPO 1024: the I/O half).
  const tail = await getLog(r, logSqe(0x05, 2048, 1024));
  assert.deepEqual(tail.data, c.data!.subarray(1024, 3072));
});

test("SMART / Health (the Linux host's read): temperature, spare, the subsystem's counters", async () => {
  const r = rig();
  Object.assign(r.sub.smart, { unitsRead: 1500, unitsWritten: 999, hostReads: 7, hostWrites: 5, powerCycles: 2, unsafeShutdowns: 1, mediaErrors: 3 });
  const v = linuxCommand(1, 12);
  const c = await getLog(r, v.sqe);
  assert.equal(cqeAsLinux(v, c), v.cqe.toString('hex'));
  const b = c.data!;
  assert.equal(b.length, 512);
  assert.equal(b.subarray(0, 6).toString('hex'), '00' + '4101' + '64' + '0a' + '00', 'no warning, 321 K, 100% spare, threshold 10%, 0% used');
  // Data units (thousands of 512-byte units, rounded up), commands, power cycles, unsafe shutdowns, media errors.
  assert.deepEqual([32, 48, 64, 80, 112, 144, 160].map((at) => b.readBigUInt64LE(at)), [2n, 1n, 7n, 5n, 2n, 1n, 3n]);
});

test('the ANA log the Linux host asks for is Invalid Log Page: this target reports no ANA', async () => {
  const r = rig();
  const v = linuxCommand(1, 11);
  assert.equal(v.cqe.readUInt16LE(14), 0, 'nvmet has it');
  const c = await getLog(r, v.sqe);
  assert.equal(c.status, Status.InvalidLogPage);
  assert.equal(cqeHex(c, 0, 0).slice(-4), '1282');
});

test("the discovery log (the Linux host's two reads: 1 KiB, then the whole) comes from the discovery source, for the address the host reached", async () => {
  const sub = new Subsystem('discovery', DISCOVERY_NQN, 's', 'm', [], undefined);
  const ctrl = new Controller(1, sub, 'nqn.2014-08.org.nvmexpress:uuid:bfaf2044-43cc-46bd-9b5e-413f98947054', Buffer.alloc(16), 0, { removed: () => {}, backendError: () => {} });
  ctrl.admin = new Qpair(ctrl, 0, 31, new FakeTransport('10.0.2.15'), true);
  const log = Buffer.alloc(3072);
  log.writeBigUInt64LE(2n, 0);
  log.writeBigUInt64LE(2n, 8);
  log[1024] = 3;
  log[2048] = 3;
  const asked: string[] = [];
  const r = rig();
  const src = sources(r, { discoveryLog: (c, addr) => { asked.push(`${c.hostnqn} ${addr}`); return log; } });
  for (const [index, length] of [[13, 1024], [14, 3072]]) {
    const v = linuxCommand(0, index);
    const c = await getLog(r, v.sqe, src, ctrl);
    assert.equal(cqeAsLinux(v, c), v.cqe.toString('hex'));
    assert.deepEqual(c.data, log.subarray(0, length));
  }
  assert.deepEqual(asked, Array(2).fill(`${ctrl.hostnqn} 10.0.2.15`));
  // A discovery controller has no other log.
  assert.equal((await getLog(r, logSqe(0x02, 512), src, ctrl)).status, Status.InvalidLogPage);
});

test('Error Information: the newest entry first, status in bits 15:1, parameter location not given', async () => {
  const r = rig();
  r.ctrl.recordError(1, 0x10, Status.LbaOutOfRange, 1);
  r.ctrl.recordError(2, 0x20, Status.UnrecoveredReadError, 3);
  const c = await getLog(r, logSqe(0x01, 128));
  assert.equal(c.data!.toString('hex'),
    '0200000000000000' + '0200' + '2000' + '0205' + 'ffff' + '00'.repeat(8) + '03000000' + '00'.repeat(36)
    + '0100000000000000' + '0100' + '1000' + '0081' + 'ffff' + '00'.repeat(8) + '01000000' + '00'.repeat(36));
});

test('Changed Namespace List: the nsids the source gives, FFFFFFFFh when more than 1024; RAE passed on', async () => {
  const r = rig();
  const retained: boolean[] = [];
  let list = [1, 3];
  const src = sources(r, { takeChangedNamespaces: (_c, retain) => { retained.push(retain); return list; } });
  assert.equal((await getLog(r, logSqe(0x04, 16), src)).data!.toString('hex'), '01000000' + '03000000' + '00'.repeat(8));
  list = Array.from({ length: 1025 }, (_, i) => i + 1);
  assert.equal((await getLog(r, logSqe(0x04, 8, 0, true), src)).data!.toString('hex'), 'ffffffff' + '00000000');
  assert.deepEqual(retained, [false, true]);
});

test('Get Log Page refusals: length, offset and log identifier', async () => {
  const r = rig();
  const wrongLength = logSqe(0x02, 512);
  wrongLength.writeUInt32LE(256, 32); // the SGL says 256 bytes, NUMD 512
  // [what, SQE, status field of the CQE]
  const cases: Array<[string, Buffer, string]> = [
    ['NUMD is not the SGL length', wrongLength, '1e80'],
    ['LPO not a multiple of 4', logSqe(0x02, 4, 2), '0480'],
    ['LPO past the end of the log', logSqe(0x02, 4, 516), '0480'],
    ['log 06h (device self-test) is not kept', logSqe(0x06, 4), '1282'],
    ['log 0Ch (ANA)', logSqe(0x0c, 4), '1282'],
    ['vendor log C0h', logSqe(0xc0, 4), '1282'],
  ];
  for (const [what, sqe, status] of cases) {
    const c = await getLog(r, sqe);
    assert.equal(cqeHex(c, 0, 0), '00000000' + '00000000' + '0000' + '0000' + '3100' + status, what);
  }
  // The last bytes of a log, and past it up to the length asked: zeroes.
  const c = await getLog(r, logSqe(0x02, 8, 508));
  assert.deepEqual([c.status, c.data!.length], [0, 8]);
});
