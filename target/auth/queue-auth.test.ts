import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  AuthFailure, DhGroupId, HashId, decodeAuthReceive, encodeFailure2, encodeNegotiate, encodeReply, encodeSuccess2,
} from '../protocol/auth.js';
import { QueueAuth, type AuthRandom, type HostAuth } from './queue-auth.js';
import { augmentedChallenge, controllerResponse, hostResponse } from './dhchap.js';
import { dhGroupById } from './ffdhe.js';
import { dhKeyPairFromPrivate, dhSharedSecret } from './dh.js';
import { HASHES, hashById } from './hashes.js';
import { parseDhchapSecret, transformKey } from './secret.js';

// Vectors computed by testdata/make-vectors.py (Python's hashlib/hmac/pow, the Linux algorithm, independently).
interface Vector {
  hash: number; dhGroup: number; hostnqn: string; subnqn: string; tid: number; s1: number; s2: number;
  hostSecret: string; ctrlSecret: string; c1: string; c2: string; hostKeyTransformed: string; ctrlKeyTransformed: string;
  ctrlPrivate?: string; ctrlPublic?: string; hostPublic?: string; sessionKey?: string; r1: string; r2: string;
}
const VECTORS: Vector[] = JSON.parse(readFileSync(new URL('../../../target/auth/testdata/dhchap-vectors.json', import.meta.url), 'utf8'));
const ALL_GROUPS = [0, 1, 2, 3, 4, 5];

function fixedRandom(v: Vector): AuthRandom {
  return {
    challenge: () => Buffer.from(v.c1, 'hex'),
    seqnum: () => v.s1,
    keyPair: (g) => dhKeyPairFromPrivate(g, Buffer.from(v.ctrlPrivate!, 'hex')),
  };
}

function policy(v: Vector, ctrl = true): HostAuth {
  return {
    hostKey: parseDhchapSecret(v.hostSecret),
    ...(ctrl ? { ctrlKey: parseDhchapSecret(v.ctrlSecret) } : {}),
    hashes: [hashById(v.hash)!],
    dhGroups: [v.dhGroup],
  };
}

test('known answers: transformed keys, session key, R1 and R2 match the independent computation', () => {
  assert.ok(VECTORS.length >= 6 && VECTORS.some((v) => v.dhGroup !== 0) && new Set(VECTORS.map((v) => v.hash)).size === 3);
  for (const v of VECTORS) {
    const hash = hashById(v.hash)!;
    const kh = transformKey(parseDhchapSecret(v.hostSecret), v.hostnqn);
    const kc = transformKey(parseDhchapSecret(v.ctrlSecret), v.subnqn);
    assert.equal(kh.toString('hex'), v.hostKeyTransformed);
    assert.equal(kc.toString('hex'), v.ctrlKeyTransformed);
    let sessionKey: Buffer | undefined;
    if (v.dhGroup) {
      const g = dhGroupById(v.dhGroup)!;
      const pair = dhKeyPairFromPrivate(g, Buffer.from(v.ctrlPrivate!, 'hex'));
      assert.equal(pair.publicValue.toString('hex'), v.ctrlPublic);
      sessionKey = dhSharedSecret(g, pair.privateKey, Buffer.from(v.hostPublic!, 'hex'));
      assert.equal(sessionKey.toString('hex'), v.sessionKey);
    }
    const common = { hash, sessionKey, tid: v.tid, hostnqn: v.hostnqn, subnqn: v.subnqn };
    assert.equal(hostResponse({ ...common, key: kh, challenge: Buffer.from(v.c1, 'hex'), seqnum: v.s1 }).toString('hex'), v.r1);
    assert.equal(controllerResponse({ ...common, key: kc, challenge: Buffer.from(v.c2, 'hex'), seqnum: v.s2 }).toString('hex'), v.r2);
  }
});

