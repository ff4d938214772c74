// The target's dispatch (target.ts) called directly: check() before data moves, execute() once it is in,
// and the discovery log; driven by the Linux host's own capsules (target/protocol/testdata) where they fit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSqe } from '../protocol/sqe.js';
import { AdminOpc, DISCOVERY_NQN, FabricsType, IoOpc } from '../protocol/opcodes.js';
import { Status } from '../protocol/status.js';
import { decodeDiscoveryLog } from '../protocol/discovery-log.js';
import { Namespace } from '../subsystem/namespace.js';
import { deriveNamespaceIds } from '../subsystem/identity.js';
import { Qpair } from './qpair.js';
import { Target } from './target.js';
import { nullObserver, type BackendError, type Logger } from './observer.js';
import { CC_ENABLE, FailingBackend, FakeTransport, HOSTID, HOSTNQN, NQN, cqeAsLinux, linuxCommand, memoryNamespace, request, subsystem } from './test-support/harness.js';

function recordingLogger(lines: Array<[string, string, Record<string, unknown> | undefined]>): Logger {
  const at = (level: string) => (msg: string, meta?: Record<string, unknown>) => { lines.push([level, msg, meta]); };
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}

test('a backend error is logged with the namespace, path, range and errno, and reported to the observer', async () => {
  const sub = subsystem([new Namespace(1, 512, deriveNamespaceIds(NQN, 1), new FailingBackend(1 << 20, '/dev/disk/by-id/nvme-x'))]);
  const lines: Array<[string, string, Record<string, unknown> | undefined]> = [];
  const reported: BackendError[] = [];
  const target = new Target([sub], { logger: recordingLogger(lines), observer: { ...nullObserver, backendError: (e) => reported.push(e) } });
  const ctrl = target.createController(sub, HOSTNQN, HOSTID, 0)!;
  ctrl.setCC(CC_ENABLE);
  const transport = new FakeTransport();
  const q = new Qpair(ctrl, 1, 127, transport, true);
  ctrl.ioQueues.set(1, q);
  const { req, done } = request(buildSqe({ opc: IoOpc.Read, cid: 3, nsid: 1, sglLen: 4096, cdw10: 64, cdw12: 7 }), q);
  assert.equal(target.check(req, q), 0);
  target.execute(req, q, transport);
  assert.equal((await done).status, Status.UnrecoveredReadError);
  assert.deepEqual(reported.map((e) => [e.nsid, e.offset, e.length, e.errno]), [[1, 64 * 512, 4096, 'EIO']]);
  const errors = lines.filter(([level]) => level === 'error');
  assert.deepEqual(errors, [['error', 'backend error', {
    subnqn: NQN, nsid: 1, path: '/dev/disk/by-id/nvme-x', op: 'read', offset: 32768, length: 4096, errno: 'EIO',
    error: 'EIO: i/o error, read', status: 'UnrecoveredReadError', cntlid: ctrl.cntlid, hostnqn: HOSTNQN,
  }]]);
});

const LINUX_NQN = 'nqn.2014-08.io.linux-host:ref';

function linuxTarget(lines: Array<[string, string, Record<string, unknown> | undefined]> = []) {
  const sub = subsystem([memoryNamespace(1, 64 << 20, 512, LINUX_NQN)], undefined, LINUX_NQN);
  const connected: string[] = [];
  const target = new Target([sub], {
    logger: recordingLogger(lines),
    observer: { ...nullObserver, queueConnected: (q) => connected.push(`${q.ctrl.cntlid}/${q.qid}`) },
  });
  return { sub, target, connected };
}

test("the Linux host's Connect, enable and I/O Connect through the target: its controller, its queues, as the Linux target answered", async () => {
  const lines: Array<[string, string, Record<string, unknown> | undefined]> = [];
  const { sub, target, connected } = linuxTarget(lines);
  const adminTransport = new FakeTransport();
  const run = async (v: ReturnType<typeof linuxCommand>, q: Qpair | undefined, transport = adminTransport) => {
    const { req, done } = request(v.sqe, q, v.data);
    assert.equal(target.check(req, q), 0);
    const outcome = target.execute(req, q, transport);
    assert.equal(cqeAsLinux(v, await done), v.cqe.toString('hex'));
    return outcome;
  };
  const a = await run(linuxCommand(1, 1), undefined);
  assert.ok(a?.ok);
  const admin = a.qpair;
  await run(linuxCommand(1, 6), admin); // Property Set CC.EN
  const ioTransport = new FakeTransport();
  const io = await run(linuxCommand(2, 1), undefined, ioTransport);
  assert.ok(io?.ok);
  assert.deepEqual(connected, ['1/0', '1/1']);
  assert.deepEqual(target.controllersOf(sub).map((c) => c.cntlid), [1]);
  assert.deepEqual(lines.filter(([, msg]) => msg === 'controller created').map(([, , m]) => [m?.cntlid, m?.hostnqn]),
    [[1, 'nqn.2014-08.org.nvmexpress:uuid:bfaf2044-43cc-46bd-9b5e-413f98947054']]);
  // The Linux host's 4 KiB write on the I/O queue, then Disconnect of that queue.
  await run(linuxCommand(3, 14), io.qpair, ioTransport);
  const disconnect = request(buildSqe({ opc: AdminOpc.Fabrics, cid: 9, fctype: FabricsType.Disconnect }), io.qpair);
  assert.equal(target.check(disconnect.req, io.qpair), 0);
  target.execute(disconnect.req, io.qpair, ioTransport);
  assert.equal((await disconnect.done).status, 0);
  assert.deepEqual(ioTransport.closed, ['host disconnected the queue']);
  target.shutdown('test over');
  assert.deepEqual(adminTransport.closed, ['test over']);
  assert.deepEqual(target.controllersOf(sub), []);
});

