// Reservations through the wire with several host identities (the TypeScript host library against the
// target run in this process, so a test can name the node's boot id): registration, every reservation
// type's conflicts on every I/O command, preempt, preempt and abort, release, clear, Report with the
// extended data structure, notifications (log page 80h, the asynchronous event, feature 82h's mask),
// feature 83h, Identify, and what a restart and a node reboot keep. The Linux host's view of the same is
// test/e2e/reservations.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostController, NvmeStatusError, asyncEventRequestSqe, dsmCommand, flushSqe, setFeaturesSqe, resvAcquireCommand, resvRegisterCommand, resvReleaseCommand, resvReportSqe, rwSqe, type Completion } from './index.js';
import { freePort } from './target-process.js';
import { runTarget, type RunningTarget } from '../../target/runtime/run.js';
import { TcpFrontEnd } from '../../target/transport/tcp-front-end.js';
import { validateConfig } from '../../target/config/config.js';
import { nullLogger } from '../../target/controller/observer.js';
import { Status, statusName } from '../../target/protocol/status.js';
import { FeatureId, IoOpc, LogId } from '../../target/protocol/opcodes.js';
import { IdNs } from '../../target/protocol/identify-layout.js';
import {
  AcquireAction, AEN_RESERVATION_LOG, Cptpl, ONCS_RESERVATIONS, RegCtlExt, RegisterAction, ReleaseAction, ResvLog, ResvNotice, ResvStatus, ResvType,
} from '../../target/protocol/reservations.js';

const NQN = 'nqn.2026-01.io.nvmeof.test:resv';
const HOST = (n: number) => Buffer.alloc(16, n);
const [A, B, C] = [HOST(0xaa), HOST(0xbb), HOST(0xcc)];
const KA = 0xa1n;
const KB = 0xb2n;
const PTPL_NS = 1; // file, PTPL set below
const PLAIN_NS = 2; // file, no PTPL
const MEM_NS = 3; // memory: no state file record, so no PTPL

let dir: string;
let port: number;
let running: RunningTarget | undefined;
const open: HostController[] = [];

async function start(bootId: string): Promise<void> {
  const config = validateConfig({
    apiVersion: 'nvmeof.io/v1alpha1', kind: 'TargetConfig',
    subsystems: [{
      nqn: NQN, allowAnyHost: true, listeners: [{ address: '127.0.0.1', port }], stateFile: join(dir, 'state.bin'),
      namespaces: [
        { nsid: PTPL_NS, blockSize: 512, backing: { kind: 'file', path: join(dir, 'ns1.img'), size: 8 << 20 } },
        { nsid: PLAIN_NS, blockSize: 512, backing: { kind: 'file', path: join(dir, 'ns2.img'), size: 8 << 20 } },
        { nsid: MEM_NS, blockSize: 512, backing: { kind: 'memory', size: 8 << 20 } },
      ],
    }],
  });
  running = await runTarget(config, nullLogger, new TcpFrontEnd(), { bootId });
}

async function stop(): Promise<void> {
  for (const c of open.splice(0)) c.destroy();
  await running?.shutdown();
  running = undefined;
}

async function host(hostid: Buffer, n = 0): Promise<HostController> {
  const c = await HostController.connect({ host: '127.0.0.1', port, subnqn: NQN, hostid, hostnqn: `nqn.2014-08.org.nvmexpress:uuid:${hostid.toString('hex')}-${n}` });
  open.push(c);
  return c;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nvmeof-resv-'));
  port = await freePort();
  await start('boot-1');
});
after(async () => {
  await stop();
  rmSync(dir, { recursive: true, force: true });
});

// ---- commands ----

const status = (p: Promise<Completion>) => p.then((c) => statusName(c.status));
const sub = (c: HostController, x: { sqe: Buffer; data: Buffer }) => c.io[0].submit(x.sqe, { out: x.data });
const reg = (c: HostController, o: Parameters<typeof resvRegisterCommand>[1], nsid = PTPL_NS) => status(sub(c, resvRegisterCommand(nsid, o)));
const acq = (c: HostController, o: Parameters<typeof resvAcquireCommand>[1], nsid = PTPL_NS) => status(sub(c, resvAcquireCommand(nsid, o)));
const rel = (c: HostController, o: Parameters<typeof resvReleaseCommand>[1], nsid = PTPL_NS) => status(sub(c, resvReleaseCommand(nsid, o)));
const setFeature = (c: HostController, fid: number, cdw11: number, o: { nsid: number; save?: boolean }) => status(c.admin.submit(setFeaturesSqe(fid, cdw11, o)));

