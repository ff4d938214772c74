// Authentication Send/Receive through the target's dispatch (target.ts check() then execute()): the Connect
// result's AUTHREQ, "Authentication Required" for everything else until the queue authenticated (admin and
// I/O queues), the fields nvmet checks, and what a failure leaves (Failure1, the queue closed, one log line
// naming the host and the reason, the metric's count).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSqe } from '../protocol/sqe.js';
import { AdminOpc, FabricsType, IoOpc } from '../protocol/opcodes.js';
import { Status } from '../protocol/status.js';
import { AUTHREQ_ATR, ConnectSqe, DYNAMIC_CNTLID, encodeConnectData } from '../protocol/connect.js';
import { AUTH_SECP_DHCHAP, AuthFailure, AuthSqe, decodeAuthReceive, encodeNegotiate, encodeReply } from '../protocol/auth.js';
import { hostResponse } from '../auth/dhchap.js';
import { hashById } from '../auth/hashes.js';
import { formatDhchapSecret, parseDhchapSecret, transformKey } from '../auth/secret.js';
import type { HostAuth } from '../auth/queue-auth.js';
import { Target } from './target.js';
import type { Qpair } from './qpair.js';
import { nullObserver, type Logger } from './observer.js';
import { CC_ENABLE, FakeTransport, HOSTID, HOSTNQN, NQN, request, subsystem } from './test-support/harness.js';

const SECRET = formatDhchapSecret({ hh: 1, key: Buffer.alloc(32, 0x5a) });
const WRONG = formatDhchapSecret({ hh: 1, key: Buffer.alloc(32, 0x5b) });
const OTHER_HOST = 'nqn.2014-08.org.nvmexpress:uuid:4b1a2c3d-0000-4000-8000-000000000002';

