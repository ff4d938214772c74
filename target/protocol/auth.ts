// DH-HMAC-CHAP messages (NVMe Base 2.1, 8.3.4.5 "DH-HMAC-CHAP protocol"; Linux include/linux/nvme.h,
// struct nvmf_auth_dhchap_*_data) and the Authentication Send/Receive command fields (NVMe over Fabrics 1.1,
// 6.2/6.3; struct nvmf_auth_send_command). Wire formats only: every offset is named here once, and the
// decoders refuse a message shorter than its own lengths say (a malformed message is data, never a crash).

/** SQE fields of Authentication Send (TL) and Authentication Receive (AL). */
export const AuthSqe = { SPSP0: 41, SPSP1: 42, SECP: 43, TL: 44, AL: 44 } as const;
/** SECP of DH-HMAC-CHAP; SPSP0 and SPSP1 must both be 01h (NVMe Base 2.1, 5.26 Security Protocol E9h). */
export const AUTH_SECP_DHCHAP = 0xe9;
export const AUTH_SPSP = 0x01;

export const AuthType = { Common: 0x00, Dhchap: 0x01 } as const;
export const AuthMsg = {
  Negotiate: 0x00,
  Challenge: 0x01,
  Reply: 0x02,
  Success1: 0x03,
  Success2: 0x04,
  Failure2: 0xf0,
  Failure1: 0xf1,
} as const;

/** DH-HMAC-CHAP's AUTHID in a protocol descriptor. */
export const DHCHAP_AUTH_ID = 0x01;

/** Hash function identifiers (HashID); also the `hh` of a DHHC-1 secret (0: the key is used untransformed). */
export const HashId = { Sha256: 0x01, Sha384: 0x02, Sha512: 0x03 } as const;
/** Diffie-Hellman group identifiers (DHGID). */
export const DhGroupId = { Null: 0x00, Ffdhe2048: 0x01, Ffdhe3072: 0x02, Ffdhe4096: 0x03, Ffdhe6144: 0x04, Ffdhe8192: 0x05 } as const;

/** Reason code explanations of Failure1/Failure2 (REASON CODE is always 01h, "authentication failure"). */
export const AuthFailure = {
  Failed: 0x01,
  NotUsable: 0x02,
  ConcatMismatch: 0x03,
  HashUnusable: 0x04,
  DhGroupUnusable: 0x05,
  IncorrectPayload: 0x06,
  IncorrectMessage: 0x07,
} as const;
export const AUTH_REASON_FAILED = 0x01;

const FAILURE_NAMES: Record<number, string> = {
  [AuthFailure.Failed]: 'failed',
  [AuthFailure.NotUsable]: 'not_usable',
  [AuthFailure.ConcatMismatch]: 'concat_mismatch',
  [AuthFailure.HashUnusable]: 'hash_unusable',
  [AuthFailure.DhGroupUnusable]: 'dhgroup_unusable',
  [AuthFailure.IncorrectPayload]: 'incorrect_payload',
  [AuthFailure.IncorrectMessage]: 'incorrect_message',
};
export function authFailureName(code: number): string {
  return FAILURE_NAMES[code] ?? `0x${code.toString(16)}`;
}