interface Report { gen: number; rtype: number; regctl: number; ptpls: number; regs: Array<{ cntlid: number; holder: boolean; key: bigint; hostid: string }> }

async function report(c: HostController, nsid = PTPL_NS, len = 4096): Promise<Report> {
  const b = Buffer.alloc(len);
  const r = await c.io[0].submit(resvReportSqe(nsid, len), { inp: b });
  if (r.status !== 0) throw new NvmeStatusError(r.status, 'Reservation Report');
  const regctl = b.readUInt16LE(ResvStatus.REGCTL);
  const regs = [];
  for (let i = 0; i < regctl && ResvStatus.EXT_HEADER_SIZE + (i + 1) * RegCtlExt.SIZE <= len; i++) {
    const at = ResvStatus.EXT_HEADER_SIZE + i * RegCtlExt.SIZE;
    regs.push({
      cntlid: b.readUInt16LE(at + RegCtlExt.CNTLID), holder: (b[at + RegCtlExt.RCSTS] & 1) === 1,
      key: b.readBigUInt64LE(at + RegCtlExt.RKEY), hostid: b.subarray(at + RegCtlExt.HOSTID, at + RegCtlExt.HOSTID + 16).toString('hex'),
    });
  }
  return { gen: b.readUInt32LE(ResvStatus.GEN), rtype: b[ResvStatus.RTYPE], regctl, ptpls: b[ResvStatus.PTPLS], regs };
}

/** Every I/O command kind, as `group` of the spec's conflict table: the statuses they get. */
async function io(c: HostController, nsid = PTPL_NS): Promise<Record<string, string>> {
  const q = c.io[0];
  const blk = Buffer.alloc(512, 7);
  const dsm = dsmCommand(nsid, [{ slba: 8, nlb: 1 }], true);
  return {
    read: await status(q.submit(rwSqe(IoOpc.Read, nsid, 0, 1), { inp: Buffer.alloc(512) })),
    write: await status(q.submit(rwSqe(IoOpc.Write, nsid, 0, 1), { out: blk })),
    writeZeroes: await status(q.submit(rwSqe(IoOpc.WriteZeroes, nsid, 4, 1))),
    dsm: await status(q.submit(dsm.sqe, { out: dsm.data })),
    flush: await status(q.submit(flushSqe(nsid))),
  };
}
const ALL_OK = { read: 'Success', write: 'Success', writeZeroes: 'Success', dsm: 'Success', flush: 'Success' };
const WRITES_REFUSED = { read: 'Success', write: 'ReservationConflict', writeZeroes: 'ReservationConflict', dsm: 'ReservationConflict', flush: 'ReservationConflict' };
const ALL_REFUSED = { read: 'ReservationConflict', write: 'ReservationConflict', writeZeroes: 'ReservationConflict', dsm: 'ReservationConflict', flush: 'ReservationConflict' };

async function logEntry(c: HostController, o: { rae?: boolean } = {}) {
  const b = await c.getLogPage(LogId.ReservationNotification, ResvLog.SIZE, { nsid: 0xffffffff, rae: o.rae });
  return { count: b.readBigUInt64LE(ResvLog.COUNT), type: b[ResvLog.TYPE], nalp: b[ResvLog.NALP], nsid: b.readUInt32LE(ResvLog.NSID) };
}
const EMPTY_LOG = { count: 0n, type: 0, nalp: 0, nsid: 0 };

test('Identify advertises reservations: ONCS bit 5, RESCAP with PTPL where a state file keeps it', async () => {
  const a = await host(A);
  assert.ok(a.info!.oncs & ONCS_RESERVATIONS);
  const rescap = async (nsid: number) => (await a.identifyNamespace(nsid)).raw[IdNs.RESCAP];
  assert.equal(await rescap(PTPL_NS), 0xff, 'PTPL, the six types, IEKEY as in 1.3');
  assert.equal(await rescap(MEM_NS), 0xfe, 'a memory namespace cannot persist through power loss');
  assert.equal((await a.identifyNamespace(PTPL_NS)).nmic & 1, 1);
});