test('check(): what is refused before any data moves', async () => {
  const { sub, target } = linuxTarget();
  const ctrl = target.createController(sub, HOSTNQN, HOSTID, 0)!;
  const admin = new Qpair(ctrl, 0, 31, new FakeTransport(), true);
  const io = new Qpair(ctrl, 1, 127, new FakeTransport(), true);
  const fabrics = (fctype: number, sglLen = 0) => buildSqe({ opc: AdminOpc.Fabrics, cid: 1, fctype, sglLen });
  const check = (sqe: Buffer, q: Qpair | undefined) => target.check(request(sqe, q).req, q);
  const connect = linuxCommand(1, 1).sqe;
  // Before CC.EN
  assert.equal(check(buildSqe({ opc: AdminOpc.Identify, cid: 1, sglLen: 4096 }), admin), Status.CommandSequenceError, 'not ready');
  ctrl.setCC(CC_ENABLE);
  // [what, SQE, queue, status]
  const cases: Array<[string, Buffer, Qpair | undefined, number]> = [
    ['Connect on a new connection', connect, undefined, 0],
    ['Connect with 2048 bytes', fabrics(FabricsType.Connect, 2048), undefined, Status.SglDataLengthInvalid],
    ['Connect on a bound queue', connect, admin, Status.CommandSequenceError],
    ['Property Get before Connect', fabrics(FabricsType.PropertyGet), undefined, Status.CommandSequenceError],
    ['Property Get with data', fabrics(FabricsType.PropertyGet, 8), admin, Status.SglDataLengthInvalid],
    ['Property Get on the admin queue', fabrics(FabricsType.PropertyGet), admin, 0],
    ['Property Set on an I/O queue', fabrics(FabricsType.PropertySet), io, Status.InvalidField],
    ['Disconnect', fabrics(FabricsType.Disconnect), io, 0],
    ['Authentication Send (not supported)', fabrics(FabricsType.AuthSend), admin, Status.InvalidOpcode],
    ['an admin command before Connect', buildSqe({ opc: AdminOpc.Identify, cid: 1, sglLen: 4096 }), undefined, Status.CommandSequenceError],
    ['an admin command (checked when executed)', buildSqe({ opc: 0x01, cid: 1 }), admin, 0],
    ['a 2 MiB Read (MDTS is 1 MiB)', buildSqe({ opc: IoOpc.Read, cid: 1, nsid: 1, sglLen: 2 << 20, cdw12: 4095 }), io, Status.SglDataLengthInvalid],
    ['a 1 MiB Read of the Linux host', linuxCommand(2, 5).sqe, io, 0],
    ['a Read of nsid 2', buildSqe({ opc: IoOpc.Read, cid: 1, nsid: 2, sglLen: 512 }), io, Status.InvalidNamespace],
    ['a Reservation Register with 8 bytes', buildSqe({ opc: IoOpc.ReservationRegister, cid: 1, nsid: 1, sglLen: 8 }), io, Status.SglDataLengthInvalid],
  ];
  for (const [what, sqe, q, status] of cases) assert.equal(check(sqe, q), status, what);
  // An unknown fabrics command type that passed no check is still completed: Invalid Opcode.
  const { req, done } = request(fabrics(0x7e), admin);
  target.execute(req, admin, admin.transport);
  assert.equal((await done).status, Status.InvalidOpcode);
  ctrl.destroy('test over');
});

test("the discovery log lists for the host what the Linux target listed: the subsystem and the discovery service, at the address reached", () => {
  // The Linux target's port: 4420 on every address; a second subsystem on it the host may not see.
  const sub = subsystem([memoryNamespace(1, 1 << 20, 512, LINUX_NQN)], undefined, LINUX_NQN);
  const hidden = subsystem([], ['nqn.2014-08.io.example:someone-else'], 'nqn.2014-08.io.example:hidden');
  for (const s of [sub, hidden]) s.listeners.splice(0, 1, { address: '0.0.0.0', port: 4420 });
  const target = new Target([sub, hidden]);
  const ours = decodeDiscoveryLog(target.discoveryLog('nqn.2014-08.org.nvmexpress:uuid:bfaf2044-43cc-46bd-9b5e-413f98947054', '::ffff:10.0.2.15'));
  const linux = decodeDiscoveryLog(linuxCommand(0, 14).c2hData!);
  const order = (a: { subnqn: string }, b: { subnqn: string }) => a.subnqn.localeCompare(b.subnqn);
  assert.deepEqual(ours.records.sort(order), linux.records.sort(order));
  assert.deepEqual(linux.records.map((x) => [x.subtype, x.subnqn]).sort(), [[2, LINUX_NQN], [3, DISCOVERY_NQN]]);
  // A discovery-only listener adds a discovery entry; a listener on a given address is reported as it is.
  const withDiscovery = new Target([sub], { discoveryListeners: [{ address: '192.0.2.7', port: 8009 }] });
  const records = decodeDiscoveryLog(withDiscovery.discoveryLog('h', '10.0.2.15')).records;
  assert.deepEqual(records.map((x) => [x.subtype, x.traddr, x.trsvcid, x.portid]), [[2, '10.0.2.15', '4420', 1], [3, '10.0.2.15', '4420', 1], [3, '192.0.2.7', '8009', 2]]);
});