test('a whole bidirectional exchange per vector: the controller sends the vector C1 and DH value, accepts R1, answers R2', () => {
  for (const v of VECTORS) {
    const auth = new QueueAuth(policy(v), v.hostnqn, v.subnqn, fixedRandom(v));
    assert.equal(auth.send(encodeNegotiate({ tid: v.tid, hashes: [1, 2, 3], dhGroups: ALL_GROUPS })), undefined);
    const chal = decodeAuthReceive(auth.receive(4096).data);
    assert.equal(chal.kind, 'challenge');
    if (chal.kind !== 'challenge') continue;
    assert.equal(chal.hashId, v.hash);
    assert.equal(chal.dhGroup, v.dhGroup);
    assert.equal(chal.c1.toString('hex'), v.c1);
    assert.equal(chal.seqnum, v.s1);
    assert.equal(chal.dhValue.toString('hex'), v.ctrlPublic ?? '');
    const reply = encodeReply({
      tid: v.tid, seqnum: v.s2, response: Buffer.from(v.r1, 'hex'), c2: Buffer.from(v.c2, 'hex'),
      dhValue: v.hostPublic ? Buffer.from(v.hostPublic, 'hex') : Buffer.alloc(0),
    });
    assert.equal(auth.send(reply), undefined);
    assert.equal(auth.authenticated, false, 'bidirectional: not before Success2');
    const s1 = auth.receive(4096);
    const success1 = decodeAuthReceive(s1.data);
    assert.equal(success1.kind, 'success1');
    if (success1.kind === 'success1') assert.equal(success1.response?.toString('hex'), v.r2);
    assert.equal(s1.close, false);
    assert.deepEqual(auth.send(encodeSuccess2(v.tid)), { result: 'success' });
    assert.equal(auth.authenticated, true);
  }
});

/** A host's side of a unidirectional exchange with `secret`, against `auth`; returns the final Receive. */
function runHost(auth: QueueAuth, secret: string, opts: { hashes?: number[]; groups?: number[]; tid?: number } = {}) {
  const tid = opts.tid ?? 7;
  const ev = auth.send(encodeNegotiate({ tid, hashes: opts.hashes ?? [1, 2, 3], dhGroups: opts.groups ?? ALL_GROUPS }));
  assert.equal(ev, undefined);
  const first = auth.receive(4096);
  const chal = decodeAuthReceive(first.data);
  if (chal.kind !== 'challenge') return first;
  const hash = hashById(chal.hashId)!;
  let sessionKey: Buffer | undefined;
  let dhValue: Buffer = Buffer.alloc(0);
  if (chal.dhGroup) {
    const g = dhGroupById(chal.dhGroup)!;
    const pair = dhKeyPairFromPrivate(g, Buffer.from('0123456789abcdef', 'hex'));
    dhValue = pair.publicValue;
    sessionKey = dhSharedSecret(g, pair.privateKey, chal.dhValue);
  }
  const r1 = hostResponse({
    hash, key: transformKey(parseDhchapSecret(secret), auth.hostnqn), challenge: chal.c1, sessionKey, seqnum: chal.seqnum, tid,
    hostnqn: auth.hostnqn, subnqn: auth.subnqn,
  });
  auth.send(encodeReply({ tid, seqnum: 0, response: r1, c2: undefined, dhValue }));
  return auth.receive(4096);
}

const V = VECTORS[0];
test('unidirectional with each hash and a DH group: Success1 without R2, authenticated', () => {
  for (const h of HASHES) {
    for (const gid of [DhGroupId.Null, DhGroupId.Ffdhe2048]) {
      const auth = new QueueAuth({ hostKey: parseDhchapSecret(V.hostSecret), hashes: [h], dhGroups: [gid] }, V.hostnqn, V.subnqn);
      const last = runHost(auth, V.hostSecret);
      const m = decodeAuthReceive(last.data);
      assert.equal(m.kind, 'success1', `${h.name} ${gid}`);
      if (m.kind === 'success1') assert.equal(m.response, undefined);
      assert.deepEqual(last.event, { result: 'success' });
      assert.equal(auth.authenticated, true);
    }
  }
});

test('a wrong secret gets Failure1 "failed", the queue stays unauthenticated and is closed', () => {
  const auth = new QueueAuth(policy(V, false), V.hostnqn, V.subnqn);
  const last = runHost(auth, VECTORS[1].hostSecret);
  const m = decodeAuthReceive(last.data);
  assert.deepEqual(m.kind === 'failure1' && [m.rescode, m.rescodeExp], [1, AuthFailure.Failed]);
  assert.equal(last.close, true);
  assert.equal(auth.authenticated, false);
  assert.equal(last.event?.result, 'failure');
  assert.match(last.event?.result === 'failure' ? last.event.reason : '', /mismatch/);
  assert.ok(!JSON.stringify(last.event).includes(V.hostSecret.slice(10, 30)));
});