test('register, report (extended only), and each type\'s conflicts for holder, registrant and other hosts', async () => {
  const [a, b, c] = [await host(A), await host(B), await host(C)];
  const a2 = await host(A, 2); // a second controller of host A: the same registration
  assert.equal(await status(a.io[0].submit(resvReportSqe(PTPL_NS, 4096, false), { inp: Buffer.alloc(4096) })), 'HostIdInconsistentFormat');
  const gen0 = (await report(a)).gen;
  assert.equal(await reg(a, { action: RegisterAction.Register, nrkey: KA }), 'Success');
  assert.equal(await reg(b, { action: RegisterAction.Register, nrkey: KB }), 'Success');
  assert.equal(await reg(a2, { action: RegisterAction.Register, nrkey: 0x99n }), 'ReservationConflict', 'host A is registered already, by its other controller');
  let r = await report(c);
  assert.equal(r.gen, gen0 + 2);
  assert.deepEqual(r.regs, [
    { cntlid: 0xffff, holder: false, key: KA, hostid: A.toString('hex') },
    { cntlid: 0xffff, holder: false, key: KB, hostid: B.toString('hex') },
  ]);
  assert.equal((await report(c, PTPL_NS, 64)).regctl, 2, 'a short buffer still counts every registrant');

  const cases: Array<[number, Record<string, string>, Record<string, string>, Record<string, string>]> = [
    // type, then what the holder (A, and A's other controller), a registrant (B) and a non-registrant (C) get.
    [ResvType.WriteExclusive, ALL_OK, WRITES_REFUSED, WRITES_REFUSED],
    [ResvType.ExclusiveAccess, ALL_OK, ALL_REFUSED, ALL_REFUSED],
    [ResvType.WriteExclusiveRegistrantsOnly, ALL_OK, ALL_OK, WRITES_REFUSED],
    [ResvType.ExclusiveAccessRegistrantsOnly, ALL_OK, ALL_OK, ALL_REFUSED],
    [ResvType.WriteExclusiveAllRegistrants, ALL_OK, ALL_OK, WRITES_REFUSED],
    [ResvType.ExclusiveAccessAllRegistrants, ALL_OK, ALL_OK, ALL_REFUSED],
  ];
  for (const [rtype, holder, registrant, other] of cases) {
    assert.equal(await acq(a, { action: AcquireAction.Acquire, rtype, crkey: KA }), 'Success', `acquire type ${rtype}`);
    r = await report(c);
    assert.equal(r.rtype, rtype);
    const allRegs = rtype >= ResvType.WriteExclusiveAllRegistrants;
    assert.deepEqual(r.regs.map((x) => x.holder), [true, allRegs], `holders of type ${rtype}`);
    assert.deepEqual(await io(a), holder, `holder, type ${rtype}`);
    assert.deepEqual(await io(a2), holder, `holder's other controller, type ${rtype}`);
    assert.deepEqual(await io(b), registrant, `registrant, type ${rtype}`);
    assert.deepEqual(await io(c), other, `non-registrant, type ${rtype}`);
    assert.deepEqual(await io(c, PLAIN_NS), ALL_OK, 'another namespace is not reserved');
    assert.equal(await status(c.io[0].submit(flushSqe(0xffffffff))), 'Success', 'a Flush of every namespace is never refused');
    assert.equal(await acq(b, { action: AcquireAction.Acquire, rtype: ResvType.WriteExclusive, crkey: KB }), 'ReservationConflict');
    assert.equal(await rel(a, { action: ReleaseAction.Release, rtype: rtype === 1 ? 2 : 1, crkey: KA }), 'InvalidField', 'release naming another type');
    assert.equal(await rel(a, { action: ReleaseAction.Release, rtype, crkey: KA }), 'Success');
    assert.deepEqual(await io(c), ALL_OK, `released type ${rtype}`);
  }
  assert.equal((await report(c)).gen, gen0 + 2, 'acquire and release leave the generation');
  assert.equal(await rel(a, { action: ReleaseAction.Clear, rtype: 0, crkey: KA }), 'Success');
  assert.deepEqual((await report(c)).regs, []);
  // Checks that need no state: unknown namespace, short data, IEKEY on Acquire.
  assert.equal(await reg(a, { action: RegisterAction.Register, nrkey: 1n }, 9), 'InvalidNamespace');
  assert.equal(await status(a.io[0].submit(resvRegisterCommand(PTPL_NS, { action: 0 }).sqe, { out: Buffer.alloc(8) })), 'SglDataLengthInvalid');
  assert.equal(await acq(a, { action: AcquireAction.Acquire, rtype: 1, crkey: 0n, iekey: true }), 'InvalidField');
  for (const x of [a, a2, b, c]) await x.disconnect();
});