function authTarget() {
  const sub = subsystem(undefined, [HOSTNQN, OTHER_HOST]);
  const keys: HostAuth = { hostKey: parseDhchapSecret(SECRET), hashes: [hashById(1)!], dhGroups: [0] };
  sub.hostAuth = new Map([[HOSTNQN, keys]]);
  const lines: Array<[string, string, Record<string, unknown> | undefined]> = [];
  const at = (level: string) => (msg: string, meta?: Record<string, unknown>) => { lines.push([level, msg, meta]); };
  const logger: Logger = { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
  const counted: string[] = [];
  const target = new Target([sub], { logger, observer: { ...nullObserver, authFinished: (m, r) => counted.push(`${m}/${r}`) } });
  return { sub, target, lines, counted };
}

async function run(target: Target, sqe: Buffer, q: Qpair | undefined, transport: FakeTransport, data?: Buffer) {
  const { req, done } = request(sqe, q, data);
  const status = target.check(req, q);
  if (status !== 0) return { status, dw0: 0, data: undefined, outcome: undefined };
  const outcome = target.execute(req, q, transport);
  const c = await done;
  return { status: c.status, dw0: c.dw0, data: c.data, outcome };
}

function connectSqe(qid: number): Buffer {
  const sqe = buildSqe({ opc: AdminOpc.Fabrics, fctype: FabricsType.Connect, cid: 1, sglLen: 1024 });
  sqe.writeUInt16LE(qid, ConnectSqe.QID);
  sqe.writeUInt16LE(31, ConnectSqe.SQSIZE);
  return sqe;
}

async function connect(target: Target, hostnqn: string, qid: number, cntlid: number, transport = new FakeTransport()) {
  const data = encodeConnectData({ hostid: HOSTID, cntlid, subnqn: NQN, hostnqn });
  const r = await run(target, connectSqe(qid), undefined, transport, data);
  assert.equal(r.status, 0);
  assert.ok(r.outcome?.ok);
  return { q: r.outcome.qpair, dw0: r.dw0, transport };
}

function authSqe(fctype: number, len: number, cid = 2): Buffer {
  const sqe = buildSqe({ opc: AdminOpc.Fabrics, fctype, cid, sglLen: len });
  sqe[AuthSqe.SECP] = AUTH_SECP_DHCHAP;
  sqe[AuthSqe.SPSP0] = 1;
  sqe[AuthSqe.SPSP1] = 1;
  sqe.writeUInt32LE(len, AuthSqe.TL);
  return sqe;
}

/** The host's side of a DH-HMAC-CHAP transaction on `q` with `secret`: the last Receive's message. */
async function authenticate(target: Target, q: Qpair, transport: FakeTransport, secret: string) {
  const neg = encodeNegotiate({ tid: q.qid, hashes: [1, 2, 3], dhGroups: [0, 1, 2, 3, 4, 5] });
  assert.equal((await run(target, authSqe(FabricsType.AuthSend, neg.length), q, transport, neg)).status, 0);
  const chalData = (await run(target, authSqe(FabricsType.AuthReceive, 512), q, transport)).data!;
  const chal = decodeAuthReceive(chalData);
  assert.equal(chal.kind, 'challenge');
  if (chal.kind !== 'challenge') throw new Error('no challenge');
  const response = hostResponse({
    hash: hashById(chal.hashId)!, key: transformKey(parseDhchapSecret(secret), HOSTNQN), challenge: chal.c1, sessionKey: undefined,
    seqnum: chal.seqnum, tid: q.qid, hostnqn: HOSTNQN, subnqn: NQN,
  });
  const reply = encodeReply({ tid: q.qid, seqnum: 0, response, c2: undefined, dhValue: Buffer.alloc(0) });
  assert.equal((await run(target, authSqe(FabricsType.AuthSend, reply.length), q, transport, reply)).status, 0);
  return decodeAuthReceive((await run(target, authSqe(FabricsType.AuthReceive, 512), q, transport)).data!);
}

const propertyGetCsts = () => {
  const sqe = buildSqe({ opc: AdminOpc.Fabrics, fctype: FabricsType.PropertyGet, cid: 9 });
  sqe.writeUInt32LE(0x1c, 44);
  return sqe;
};

test('a host with a key: ATR in every Connect result, Authentication Required until each queue authenticated, then served', async () => {
  const { target, lines, counted } = authTarget();
  const admin = await connect(target, HOSTNQN, 0, DYNAMIC_CNTLID);
  assert.equal(admin.dw0 & AUTHREQ_ATR, AUTHREQ_ATR);
  assert.equal(admin.dw0 & 0xffff, admin.q.ctrl.cntlid);
  assert.equal((await run(target, propertyGetCsts(), admin.q, admin.transport)).status, Status.AuthRequired);
  assert.equal((await run(target, buildSqe({ opc: AdminOpc.Identify, cid: 3, sglLen: 4096, cdw10: 1 }), admin.q, admin.transport)).status, Status.AuthRequired);
  assert.equal((await authenticate(target, admin.q, admin.transport, SECRET)).kind, 'success1');
  assert.equal((await run(target, propertyGetCsts(), admin.q, admin.transport)).status, 0);
  admin.q.ctrl.setCC(CC_ENABLE);
  // The I/O queue too: its Connect says ATR, a Read is refused until it authenticated on its own.
  const io = await connect(target, HOSTNQN, 1, admin.q.ctrl.cntlid);
  assert.equal(io.dw0 & AUTHREQ_ATR, AUTHREQ_ATR);
  const read = () => buildSqe({ opc: IoOpc.Read, cid: 4, nsid: 1, sglLen: 512, cdw12: 0 });
  assert.equal((await run(target, read(), io.q, io.transport)).status, Status.AuthRequired);
  assert.equal((await authenticate(target, io.q, io.transport, SECRET)).kind, 'success1');
  assert.equal((await run(target, read(), io.q, io.transport)).status, 0);
  assert.deepEqual(counted, ['dhchap/success', 'dhchap/success']);
  assert.equal(lines.filter(([, m]) => m === 'queue authenticated').length, 2);
});

test('a wrong secret: Failure1 "failed", the queue closed, one warning naming host and reason (never the key), counted', async () => {
  const { target, lines, counted } = authTarget();
  const admin = await connect(target, HOSTNQN, 0, DYNAMIC_CNTLID);
  const m = await authenticate(target, admin.q, admin.transport, WRONG);
  assert.deepEqual(m.kind === 'failure1' && [m.rescode, m.rescodeExp], [1, AuthFailure.Failed]);
  assert.deepEqual(admin.transport.closed, ['authentication failed']);
  assert.deepEqual(counted, ['dhchap/failure']);
  const warn = lines.filter(([level]) => level === 'warn');
  assert.equal(warn.length, 1);
  assert.equal(warn[0][1], 'authentication failed');
  assert.equal(warn[0][2]?.hostnqn, HOSTNQN);
  assert.match(String(warn[0][2]?.reason), /failed: host response mismatch/);
  for (const s of [SECRET, WRONG]) assert.ok(!JSON.stringify(lines).includes(s.slice(10, 40)));
});

test('a host without a key connects as before: no ATR, commands served, Authentication Send refused', async () => {
  const { target } = authTarget();
  const admin = await connect(target, OTHER_HOST, 0, DYNAMIC_CNTLID);
  assert.equal(admin.dw0 & AUTHREQ_ATR, 0);
  assert.equal((await run(target, propertyGetCsts(), admin.q, admin.transport)).status, 0);
  const neg = encodeNegotiate({ tid: 0, hashes: [1], dhGroups: [0] });
  assert.equal((await run(target, authSqe(FabricsType.AuthSend, neg.length), admin.q, admin.transport, neg)).status, Status.InvalidOpcode);
});

test("Authentication Send/Receive fields as nvmet checks them: SECP, SPSP0/1, TL = the SGL's length, a bounded length", async () => {
  const { target } = authTarget();
  const admin = await connect(target, HOSTNQN, 0, DYNAMIC_CNTLID);
  const neg = encodeNegotiate({ tid: 0, hashes: [1], dhGroups: [0] });
  const check = async (mutate: (sqe: Buffer) => void, expected: number, len = neg.length) => {
    const sqe = authSqe(FabricsType.AuthSend, len);
    mutate(sqe);
    assert.equal((await run(target, sqe, admin.q, admin.transport, neg)).status, expected);
  };
  await check((s) => { s[AuthSqe.SECP] = 0xea; }, Status.InvalidField);
  await check((s) => { s[AuthSqe.SPSP0] = 0; }, Status.InvalidField);
  await check((s) => { s[AuthSqe.SPSP1] = 2; }, Status.InvalidField);
  await check((s) => { s.writeUInt32LE(0, AuthSqe.TL); }, Status.InvalidField);
  await check((s) => { s.writeUInt32LE(neg.length + 1, AuthSqe.TL); }, Status.SglDataLengthInvalid);
  await check(() => {}, Status.SglDataLengthInvalid, 8192);
  await check(() => {}, 0);
});

test('a queue that never authenticates is closed after the deadline, and the failure is logged and counted', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { target, lines, counted } = authTarget();
  const admin = await connect(target, HOSTNQN, 0, DYNAMIC_CNTLID);
  t.mock.timers.tick(10_000);
  assert.deepEqual(admin.transport.closed, ['not authenticated in time']);
  assert.deepEqual(counted, ['dhchap/failure']);
  assert.ok(lines.some(([level, m, meta]) => level === 'warn' && m === 'authentication failed' && /not authenticated within/.test(String(meta?.reason))));
});

test('a failed transaction is reported once: the deadline does not count it again', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const { target, counted } = authTarget();
  const admin = await connect(target, HOSTNQN, 0, DYNAMIC_CNTLID);
  assert.equal((await authenticate(target, admin.q, admin.transport, WRONG)).kind, 'failure1');
  t.mock.timers.tick(10_000);
  assert.deepEqual(counted, ['dhchap/failure']);
  assert.deepEqual(admin.transport.closed, ['authentication failed']);
});