/** Every message starts with AUTH_TYPE, AUTH_ID, two reserved bytes and T_ID. */
const M = { AUTH_TYPE: 0, AUTH_ID: 1, T_ID: 4 } as const;
/** Negotiate: SC_C, NAPD, then NAPD protocol descriptors of 64 bytes (AUTHID, rsvd, HALEN, DHLEN, IDLIST[60]). */
const NEG = { SC_C: 6, NAPD: 7, DESCRIPTORS: 8, DESC_SIZE: 64, AUTHID: 0, HALEN: 2, DHLEN: 3, IDLIST: 4, DH_IDS: 30 } as const;
/** Challenge: HL, rsvd, HASHID, DHGID, DHVLEN, SEQNUM, then C1 (HL bytes) and the DH value. */
const CHAL = { HL: 6, HASHID: 8, DHGID: 9, DHVLEN: 10, SEQNUM: 12, CVAL: 16 } as const;
/** Reply: HL, rsvd, CVALID, rsvd, DHVLEN, SEQNUM, then R1 (HL), C2 (HL) and the DH value. */
const REPLY = { HL: 6, CVALID: 8, DHVLEN: 10, SEQNUM: 12, RVAL: 16 } as const;
/** Success1: HL, rsvd, RVALID, 7 reserved, then R2 (HL bytes, meaningful when RVALID). */
const SUCCESS1 = { HL: 6, RVALID: 8, RVAL: 16 } as const;
/** Success2 is 16 bytes; Failure1/2: RESCODE and RESCODE_EXP after T_ID (8 bytes; nvmet sends 8, hosts may read 16). */
export const SUCCESS2_SIZE = 16;
const FAIL = { RESCODE: 6, RESCODE_EXP: 7 } as const;
export const FAILURE_SIZE = 8;
export const HEADER_SIZE = 16;

/** Where the idlist's DH group identifiers start (the first 30 entries are hash identifiers). */
export const MAX_HASH_IDS = NEG.DH_IDS;
export const MAX_DH_IDS = 60 - NEG.DH_IDS;

export type AuthMessage =
  | { kind: 'negotiate'; tid: number; scC: number; protocols: Array<{ authId: number; hashes: number[]; dhGroups: number[] }> }
  | { kind: 'reply'; tid: number; hl: number; cvalid: boolean; seqnum: number; response: Buffer; c2: Buffer; dhValue: Buffer }
  | { kind: 'success2'; tid: number }
  | { kind: 'failure2'; tid: number; rescode: number; rescodeExp: number }
  | { kind: 'other'; tid: number; authType: number; authId: number };

/** Why a message could not be read: it is shorter than its own fields say, or a field is out of range. */
export class MalformedAuthMessage extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedAuthMessage';
  }
}

function need(data: Buffer, n: number, what: string): void {
  if (data.length < n) throw new MalformedAuthMessage(`${what}: ${data.length} bytes, at least ${n} needed`);
}

/**
 * Reads what a host sends with Authentication Send. Throws MalformedAuthMessage when the message is
 * truncated or its descriptor lengths overrun the IDLIST; an unknown AUTH_TYPE/AUTH_ID pair is 'other' (the
 * state machine answers it with Failure1 "incorrect message", as nvmet_execute_auth_send does).
 */
export function decodeAuthSend(data: Buffer): AuthMessage {
  need(data, 8, 'authentication message');
  const authType = data[M.AUTH_TYPE];
  const authId = data[M.AUTH_ID];
  const tid = data.readUInt16LE(M.T_ID);
  if (authType === AuthType.Common && authId === AuthMsg.Negotiate) {
    const napd = data[NEG.NAPD];
    need(data, NEG.DESCRIPTORS + napd * NEG.DESC_SIZE, 'negotiate');
    const protocols = [];
    for (let i = 0; i < napd; i++) {
      const at = NEG.DESCRIPTORS + i * NEG.DESC_SIZE;
      const halen = data[at + NEG.HALEN];
      const dhlen = data[at + NEG.DHLEN];
      if (halen > MAX_HASH_IDS || dhlen > MAX_DH_IDS) throw new MalformedAuthMessage(`negotiate: HALEN ${halen} or DHLEN ${dhlen} overruns the IDLIST`);
      const ids = at + NEG.IDLIST;
      protocols.push({
        authId: data[at + NEG.AUTHID],
        hashes: [...data.subarray(ids, ids + halen)],
        dhGroups: [...data.subarray(ids + NEG.DH_IDS, ids + NEG.DH_IDS + dhlen)],
      });
    }
    return { kind: 'negotiate', tid, scC: data[NEG.SC_C], protocols };
  }
  if (authType === AuthType.Common && authId === AuthMsg.Failure2) {
    return { kind: 'failure2', tid, rescode: data[FAIL.RESCODE], rescodeExp: data[FAIL.RESCODE_EXP] };
  }
  if (authType === AuthType.Dhchap && authId === AuthMsg.Reply) {
    need(data, HEADER_SIZE, 'reply');
    const hl = data[REPLY.HL];
    const dhvlen = data.readUInt16LE(REPLY.DHVLEN);
    need(data, REPLY.RVAL + 2 * hl + dhvlen, 'reply');
    const at = REPLY.RVAL;
    return {
      kind: 'reply', tid, hl,
      cvalid: (data[REPLY.CVALID] & 0x01) !== 0,
      seqnum: data.readUInt32LE(REPLY.SEQNUM),
      response: Buffer.from(data.subarray(at, at + hl)),
      c2: Buffer.from(data.subarray(at + hl, at + 2 * hl)),
      dhValue: Buffer.from(data.subarray(at + 2 * hl, at + 2 * hl + dhvlen)),
    };
  }
  if (authType === AuthType.Dhchap && authId === AuthMsg.Success2) return { kind: 'success2', tid };
  return { kind: 'other', tid, authType, authId };
}

