// The host's side of DH-HMAC-CHAP for the TypeScript host library (as drivers/nvme/host/auth.c does it):
// Negotiate, read the Challenge, Reply with R1 (and C2 when a controller secret is given), read Success1 and
// check R2, Success2. Built on the target's own codec and computations (target/protocol/auth.ts, target/auth),
// whose known-answer tests tie them to the Linux algorithm.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdminOpc, FabricsType } from '../../target/protocol/opcodes.js';
import { buildSqe } from '../../target/protocol/sqe.js';
import {
  AUTH_SECP_DHCHAP, AUTH_SPSP, AuthFailure, AuthSqe, decodeAuthReceive, encodeFailure2, encodeNegotiate, encodeReply, encodeSuccess2,
  type ControllerAuthMessage,
} from '../../target/protocol/auth.js';
import { controllerResponse, hostResponse } from '../../target/auth/dhchap.js';
import { dhGroupById } from '../../target/auth/ffdhe.js';
import { dhSharedSecret, generateDhKeyPair } from '../../target/auth/dh.js';
import { HASHES, hashById } from '../../target/auth/hashes.js';
import { parseDhchapSecret, transformKey } from '../../target/auth/secret.js';
import { HostQueue, type Completion } from './queue.js';
import { connectSqe } from './commands.js';
import { encodeConnectData } from '../../target/protocol/connect.js';

/** An Authentication Send (`send`: the message) or Receive (`receive`: AL) SQE with SECP E9h, SPSP 01h/01h. */
export function authSqe(kind: 'send' | 'receive', len: number): Buffer {
  const sqe = buildSqe({ opc: AdminOpc.Fabrics, cid: 0, fctype: kind === 'send' ? FabricsType.AuthSend : FabricsType.AuthReceive });
  sqe[AuthSqe.SECP] = AUTH_SECP_DHCHAP;
  sqe[AuthSqe.SPSP0] = AUTH_SPSP;
  sqe[AuthSqe.SPSP1] = AUTH_SPSP;
  sqe.writeUInt32LE(len, AuthSqe.TL);
  return sqe;
}

export async function authSend(q: HostQueue, msg: Buffer): Promise<Completion> {
  return q.submit(authSqe('send', msg.length), { out: msg });
}

export async function authReceive(q: HostQueue, al = 2048): Promise<{ c: Completion; msg: ControllerAuthMessage | undefined; raw: Buffer }> {
  const inp = Buffer.alloc(al);
  const c = await q.submit(authSqe('receive', al), { inp });
  const raw = inp.subarray(0, c.bytes);
  let msg: ControllerAuthMessage | undefined;
  try {
    msg = c.status === 0 ? decodeAuthReceive(raw) : undefined;
  } catch {
    msg = undefined;
  }
  return { c, msg, raw };
}

export class AuthFailedError extends Error {}

/**
 * Authenticates queue `q` (connected with AUTHREQ.ATR) with the host `secret` (DHHC-1), and the controller
 * with `ctrlSecret` when given. Offers every hash and group, as the Linux host. Throws AuthFailedError with
 * the controller's Failure1 reason, or when the controller's response R2 is wrong (after sending Failure2).
 */
