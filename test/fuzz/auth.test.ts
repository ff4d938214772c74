// Malformed DH-HMAC-CHAP against the target process (issue 21, 4): FUZZ_AUTH_ROUNDS seeded rounds, each on a
// fresh admin queue of a host that must authenticate: random bytes as an AUTH message, a valid Negotiate or
// Reply with bytes flipped or cut, messages out of order, a Receive before anything, random AL and TL, wrong
// SECP/SPSP, commands before authentication. Every command gets a completion; a transaction that fails
// answers AUTH_Failure1 and the queue closes; the target logs one line per failure and counts it in
// nvmeof_target_auth_total{method="dhchap",result="failure"}; it never dies, logs no internal error, and a
// host that authenticated before the storm is served after it, as is a new one. Ports: OS-assigned (freePort).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startTarget } from '../support/target-process.js';
import { identifySqe, propertyGetSqe, type HostQueue } from '../host/index.js';
import { authReceive, authSend, authSqe, authenticateQueue, connectRaw, writeDhchapConfig } from '../host/auth.js';
import { AuthSqe, encodeNegotiate, encodeReply } from '../../target/protocol/auth.js';
import { AUTHREQ_ATR, DYNAMIC_CNTLID } from '../../target/protocol/connect.js';
import { Status } from '../../target/protocol/status.js';
import { formatDhchapSecret } from '../../target/auth/secret.js';
import { Rng } from './rng.js';

const ROUNDS = Number(process.env.FUZZ_AUTH_ROUNDS ?? 60);
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 0x7fffffff));
const HOST = 'nqn.2014-08.org.nvmexpress:uuid:6a1d2c3b-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const NQN = 'nqn.2026-01.io.nvmeof.test:auth-fuzz';
const HOSTID = Buffer.from('6a1d2c3b4e5f4a6b8c7d9e0f1a2b3c4d', 'hex');
const SECRET = formatDhchapSecret({ hh: 1, key: Buffer.alloc(32, 0x4d) });
const CTRL_SECRET = formatDhchapSecret({ hh: 2, key: Buffer.alloc(48, 0x4e) });

/** Property Get of CSTS: what an authenticated admin queue answers before its controller is enabled. */
const CSTS = 0x1c;

/** Statuses an Authentication Send/Receive may complete with here (target/controller/auth-cmd.ts, target.ts). */
const AUTH_STATUSES = new Set([0, Status.InvalidField, Status.SglDataLengthInvalid, Status.AuthRequired]);

function openAdmin(port: number): Promise<{ q: HostQueue; dw0: number }> {
  return connectRaw(port, { qid: 0, cntlid: DYNAMIC_CNTLID, subnqn: NQN, hostnqn: HOST, hostid: HOSTID, depth: 8 });
}

function mutate(rng: Rng, b: Buffer): Buffer {
  const out = Buffer.from(b);
  const flips = 1 + rng.int(4);
  for (let i = 0; i < flips; i++) out[rng.int(out.length)] = rng.int(256);
  return rng.int(4) === 0 ? out.subarray(0, rng.int(out.length) + 1) : out;
}

async function metricsFailures(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(/^nvmeof_target_auth_total\{method="dhchap",result="failure"\} (\d+)/m.exec(text)?.[1] ?? 0);
}