/** DH-HMAC-CHAP_Challenge: C1 and, with a DH group, the controller's public value. */
export function encodeChallenge(f: { tid: number; hashId: number; dhGroup: number; seqnum: number; c1: Buffer; dhValue: Buffer }): Buffer {
  const b = Buffer.alloc(CHAL.CVAL + f.c1.length + f.dhValue.length);
  b[M.AUTH_TYPE] = AuthType.Dhchap;
  b[M.AUTH_ID] = AuthMsg.Challenge;
  b.writeUInt16LE(f.tid, M.T_ID);
  b[CHAL.HL] = f.c1.length;
  b[CHAL.HASHID] = f.hashId;
  b[CHAL.DHGID] = f.dhGroup;
  b.writeUInt16LE(f.dhValue.length, CHAL.DHVLEN);
  b.writeUInt32LE(f.seqnum >>> 0, CHAL.SEQNUM);
  f.c1.copy(b, CHAL.CVAL);
  f.dhValue.copy(b, CHAL.CVAL + f.c1.length);
  return b;
}

/** DH-HMAC-CHAP_Success1: HL always, R2 (the controller's response) only when the host asked for one. */
export function encodeSuccess1(f: { tid: number; hl: number; response: Buffer | undefined }): Buffer {
  const b = Buffer.alloc(SUCCESS1.RVAL + f.hl);
  b[M.AUTH_TYPE] = AuthType.Dhchap;
  b[M.AUTH_ID] = AuthMsg.Success1;
  b.writeUInt16LE(f.tid, M.T_ID);
  b[SUCCESS1.HL] = f.hl;
  if (f.response) {
    b[SUCCESS1.RVALID] = 0x01;
    f.response.copy(b, SUCCESS1.RVAL);
  }
  return b;
}

/** AUTH_Failure1 (controller to host): reason 01h and its explanation. */
export function encodeFailure1(tid: number, rescodeExp: number): Buffer {
  const b = Buffer.alloc(FAILURE_SIZE);
  b[M.AUTH_TYPE] = AuthType.Common;
  b[M.AUTH_ID] = AuthMsg.Failure1;
  b.writeUInt16LE(tid & 0xffff, M.T_ID);
  b[FAIL.RESCODE] = AUTH_REASON_FAILED;
  b[FAIL.RESCODE_EXP] = rescodeExp;
  return b;
}

// ---- The host's side, for tests and the TypeScript host library: encoders of what a host sends ----

export function encodeNegotiate(f: { tid: number; scC?: number; hashes: number[]; dhGroups: number[]; authId?: number }): Buffer {
  const b = Buffer.alloc(NEG.DESCRIPTORS + NEG.DESC_SIZE);
  b[M.AUTH_TYPE] = AuthType.Common;
  b[M.AUTH_ID] = AuthMsg.Negotiate;
  b.writeUInt16LE(f.tid, M.T_ID);
  b[NEG.SC_C] = f.scC ?? 0;
  b[NEG.NAPD] = 1;
  const at = NEG.DESCRIPTORS;
  b[at + NEG.AUTHID] = f.authId ?? DHCHAP_AUTH_ID;
  b[at + NEG.HALEN] = f.hashes.length;
  b[at + NEG.DHLEN] = f.dhGroups.length;
  Buffer.from(f.hashes).copy(b, at + NEG.IDLIST);
  Buffer.from(f.dhGroups).copy(b, at + NEG.IDLIST + NEG.DH_IDS);
  return b;
}