export async function authenticateQueue(q: HostQueue, o: { hostnqn: string; subnqn: string; secret: string; ctrlSecret?: string; tid?: number }): Promise<{ hash: string; dhGroup: number }> {
  const tid = o.tid ?? q.qid ?? 0;
  await authSend(q, encodeNegotiate({ tid, hashes: HASHES.map((h) => h.id), dhGroups: [0, 1, 2, 3, 4, 5] }));
  const first = await authReceive(q);
  if (first.msg?.kind !== 'challenge') throw new AuthFailedError(`no challenge: ${JSON.stringify(first.msg ?? first.c)}`);
  const chal = first.msg;
  const hash = hashById(chal.hashId)!;
  let sessionKey: Buffer | undefined;
  let dhValue: Buffer = Buffer.alloc(0);
  if (chal.dhGroup !== 0) {
    const group = dhGroupById(chal.dhGroup)!;
    const pair = generateDhKeyPair(group);
    dhValue = pair.publicValue;
    sessionKey = dhSharedSecret(group, pair.privateKey, chal.dhValue);
  }
  const r1 = hostResponse({
    hash, key: transformKey(parseDhchapSecret(o.secret), o.hostnqn), challenge: chal.c1, sessionKey, seqnum: chal.seqnum, tid,
    hostnqn: o.hostnqn, subnqn: o.subnqn,
  });
  const c2 = o.ctrlSecret ? randomBytes(hash.len) : undefined;
  const s2 = o.ctrlSecret ? 1 + randomBytes(3).readUIntBE(0, 3) : 0;
  await authSend(q, encodeReply({ tid, seqnum: s2, response: r1, c2, dhValue }));
  const second = await authReceive(q);
  if (second.msg?.kind === 'failure1') throw new AuthFailedError(`Failure1, reason ${second.msg.rescodeExp}`);
  if (second.msg?.kind !== 'success1') throw new AuthFailedError(`no Success1: ${JSON.stringify(second.msg ?? second.c)}`);
  if (o.ctrlSecret) {
    const r2 = controllerResponse({
      hash, key: transformKey(parseDhchapSecret(o.ctrlSecret), o.subnqn), challenge: c2!, sessionKey, seqnum: s2, tid, hostnqn: o.hostnqn, subnqn: o.subnqn,
    });
    if (!second.msg.response?.equals(r2)) {
      await authSend(q, encodeFailure2(tid, AuthFailure.Failed));
      throw new AuthFailedError('the controller response R2 is wrong');
    }
    await authSend(q, encodeSuccess2(tid));
  }
  return { hash: hash.name, dhGroup: chal.dhGroup };
}

/** A fresh queue, connected (qid 0 with DYNAMIC_CNTLID makes a controller); its Connect result dword 0 too. */
export async function connectRaw(port: number, o: { qid: number; cntlid: number; subnqn: string; hostnqn: string; hostid: Buffer; depth?: number }): Promise<{ q: HostQueue; dw0: number }> {
  const depth = o.depth ?? 16;
  const q = await HostQueue.open({ host: '127.0.0.1', port, depth, commandTimeoutMs: 10_000 });
  const data = encodeConnectData({ hostid: o.hostid, cntlid: o.cntlid, subnqn: o.subnqn, hostnqn: o.hostnqn });
  const c = await q.submit(connectSqe({ qid: o.qid, sqsize: depth - 1, kato: o.qid === 0 ? 30_000 : 0 }), { out: data });
  if (c.status !== 0) throw new Error(`Connect qid ${o.qid}: status 0x${c.status.toString(16)}`);
  q.qid = o.qid;
  return { q, dw0: c.dw0 };
}

/**
 * Writes, in `dir`, the host and controller keys and a target configuration: one subsystem on 127.0.0.1:`port`
 * with one 16 MiB namespace (a file with a state file, or memory) whose only host must authenticate.
 * Returns the configuration file's path.
 */
export function writeDhchapConfig(dir: string, o: {
  port: number; metricsPort: number; nqn: string; host: string; secret: string; ctrlSecret: string; dhGroups: string[]; backing: 'file' | 'memory';
}): string {
  writeFileSync(join(dir, 'host.key'), o.secret);
  writeFileSync(join(dir, 'ctrl.key'), o.ctrlSecret);
  const backing = o.backing === 'file' ? { kind: 'file', path: join(dir, 'ns1.img'), size: 16 << 20 } : { kind: 'memory', size: 16 << 20 };
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({
    apiVersion: 'nvmeof.io/v1alpha1', kind: 'TargetConfig',
    subsystems: [{
      nqn: o.nqn, hosts: [o.host], listeners: [{ address: '127.0.0.1', port: o.port }],
      namespaces: [{ nsid: 1, blockSize: 512, backing }],
      ...(o.backing === 'file' ? { stateFile: join(dir, 'state.bin') } : {}),
      dhchap: [{ host: o.host, keyFile: join(dir, 'host.key'), ctrlKeyFile: join(dir, 'ctrl.key'), dhGroups: o.dhGroups }],
    }],
    metrics: { address: '127.0.0.1', port: o.metricsPort },
    logLevel: 'info',
  }));
  return file;
}