test('negotiation failures carry their reason codes (hash, DH group, SC_C, no DH-HMAC-CHAP descriptor)', () => {
  const cases: Array<[Buffer, number, Partial<HostAuth>]> = [
    [encodeNegotiate({ tid: 1, hashes: [HashId.Sha256], dhGroups: [0] }), AuthFailure.HashUnusable, { hashes: [hashById(3)!] }],
    [encodeNegotiate({ tid: 1, hashes: [1], dhGroups: [0] }), AuthFailure.DhGroupUnusable, { dhGroups: [DhGroupId.Ffdhe4096] }],
    [encodeNegotiate({ tid: 1, hashes: [1], dhGroups: [0], scC: 1 }), AuthFailure.ConcatMismatch, {}],
    [encodeNegotiate({ tid: 1, hashes: [1], dhGroups: [0], authId: 2 }), AuthFailure.IncorrectPayload, {}],
  ];
  for (const [msg, code, over] of cases) {
    const auth = new QueueAuth({ ...policy(V), ...over }, V.hostnqn, V.subnqn);
    auth.send(msg);
    const r = auth.receive(4096);
    const m = decodeAuthReceive(r.data);
    assert.deepEqual(m.kind === 'failure1' && m.rescodeExp, code);
    assert.equal(r.close, true);
  }
});

test('out of step and malformed messages: Failure1 "incorrect message" or "incorrect payload", never a throw', () => {
  const fresh = () => new QueueAuth(policy(V), V.hostnqn, V.subnqn);
  const a = fresh(); // Receive before Negotiate
  assert.equal((decodeAuthReceive(a.receive(64).data) as { rescodeExp: number }).rescodeExp, AuthFailure.IncorrectMessage);
  const b = fresh(); // Success2 before anything
  b.send(encodeSuccess2(0));
  assert.equal((decodeAuthReceive(b.receive(64).data) as { rescodeExp: number }).rescodeExp, AuthFailure.IncorrectMessage);
  const c = fresh(); // a truncated Negotiate
  c.send(encodeNegotiate({ tid: 1, hashes: [1], dhGroups: [0] }).subarray(0, 20));
  assert.equal((decodeAuthReceive(c.receive(64).data) as { rescodeExp: number }).rescodeExp, AuthFailure.IncorrectPayload);
  const d = fresh(); // a Reply with another T_ID
  d.send(encodeNegotiate({ tid: 1, hashes: [1], dhGroups: [0] }));
  d.receive(4096);
  d.send(encodeReply({ tid: 2, seqnum: 0, response: Buffer.alloc(32), c2: undefined, dhValue: Buffer.alloc(0) }));
  assert.equal((decodeAuthReceive(d.receive(64).data) as { rescodeExp: number }).rescodeExp, AuthFailure.IncorrectPayload);
  const e = fresh(); // AL too short for the challenge
  e.send(encodeNegotiate({ tid: 1, hashes: [1], dhGroups: [0] }));
  const short = e.receive(16);
  assert.equal(short.close, true);
  assert.equal(decodeAuthReceive(short.data).kind, 'failure1');
  for (let len = 0; len < 80; len++) {
    const f = fresh();
    f.send(Buffer.alloc(len, 0xff)); // garbage of every short length
    assert.equal(decodeAuthReceive(f.receive(64).data).kind, 'failure1');
  }
});

test('re-authentication: a Negotiate on an authenticated queue starts over and the queue stays authenticated until it fails', () => {
  const auth = new QueueAuth({ hostKey: parseDhchapSecret(V.hostSecret), hashes: [hashById(1)!], dhGroups: [0] }, V.hostnqn, V.subnqn);
  runHost(auth, V.hostSecret);
  assert.equal(auth.authenticated, true);
  auth.send(encodeNegotiate({ tid: 9, hashes: [1], dhGroups: [0] }));
  assert.equal(auth.authenticated, true);
  assert.equal(decodeAuthReceive(auth.receive(4096).data).kind, 'challenge');
  auth.send(encodeFailure2(9, AuthFailure.Failed));
  assert.equal(auth.authenticated, false);
});

test('bidirectional asked without a controller key configured: Failure1 "failed"', () => {
  const v = VECTORS[0];
  const auth = new QueueAuth(policy(v, false), v.hostnqn, v.subnqn, fixedRandom(v));
  auth.send(encodeNegotiate({ tid: v.tid, hashes: [1], dhGroups: [0] }));
  auth.receive(4096);
  auth.send(encodeReply({ tid: v.tid, seqnum: v.s2, response: Buffer.from(v.r1, 'hex'), c2: Buffer.from(v.c2, 'hex'), dhValue: Buffer.alloc(0) }));
  const m = decodeAuthReceive(auth.receive(4096).data);
  assert.equal(m.kind === 'failure1' && m.rescodeExp, AuthFailure.Failed);
  assert.ok(augmentedChallenge(hashById(1)!, undefined, Buffer.from('x')).equals(Buffer.from('x')));
});