test(`malformed AUTH messages: ${ROUNDS} rounds (seed ${SEED}), each answered, failures closed, logged and counted; the target and an authenticated host live on`, { timeout: 180_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nvmeof-auth-fuzz-'));
  const port = await freePort();
  const metricsPort = await freePort();
  const config = writeDhchapConfig(dir, { port, metricsPort, nqn: NQN, host: HOST, secret: SECRET, ctrlSecret: CTRL_SECRET, dhGroups: ['null', 'ffdhe2048'], backing: 'memory' });
  const target = await startTarget(['--config', config]);
  const rng = new Rng(SEED);
  try {
    // A host that authenticates (bidirectionally) before the storm and must be served after it.
    const healthy = await openAdmin(port);
    assert.equal(healthy.dw0 & AUTHREQ_ATR, AUTHREQ_ATR);
    await authenticateQueue(healthy.q, { hostnqn: HOST, subnqn: NQN, secret: SECRET, ctrlSecret: CTRL_SECRET });
    assert.equal((await healthy.q.submit(propertyGetSqe(CSTS, false))).status, 0);

    const failuresBefore = await metricsFailures(metricsPort);
    let failed = 0;
    const kinds = new Map<string, number>();
    for (let round = 0; round < ROUNDS; round++) {
      const { q } = await openAdmin(port);
      const kind = ['garbage', 'negotiate', 'reply', 'order', 'fields', 'early'][rng.int(6)];
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      let sawFailure1 = false;
      /** An AL too short for even an AUTH_Failure1 (8 bytes): the host cannot tell the failure, the close follows. */
      let shortReceive = false;
      const send = async (msg: Buffer) => {
        const c = await authSend(q, msg);
        assert.ok(AUTH_STATUSES.has(c.status), `${kind}: Authentication Send status 0x${c.status.toString(16)}`);
      };
      const receive = async (al = 2048) => {
        if (al < 8) shortReceive = true;
        const r = await authReceive(q, al);
        assert.ok(AUTH_STATUSES.has(r.c.status), `${kind}: Authentication Receive status 0x${r.c.status.toString(16)}`);
        if (r.msg?.kind === 'failure1') sawFailure1 = true;
        return r;
      };
      try {
        switch (kind) {
          case 'garbage': // random bytes of a random length as the first message
            await send(rng.bytes(1 + rng.int(300)));
            await receive(8 + rng.int(2048));
            break;
          case 'negotiate': // a Negotiate with bytes flipped or cut, then the challenge it earns
            await send(mutate(rng, encodeNegotiate({ tid: 1, hashes: [1, 2, 3], dhGroups: [0, 1, 2, 3, 4, 5] })));
            await receive(rng.int(3) === 0 ? 1 + rng.int(60) : 2048);
            await send(mutate(rng, encodeReply({ tid: 1, seqnum: 0, response: rng.bytes(32), c2: undefined, dhValue: Buffer.alloc(0) })));
            await receive();
            break;
          case 'reply': { // a good Negotiate, then a Reply with a wrong, cut or oversized body
            await send(encodeNegotiate({ tid: 2, hashes: [1], dhGroups: [rng.int(2)] }));
            const chal = await receive();
            const dh = rng.int(3) === 0 ? rng.bytes(rng.int(400)) : Buffer.alloc(chal.msg?.kind === 'challenge' ? chal.msg.dhValue.length : 0, 7);
            await send(mutate(rng, encodeReply({ tid: 2, seqnum: rng.int(2), response: rng.bytes(32), c2: rng.int(2) ? rng.bytes(32) : undefined, dhValue: dh })));
            await receive();
            break;
          }
          case 'order': // Success2 or a Reply first, or a Receive before anything
            if (rng.int(2)) await send(encodeReply({ tid: 0, seqnum: 0, response: rng.bytes(32), c2: undefined, dhValue: Buffer.alloc(0) }));
            await receive();
            break;
          case 'fields': { // wrong SECP, SPSP, TL against the SGL, a zero TL: refused as commands, the queue lives
            const msg = encodeNegotiate({ tid: 3, hashes: [1], dhGroups: [0] });
            const sqe = authSqe('send', msg.length);
            const which = rng.int(4);
            if (which === 0) sqe[AuthSqe.SECP] = rng.int(0xe9);
            if (which === 1) sqe[AuthSqe.SPSP0 + rng.int(2)] = 2 + rng.int(200);
            if (which === 2) sqe.writeUInt32LE(msg.length + 1 + rng.int(100), AuthSqe.TL);
            if (which === 3) sqe.writeUInt32LE(0, AuthSqe.TL);
            const c = await q.submit(sqe, { out: msg });
            assert.ok(c.status === Status.InvalidField || c.status === Status.SglDataLengthInvalid, `fields ${which}: 0x${c.status.toString(16)}`);
            break;
          }
          case 'early': { // an admin command before authentication
            const c = await q.submit(identifySqe(1, 0), { inp: Buffer.alloc(4096) });
            assert.equal(c.status, Status.AuthRequired);
            break;
          }
        }
      } catch (e) {
        // The queue may close under a command once a Failure1 went out; anything else is a finding.
        if (!sawFailure1 && !shortReceive) throw new Error(`round ${round} (${kind}, seed ${SEED}): ${(e as Error).message}`, { cause: e });
      }
      if (sawFailure1) {
        failed++;
        await q.closed;
      } else {
        q.close();
      }
    }
    t.diagnostic(`rounds by kind: ${JSON.stringify(Object.fromEntries(kinds))}; ${failed} ended with AUTH_Failure1`);
    assert.ok(failed > 0, 'some rounds must have failed authentication');
    // Each Failure1 is counted once (rounds that closed without one are counted when their 10 s deadline
    // passes, after this check).
    assert.ok((await metricsFailures(metricsPort)) - failuresBefore >= failed, 'every Failure1 counted');
    const warnings = target.lines.filter((l) => l.includes('"message":"authentication failed"'));
    assert.ok(warnings.length >= failed, 'one warning per failure');
    assert.ok(warnings.every((l) => l.includes(HOST)), 'each names the host');
    assert.ok(!target.lines.some((l) => l.includes(SECRET.slice(10, 40)) || l.includes(CTRL_SECRET.slice(10, 40))), 'no key is logged');
    // The healthy host is still served, and a new host authenticates.
    assert.equal((await healthy.q.submit(propertyGetSqe(CSTS, false))).status, 0);
    const fresh = await openAdmin(port);
    await authenticateQueue(fresh.q, { hostnqn: HOST, subnqn: NQN, secret: SECRET });
    assert.equal((await fresh.q.submit(propertyGetSqe(CSTS, false))).status, 0);
    fresh.q.close();
    healthy.q.close();
  } finally {
    await target.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});