test('notifications: log page 80h, the asynchronous event, and feature 82h\'s mask per controller', async () => {
  const [a, b] = [await host(A), await host(B)];
  const a2 = await host(A, 2);
  assert.deepEqual(await logEntry(a), EMPTY_LOG);
  await reg(a, { action: RegisterAction.Register, nrkey: KA });
  await reg(b, { action: RegisterAction.Register, nrkey: KB });
  assert.equal(await acq(a, { action: AcquireAction.Acquire, rtype: ResvType.WriteExclusive, crkey: KA }), 'Success');
  const aen = a.admin.submit(asyncEventRequestSqe());
  // B preempts A: A's registration is gone, and both of A's controllers are told.
  assert.equal(await acq(b, { action: AcquireAction.Preempt, rtype: ResvType.WriteExclusiveRegistrantsOnly, crkey: KB, prkey: KA }), 'Success');
  const ev = await aen;
  assert.equal(ev.status, 0);
  assert.equal(ev.dw0, AEN_RESERVATION_LOG, 'I/O command specific status, Reservation Log Page Available, log 80h');
  assert.deepEqual(await logEntry(a), { count: 1n, type: ResvNotice.RegistrationPreempted, nalp: 0, nsid: PTPL_NS });
  assert.deepEqual(await logEntry(a), EMPTY_LOG, 'reading removes the entry');
  assert.deepEqual(await logEntry(a2), { count: 1n, type: ResvNotice.RegistrationPreempted, nalp: 0, nsid: PTPL_NS });
  assert.deepEqual(await io(a), WRITES_REFUSED, 'A is no longer registered under Write Exclusive - Registrants Only');
  // A registers again and masks "reservation released" on one controller only.
  await reg(a, { action: RegisterAction.Register, nrkey: KA });
  assert.equal((await a.setFeatures(FeatureId.ReservationNotificationMask, 1 << ResvNotice.ReservationReleased, { nsid: PTPL_NS })).status, 0);
  assert.equal((await a.getFeatures(FeatureId.ReservationNotificationMask, { nsid: PTPL_NS })).dw0, 1 << ResvNotice.ReservationReleased);
  assert.equal((await a2.getFeatures(FeatureId.ReservationNotificationMask, { nsid: PTPL_NS })).dw0, 0);
  assert.equal(await setFeature(a, FeatureId.ReservationNotificationMask, 1, { nsid: PTPL_NS }), 'InvalidField', 'bit 0 is reserved');
  assert.equal(await rel(b, { action: ReleaseAction.Release, rtype: ResvType.WriteExclusiveRegistrantsOnly, crkey: KB }), 'Success');
  assert.deepEqual(await logEntry(a), EMPTY_LOG, 'masked on this controller');
  assert.deepEqual(await logEntry(a2), { count: 2n, type: ResvNotice.ReservationReleased, nalp: 0, nsid: PTPL_NS });
  // Clear: the other registrants' controllers learn the reservation was preempted; several queue up.
  await acq(a, { action: AcquireAction.Acquire, rtype: ResvType.ExclusiveAccessRegistrantsOnly, crkey: KA });
  await reg(b, { action: RegisterAction.Unregister, crkey: KB });
  await reg(b, { action: RegisterAction.Register, nrkey: KB });
  assert.equal(await rel(b, { action: ReleaseAction.Clear, rtype: 0, crkey: KB }), 'Success');
  assert.deepEqual(await logEntry(a2, { rae: true }), { count: 3n, type: ResvNotice.ReservationPreempted, nalp: 0, nsid: PTPL_NS });
  assert.deepEqual(await logEntry(a), { count: 2n, type: ResvNotice.ReservationPreempted, nalp: 0, nsid: PTPL_NS }, 'a masked notice takes no count');
  for (const x of [a, a2, b]) await x.disconnect();
});

