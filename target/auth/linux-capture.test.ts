// Replays a DH-HMAC-CHAP exchange captured between the Linux 6.12 host and this target (target/protocol/testdata,
// linux-612-dhchap.json): with the challenge's random values fixed to the captured ones, the state machine
// sends the captured Challenge byte for byte, accepts the Linux host's Reply (its R1, computed by the kernel),
// and answers the captured Success1 (R2, which the kernel checked and accepted with Success2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { AUTHREQ_ATR } from '../protocol/connect.js';
import { AuthSqe, decodeAuthReceive, decodeAuthSend } from '../protocol/auth.js';
import { FabricsType } from '../protocol/opcodes.js';
import { QueueAuth } from './queue-auth.js';
import { hashById } from './hashes.js';
import { parseDhchapSecret } from './secret.js';

interface Captured {
  hostnqn: string; subnqn: string; hostSecret: string; ctrlSecret: string;
  commands: Array<{ stream: number; fctype: number; cid: number; sqe: string; data?: string; cqe: string }>;
}
const CAPTURE: Captured = JSON.parse(readFileSync(new URL('../../../target/protocol/testdata/linux-612-dhchap.json', import.meta.url), 'utf8'));

test('the Linux 6.12 host offers every hash and group, and its exchange on both queues replays byte for byte', () => {
  // The target's configuration of the capture: the host key (hh 01: SHA-256 first), a controller key, the null group.
  const policy = { hostKey: parseDhchapSecret(CAPTURE.hostSecret), ctrlKey: parseDhchapSecret(CAPTURE.ctrlSecret), hashes: [hashById(1)!], dhGroups: [0] };
  for (const stream of [0, 1]) {
    const cmds = CAPTURE.commands.filter((c) => c.stream === stream);
    const connect = cmds.find((c) => c.fctype === FabricsType.Connect)!;
    assert.equal(Buffer.from(connect.cqe, 'hex').readUInt32LE(0) & AUTHREQ_ATR, AUTHREQ_ATR, 'ATR in the Connect result');
    const auth = cmds.filter((c) => c.fctype !== FabricsType.Connect);
    assert.deepEqual(auth.map((c) => c.fctype), [5, 6, 5, 6, 5], 'Negotiate, Challenge, Reply, Success1, Success2');
    const neg = decodeAuthSend(Buffer.from(auth[0].data!, 'hex'));
    assert.ok(neg.kind === 'negotiate');
    assert.deepEqual(neg.protocols.map((p) => [p.authId, p.hashes, p.dhGroups]), [[1, [1, 2, 3], [0, 1, 2, 3, 4, 5]]]);
    const challenge = decodeAuthReceive(Buffer.from(auth[1].data!, 'hex'));
    assert.ok(challenge.kind === 'challenge');
    const q = new QueueAuth(policy, CAPTURE.hostnqn, CAPTURE.subnqn, {
      challenge: () => challenge.c1, seqnum: () => challenge.seqnum, keyPair: () => { throw new Error('the null group has no DH'); },
    });
    const al = (c: { sqe: string }) => Buffer.from(c.sqe, 'hex').readUInt32LE(AuthSqe.AL);
    assert.equal(q.send(Buffer.from(auth[0].data!, 'hex')), undefined);
    assert.equal(q.receive(al(auth[1])).data.toString('hex'), auth[1].data, 'the Challenge');
    assert.equal(q.send(Buffer.from(auth[2].data!, 'hex')), undefined, "the kernel's R1 is accepted");
    const success1 = q.receive(al(auth[3]));
    assert.equal(success1.data.toString('hex'), auth[3].data, 'Success1 with R2');
    assert.deepEqual(q.send(Buffer.from(auth[4].data!, 'hex')), { result: 'success' });
    assert.equal(q.authenticated, true);
    for (const c of auth) assert.equal(Buffer.from(c.cqe, 'hex').readUInt16LE(14) >> 1, 0, 'every AUTH command succeeded');
  }
});