export function encodeReply(f: { tid: number; seqnum: number; response: Buffer; c2: Buffer | undefined; dhValue: Buffer }): Buffer {
  const hl = f.response.length;
  const b = Buffer.alloc(REPLY.RVAL + 2 * hl + f.dhValue.length);
  b[M.AUTH_TYPE] = AuthType.Dhchap;
  b[M.AUTH_ID] = AuthMsg.Reply;
  b.writeUInt16LE(f.tid, M.T_ID);
  b[REPLY.HL] = hl;
  b[REPLY.CVALID] = f.c2 ? 1 : 0;
  b.writeUInt16LE(f.dhValue.length, REPLY.DHVLEN);
  b.writeUInt32LE(f.seqnum >>> 0, REPLY.SEQNUM);
  f.response.copy(b, REPLY.RVAL);
  f.c2?.copy(b, REPLY.RVAL + hl);
  f.dhValue.copy(b, REPLY.RVAL + 2 * hl);
  return b;
}

export function encodeSuccess2(tid: number): Buffer {
  const b = Buffer.alloc(SUCCESS2_SIZE);
  b[M.AUTH_TYPE] = AuthType.Dhchap;
  b[M.AUTH_ID] = AuthMsg.Success2;
  b.writeUInt16LE(tid, M.T_ID);
  return b;
}

export function encodeFailure2(tid: number, rescodeExp: number): Buffer {
  const b = encodeFailure1(tid, rescodeExp);
  b[M.AUTH_ID] = AuthMsg.Failure2;
  return b;
}

/** What a controller sends with Authentication Receive, read by a host. */
export type ControllerAuthMessage =
  | { kind: 'challenge'; tid: number; hashId: number; dhGroup: number; seqnum: number; c1: Buffer; dhValue: Buffer }
  | { kind: 'success1'; tid: number; hl: number; response: Buffer | undefined }
  | { kind: 'failure1'; tid: number; rescode: number; rescodeExp: number };

export function decodeAuthReceive(data: Buffer): ControllerAuthMessage {
  need(data, FAILURE_SIZE, 'authentication message');
  const tid = data.readUInt16LE(M.T_ID);
  const type = data[M.AUTH_TYPE];
  const id = data[M.AUTH_ID];
  if (type === AuthType.Common && id === AuthMsg.Failure1) return { kind: 'failure1', tid, rescode: data[FAIL.RESCODE], rescodeExp: data[FAIL.RESCODE_EXP] };
  need(data, HEADER_SIZE, 'authentication message');
  const hl = data[CHAL.HL];
  if (type === AuthType.Dhchap && id === AuthMsg.Challenge) {
    const dhvlen = data.readUInt16LE(CHAL.DHVLEN);
    need(data, CHAL.CVAL + hl + dhvlen, 'challenge');
    return {
      kind: 'challenge', tid, hashId: data[CHAL.HASHID], dhGroup: data[CHAL.DHGID], seqnum: data.readUInt32LE(CHAL.SEQNUM),
      c1: Buffer.from(data.subarray(CHAL.CVAL, CHAL.CVAL + hl)),
      dhValue: Buffer.from(data.subarray(CHAL.CVAL + hl, CHAL.CVAL + hl + dhvlen)),
    };
  }
  if (type === AuthType.Dhchap && id === AuthMsg.Success1) {
    need(data, SUCCESS1.RVAL + hl, 'success1');
    const valid = (data[SUCCESS1.RVALID] & 1) !== 0;
    return { kind: 'success1', tid, hl, response: valid ? Buffer.from(data.subarray(SUCCESS1.RVAL, SUCCESS1.RVAL + hl)) : undefined };
  }
  throw new MalformedAuthMessage(`unexpected message type ${type} id 0x${id.toString(16)}`);
}