test('preempt and abort fences the preempted host; feature 83h sets PTPL where it can persist', async () => {
  const [a, b] = [await host(A), await host(B)];
  await reg(a, { action: RegisterAction.Register, nrkey: KA });
  await reg(b, { action: RegisterAction.Register, nrkey: KB });
  assert.equal(await acq(b, { action: AcquireAction.Acquire, rtype: ResvType.WriteExclusiveAllRegistrants, crkey: KB }), 'Success');
  // B writes continuously while A preempts and aborts it: once the preempt completes, no write of B lands.
  let writing = true;
  const blk = Buffer.alloc(512, 0xb);
  const writer = (async () => {
    const statuses = new Set<string>();
    while (writing) statuses.add(await status(b.io[0].submit(rwSqe(IoOpc.Write, PTPL_NS, 100, 1), { out: blk })));
    return statuses;
  })();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(await acq(a, { action: AcquireAction.PreemptAndAbort, rtype: ResvType.WriteExclusive, crkey: KA, prkey: 0n }), 'Success');
  assert.equal(await status(a.io[0].submit(rwSqe(IoOpc.Write, PTPL_NS, 100, 1), { out: Buffer.alloc(512, 0xa) })), 'Success');
  writing = false;
  const seen = await writer;
  assert.ok(seen.has('ReservationConflict'), `B's writes are refused after the preempt (${[...seen]})`);
  const back = Buffer.alloc(512);
  await a.io[0].read(PTPL_NS, 100, 1, back);
  assert.equal(back[0], 0xa, 'no write of B landed after the preempt and abort completed');
  const r = await report(a);
  assert.equal(r.rtype, ResvType.WriteExclusive);
  assert.deepEqual(r.regs.map((x) => [x.hostid, x.holder]), [[A.toString('hex'), true]]);

  // PTPL: feature 83h and Register's CPTPL.
  const ptpl = async (nsid: number) => (await a.getFeatures(FeatureId.ReservationPersistence, { nsid })).dw0;
  assert.equal(await ptpl(PTPL_NS), 0);
  assert.equal((await a.setFeatures(FeatureId.ReservationPersistence, 1, { nsid: PTPL_NS })).status, 0);
  assert.equal(await ptpl(PTPL_NS), 1);
  assert.equal((await report(a)).ptpls, 1);
  assert.equal(await setFeature(a, FeatureId.ReservationPersistence, 1, { nsid: MEM_NS }), 'InvalidField');
  assert.equal(await setFeature(a, FeatureId.ReservationPersistence, 1, { nsid: PTPL_NS, save: true }), 'FeatureNotSaveable');
  assert.equal(await reg(a, { action: RegisterAction.Register, nrkey: KA, cptpl: Cptpl.Persist }, MEM_NS), 'InvalidField');
  assert.equal((await a.getFeatures(FeatureId.ReservationPersistence, { sel: 3, nsid: PTPL_NS })).dw0, 0x6, 'namespace specific, changeable');
  for (const x of [a, b]) await x.disconnect();
});

test('a restart keeps every reservation; a node reboot keeps only those with PTPL', async () => {
  let a = await host(A);
  let b = await host(B);
  // PTPL_NS: A holds Write Exclusive with PTPL (from the test above); PLAIN_NS and MEM_NS: B holds EA, no PTPL.
  for (const nsid of [PLAIN_NS, MEM_NS]) {
    assert.equal(await reg(a, { action: RegisterAction.Register, nrkey: KA }, nsid), 'Success');
    assert.equal(await reg(b, { action: RegisterAction.Register, nrkey: KB, cptpl: Cptpl.Clear }, nsid), 'Success');
    assert.equal(await acq(b, { action: AcquireAction.Acquire, rtype: ResvType.ExclusiveAccess, crkey: KB }, nsid), 'Success');
  }
  const before1 = await report(a, PTPL_NS);
  const before2 = await report(a, PLAIN_NS);
  assert.equal(before1.ptpls, 1);
  assert.equal(before2.ptpls, 0);

  await stop();
  await start('boot-1');
  a = await host(A);
  b = await host(B);
  assert.deepEqual(await report(a, PTPL_NS), before1, 'restart: PTPL namespace as it was');
  assert.deepEqual(await report(a, PLAIN_NS), before2, 'restart: namespace without PTPL as it was');
  assert.deepEqual((await report(a, MEM_NS)).regs, [], 'a memory namespace starts empty, as its data does');
  assert.deepEqual(await io(a, PLAIN_NS), ALL_REFUSED, 'the restored reservation is enforced');

  await stop();
  await start('boot-2');
  a = await host(A);
  assert.deepEqual(await report(a, PTPL_NS), before1, 'node reboot: PTPL namespace kept');
  const cleared = await report(a, PLAIN_NS);
  assert.deepEqual({ rtype: cleared.rtype, regs: cleared.regs, gen: cleared.gen }, { rtype: 0, regs: [], gen: 0 }, 'node reboot: no PTPL, cleared');
  assert.deepEqual(await io(a, PLAIN_NS), ALL_OK);
  assert.equal(Status.Success, 0);
  await a.disconnect();
});
