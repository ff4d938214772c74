// Malformed-PDU cases: each opens a fresh connection, sends PDUs broken in one known way (or random ones),
// and says what the controller must do about it (NVMe/TCP Transport Specification 1.0, 3.6.2.9 and 7.4:
// a fatal transport error is answered with a C2HTermReq whose FES names the kind of error, then the
// connection closes; an H2CTermReq from the host closes it without an answer; a data digest error only
// fails the command with Transient Transport Error).
import { CH, DATA, DIGEST_LEN, HLEN, PduFlag, PduType, TermFes, writeCommonHeader } from '../../target/protocol/pdu.js';
import { SQE } from '../../target/protocol/sqe.js';
import { IoOpc } from '../../target/protocol/opcodes.js';
import { Status } from '../../target/protocol/status.js';
import { CONNECT_DATA_SIZE, DYNAMIC_CNTLID, encodeConnectData } from '../../target/protocol/connect.js';
import { connectSqe, rwSqe, propertyGetSqe } from '../host/commands.js';
import type { Rng } from './rng.js';
import { capsulePdu, h2cDataPdu, h2cTermReqPdu, icreqPdu, inCapsule, noData, reseal, type Digests } from './pdus.js';

/** What the controller must do about a case. */
export type Expect =
  /** A C2HTermReq with one of these FES, then the controller closes (or, where allowed, a CapsuleResp with one of orStatus). */
  | { kind: 'termreq'; fes: number[]; orStatus?: number[] }
  /** A CapsuleResp for `cid` with one of these statuses; the connection stays open. */
  | { kind: 'status'; cid: number; status: number[] }
  /** The controller closes without a C2HTermReq. */
  | { kind: 'clean-close' }
  /** Anything but dying or breaking the protocol; a C2HTermReq, if any, has a defined FES. */
  | { kind: 'any' }
  /** The controller did not do what the case needed to go on (an R2T that never came). */
  | { kind: 'failed'; why: string };

export interface R2TInfo {
  ttag: number;
  r2to: number;
  r2tl: number;
}

export interface CaseContext {
  rng: Rng;
  d: Digests;
  maxh2cdata: number;
  /** In-capsule data the controller takes (IOCCSZ * 16 - 64). */
  inCapsuleMax: number;
  /** Blocks of the namespace the fuzzer may write (nsid 1, 512-byte blocks). */
  blocks: number;
  subnqn: string;
  hostnqn: string;
  hostid: Buffer;
  /** Sends one fuzz PDU (or a fragment the case counts as one). */
  send(pdu: Buffer): void;
  /** Waits for the R2T of command `cid` (undefined: none came, or the connection closed). */
  r2t(cid: number): Promise<R2TInfo | undefined>;
}

export interface CaseResult {
  expect: Expect;
  /** The PDU the controller should name in its C2HTermReq (the TermReq data is a prefix of it). */
  offending?: Buffer;
}

export interface FuzzCase {
  name: string;
  /** raw: nothing sent yet; ic: ICReq/ICResp done; io: and Connect of an I/O queue done. */
  setup: 'raw' | 'ic' | 'io';
  weight: number;
  run(c: CaseContext): Promise<CaseResult>;
}

const HOST_TYPES = new Set<number>([PduType.ICReq, PduType.H2CTermReq, PduType.CapsuleCmd, PduType.H2CData]);
const ALL_FES = [TermFes.InvalidHeaderField, TermFes.PduSequenceError, TermFes.HeaderDigestError, TermFes.DataTransferOutOfRange, TermFes.DataTransferLimitExceeded, TermFes.UnsupportedParameter];
export { ALL_FES };

const hdLen = (d: Digests) => (d.hdgst ? DIGEST_LEN : 0);

function randomCid(c: CaseContext): number {
  return c.rng.range(0x100, 0xfffe);
}

/** A command on an unbound queue that needs no controller: Property Get (answered Command Sequence Error). */
function harmlessCapsule(c: CaseContext, cid: number): Buffer {
  return noData(propertyGetSqe(0, true), cid, 0, c.d);
}

function connectCapsuleInCapsule(c: CaseContext, cid: number): Buffer {
  const data = encodeConnectData({ hostid: c.hostid, cntlid: DYNAMIC_CNTLID, subnqn: c.subnqn, hostnqn: c.hostnqn });
  return inCapsule(connectSqe({ qid: 0, sqsize: 15 }), cid, data, c.d);
}

function someValidPdu(c: CaseContext): Buffer {
  const cid = randomCid(c);
  switch (c.rng.int(5)) {
    case 0: return icreqPdu(c.d);
    case 1: return harmlessCapsule(c, cid);
    case 2: return connectCapsuleInCapsule(c, cid);
    case 3: return h2cDataPdu(cid, c.rng.int(4), 0, c.rng.bytes(c.rng.range(1, 64) * 4), true, c.d);
    default: return h2cTermReqPdu(c.rng.range(1, 6), c.rng.bytes(c.rng.int(129)));
  }
}

function flipBytes(c: CaseContext, b: Buffer, within: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const at = c.rng.int(Math.min(within, b.length));
    b[at] ^= 1 << c.rng.int(8);
  }
}

/** Sends the Connect of a new admin queue with its 1024 bytes of data asked by R2T, then answers the R2T with `mutate`. */
async function connectByR2T(
  c: CaseContext,
  mutate: (cid: number, r: R2TInfo, data: Buffer) => { pdus: Buffer[]; expect: Expect; offending?: Buffer },
): Promise<CaseResult> {
  const cid = randomCid(c);
  c.send(noData(connectSqe({ qid: 0, sqsize: 15 }), cid, CONNECT_DATA_SIZE, c.d));
  const r = await c.r2t(cid);
  if (!r) return { expect: { kind: 'failed', why: `no R2T for the Connect (CID ${cid}) with 1024 bytes of transport data` } };
  const data = encodeConnectData({ hostid: c.hostid, cntlid: DYNAMIC_CNTLID, subnqn: c.subnqn, hostnqn: c.hostnqn });
  const m = mutate(cid, r, data);
  for (const p of m.pdus) c.send(p);
  return { expect: m.expect, offending: m.offending };
}

/** A Write beyond the in-capsule size on a connected I/O queue; `mutate` answers its R2T. */
async function writeByR2T(
  c: CaseContext,
  minLen: number,
  maxLen: number,
  mutate: (cid: number, r: R2TInfo, data: Buffer) => { pdus: Buffer[]; expect: Expect; offending?: Buffer },
): Promise<CaseResult> {
  const cid = randomCid(c);
  const nlb = c.rng.range(Math.ceil(minLen / 512), Math.max(Math.ceil(minLen / 512), Math.floor(maxLen / 512)));
  const slba = c.rng.int(c.blocks - nlb);
  c.send(noData(rwSqe(IoOpc.Write, 1, slba, nlb), cid, nlb * 512, c.d));
  const r = await c.r2t(cid);
  if (!r) return { expect: { kind: 'failed', why: `no R2T for the Write (CID ${cid}) of ${nlb * 512} bytes` } };
  const m = mutate(cid, r, c.rng.bytes(nlb * 512));
  for (const p of m.pdus) c.send(p);
  return { expect: m.expect, offending: m.offending };
}

const termreq = (...fes: number[]): Expect => ({ kind: 'termreq', fes });
const F = TermFes;

export const CASES: FuzzCase[] = [
  // ---- the common header ----
  {
    name: 'pdu type a host never sends', setup: 'ic', weight: 6,
    async run(c) {
      let type: number;
      do type = c.rng.int(256); while (HOST_TYPES.has(type));
      const b = Buffer.concat([Buffer.alloc(CH.SIZE), c.rng.bytes(c.rng.int(120))]);
      writeCommonHeader(b, type, c.rng.int(256), c.rng.int(256), c.rng.int(256), c.rng.range(8, 300));
      c.send(b);
      return { expect: termreq(F.InvalidHeaderField), offending: b };
    },
  },
  {
    name: 'HLEN wrong for the type', setup: 'ic', weight: 6,
    async run(c) {
      const type = c.rng.pick([PduType.ICReq, PduType.H2CTermReq, PduType.CapsuleCmd, PduType.H2CData]);
      const want = { [PduType.ICReq]: HLEN.ICReq, [PduType.H2CTermReq]: HLEN.TermReq, [PduType.CapsuleCmd]: HLEN.CapsuleCmd, [PduType.H2CData]: HLEN.Data }[type]!;
      let hlen: number;
      do hlen = c.rng.int(256); while (hlen === want);
      const b = Buffer.concat([Buffer.alloc(CH.SIZE), c.rng.bytes(c.rng.int(200))]);
      writeCommonHeader(b, type, (c.d.hdgst ? PduFlag.HDGSTF : 0), hlen, 0, Math.max(hlen, 8) + c.rng.int(100));
      c.send(b);
      // A second ICReq is also out of sequence: either error names it.
      return { expect: termreq(F.InvalidHeaderField, ...(type === PduType.ICReq ? [F.PduSequenceError] : [])), offending: b };
    },
  },
  {
    name: 'PLEN shorter than the header', setup: 'ic', weight: 4,
    async run(c) {
      const b = harmlessCapsule(c, randomCid(c));
      b.writeUInt32LE(c.rng.int(HLEN.CapsuleCmd + hdLen(c.d)), CH.PLEN);
      c.send(b);
      return { expect: termreq(F.InvalidHeaderField), offending: b };
    },
  },
  {
    name: 'PLEN beyond anything negotiated', setup: 'ic', weight: 3,
    async run(c) {
      const b = harmlessCapsule(c, randomCid(c));
      b[CH.PDO] = HLEN.CapsuleCmd + hdLen(c.d);
      b.writeUInt32LE(c.rng.range(16 * 1024 * 1024 + 1, 0xffffffff), CH.PLEN);
      c.send(reseal(b));
      return { expect: termreq(F.InvalidHeaderField, F.DataTransferLimitExceeded), offending: b };
    },
  },
  {
    name: 'ICReq PLEN not 128 (second ICReq)', setup: 'ic', weight: 1,
    async run(c) {
      const b = icreqPdu(c.d);
      b.writeUInt32LE(c.rng.pick([0, 8, 127, 129, 256, c.rng.u32()]), CH.PLEN);
      c.send(b);
      return { expect: termreq(F.InvalidHeaderField, F.PduSequenceError), offending: b };
    },
  },
  {
    name: 'PDO outside the PDU', setup: 'ic', weight: 4,
    async run(c) {
      const b = inCapsule(propertyGetSqe(0, true), randomCid(c), c.rng.bytes(c.rng.range(1, 128) * 4), c.d);
      const headerEnd = HLEN.CapsuleCmd + hdLen(c.d);
      const plen = b.readUInt32LE(CH.PLEN);
      b[CH.PDO] = c.rng.chance(0.5) || plen >= 255 ? c.rng.int(headerEnd) : c.rng.range(plen + 1, 255);
      c.send(reseal(b));
      return { expect: termreq(F.InvalidHeaderField), offending: b };
    },
  },
  {
    name: 'PDO without data', setup: 'ic', weight: 2,
    async run(c) {
      const b = harmlessCapsule(c, randomCid(c));
      const headerEnd = HLEN.CapsuleCmd + hdLen(c.d);
      let pdo: number;
      do pdo = c.rng.range(1, 255); while (pdo === headerEnd || pdo === HLEN.CapsuleCmd);
      b[CH.PDO] = pdo;
      c.send(reseal(b));
      return { expect: termreq(F.InvalidHeaderField), offending: b };
    },
  },
  {
    name: 'header digest wrong', setup: 'ic', weight: 5,
    async run(c) {
      if (!c.d.hdgst) {
        // Without header digests negotiated, a PDU claiming one has a bad flag instead.
        const b = harmlessCapsule(c, randomCid(c));
        b[CH.FLAGS] |= PduFlag.HDGSTF;
        b.writeUInt32LE(b.readUInt32LE(CH.PLEN) + DIGEST_LEN, CH.PLEN);
        c.send(Buffer.concat([b, Buffer.alloc(DIGEST_LEN)]));
        return { expect: termreq(F.InvalidHeaderField), offending: b };
      }
      const b = c.rng.chance(0.5) ? harmlessCapsule(c, randomCid(c)) : connectCapsuleInCapsule(c, randomCid(c));
      b[b[CH.HLEN] + c.rng.int(DIGEST_LEN)] ^= 1 << c.rng.int(8);
      c.send(b);
      return { expect: termreq(F.HeaderDigestError), offending: b };
    },
  },
  {
    name: 'HDGSTF flag disagrees with negotiation', setup: 'ic', weight: 2,
    async run(c) {
      const b = harmlessCapsule(c, randomCid(c));
      b[CH.FLAGS] ^= PduFlag.HDGSTF;
      c.send(b);
      return { expect: termreq(F.InvalidHeaderField), offending: b };
    },
  },
  {
    name: 'DDGSTF flag disagrees with negotiation', setup: 'ic', weight: 2,
    async run(c) {
      const b = connectCapsuleInCapsule(c, randomCid(c));
      b[CH.FLAGS] ^= PduFlag.DDGSTF;
      c.send(reseal(b));
      return { expect: termreq(F.InvalidHeaderField), offending: b };
    },
  },
  {
    name: 'data digest wrong (not fatal: Transient Transport Error)', setup: 'ic', weight: 2,
    async run(c) {
      const cid = randomCid(c);
      if (!c.d.ddgst) {
        // Nothing to corrupt: a valid in-capsule Connect must succeed instead.
        c.send(connectCapsuleInCapsule(c, cid));
        return { expect: { kind: 'status', cid, status: [Status.Success] } };
      }
      const b = connectCapsuleInCapsule(c, cid);
      b[b.length - 1 - c.rng.int(DIGEST_LEN)] ^= 1 << c.rng.int(8);
      c.send(b);
      return { expect: { kind: 'status', cid, status: [Status.TransientTransportError] } };
    },
  },
  {
    name: 'in-capsule data beyond IOCCSZ', setup: 'ic', weight: 2,
    async run(c) {
      const len = c.inCapsuleMax + 4 * c.rng.range(1, 2048);
      const b = inCapsule(rwSqe(IoOpc.Write, 1, 0, Math.ceil(len / 512)), randomCid(c), c.rng.bytes(len), c.d);
      c.send(b);
      return { expect: { kind: 'termreq', fes: [F.DataTransferLimitExceeded, F.InvalidHeaderField], orStatus: [Status.SglDataLengthInvalid] }, offending: b };
    },
  },
  {
    name: 'second ICReq', setup: 'ic', weight: 2,
    async run(c) {
      const b = icreqPdu(c.d);
      c.send(b);
      return { expect: termreq(F.PduSequenceError), offending: b };
    },
  },
  {
    name: 'capsule before ICReq', setup: 'raw', weight: 2,
    async run(c) {
      const b = c.rng.chance(0.5) ? harmlessCapsule(c, randomCid(c)) : connectCapsuleInCapsule(c, randomCid(c));
      c.send(b);
      return { expect: termreq(F.PduSequenceError, F.InvalidHeaderField), offending: b };
    },
  },
  {
    name: 'H2CData without an R2T', setup: 'ic', weight: 3,
    async run(c) {
      const b = h2cDataPdu(randomCid(c), c.rng.int(0x10000), 0, c.rng.bytes(c.rng.range(1, 256) * 4), c.rng.chance(0.5), c.d);
      c.send(b);
      return { expect: termreq(F.InvalidHeaderField, F.PduSequenceError), offending: b };
    },
  },
  {
    name: 'H2CTermReq from the host', setup: 'ic', weight: 3,
    async run(c) {
      c.send(h2cTermReqPdu(c.rng.range(1, 6), c.rng.bytes(c.rng.int(129))));
      return { expect: { kind: 'clean-close' } };
    },
  },
  {
    name: 'H2CTermReq far longer than 152 bytes', setup: 'ic', weight: 1,
    async run(c) {
      const b = h2cTermReqPdu(1, Buffer.alloc(0));
      b.writeUInt32LE(HLEN.TermReq + c.rng.range(153, 4096), CH.PLEN);
      c.send(b);
      return { expect: termreq(F.InvalidHeaderField), offending: b };
    },
  },
  {
    name: 'truncated PDU, then the host closes', setup: 'ic', weight: 3,
    async run(c) {
      const b = someValidPdu(c);
      c.send(b.subarray(0, c.rng.range(1, b.length - 1)));
      return { expect: { kind: 'any' } };
    },
  },
  {
    name: 'random bytes', setup: 'ic', weight: 4,
    async run(c) {
      c.send(c.rng.bytes(c.rng.range(1, 400)));
      return { expect: { kind: 'any' } };
    },
  },
  {
    name: 'random bytes instead of ICReq', setup: 'raw', weight: 2,
    async run(c) {
      c.send(c.rng.bytes(c.rng.range(1, 400)));
      return { expect: { kind: 'any' } };
    },
  },
  {
    name: 'ICReq with bit flips', setup: 'raw', weight: 3,
    async run(c) {
      const b = icreqPdu(c.d);
      flipBytes(c, b, b.length, c.rng.range(1, 3));
      c.send(b);
      return { expect: { kind: 'any' } };
    },
  },
  {
    name: 'valid PDU with bit flips in its header', setup: 'ic', weight: 8,
    async run(c) {
      const b = someValidPdu(c);
      flipBytes(c, b, Math.min(b.length, b[CH.HLEN] || 8), c.rng.range(1, 3));
      c.send(c.rng.chance(0.7) ? reseal(b) : b);
      return { expect: { kind: 'any' } };
    },
  },
  {
    name: 'ICReq with bad PFV or HPDA', setup: 'raw', weight: 1,
    async run(c) {
      const b = icreqPdu(c.d);
      if (c.rng.chance(0.5)) b.writeUInt16LE(c.rng.range(1, 0xffff), 8);
      else b[10] = c.rng.range(32, 255);
      c.send(b);
      return { expect: termreq(F.InvalidHeaderField, F.UnsupportedParameter), offending: b };
    },
  },
  // ---- H2CData answering the R2T of a Connect on a fresh queue ----
  {
    name: 'H2CData with another transfer tag', setup: 'ic', weight: 2,
    run: (c) => connectByR2T(c, (cid, r, data) => {
      const p = h2cDataPdu(cid, (r.ttag + c.rng.range(1, 0xfffe)) & 0xffff, 0, data, true, c.d);
      return { pdus: [p], expect: termreq(F.InvalidHeaderField), offending: p };
    }),
  },
  {
    name: 'H2CData with another command identifier', setup: 'ic', weight: 2,
    run: (c) => connectByR2T(c, (cid, r, data) => {
      const p = h2cDataPdu((cid + c.rng.range(1, 0xfffe)) & 0xffff, r.ttag, 0, data, true, c.d);
      return { pdus: [p], expect: termreq(F.InvalidHeaderField), offending: p };
    }),
  },
  {
    name: 'H2CData at an offset the R2T did not ask', setup: 'ic', weight: 2,
    run: (c) => connectByR2T(c, (cid, r, data) => {
      const off = 4 * c.rng.range(1, 255);
      const p = h2cDataPdu(cid, r.ttag, off, data.subarray(0, CONNECT_DATA_SIZE - off), true, c.d);
      return { pdus: [p], expect: termreq(F.DataTransferOutOfRange), offending: p };
    }),
  },
  {
    name: 'H2CData longer than the R2T asked', setup: 'ic', weight: 2,
    run: (c) => connectByR2T(c, (cid, r) => {
      const p = h2cDataPdu(cid, r.ttag, 0, c.rng.bytes(CONNECT_DATA_SIZE + 4 * c.rng.range(1, 1000)), true, c.d);
      return { pdus: [p], expect: termreq(F.DataTransferOutOfRange), offending: p };
    }),
  },
  {
    name: 'H2CData DATAL disagrees with its PLEN', setup: 'ic', weight: 2,
    run: (c) => connectByR2T(c, (cid, r, data) => {
      const p = h2cDataPdu(cid, r.ttag, 0, data, true, c.d);
      p.writeUInt32LE(CONNECT_DATA_SIZE + c.rng.pick([-4, 4, -512, 1]), DATA.DATAL);
      return { pdus: [reseal(p)], expect: termreq(F.InvalidHeaderField, F.DataTransferOutOfRange), offending: p };
    }),
  },
  {
    name: 'H2CData LAST_PDU flag wrong', setup: 'ic', weight: 2,
    run: (c) => connectByR2T(c, (cid, r, data) => {
      if (c.rng.chance(0.5)) {
        const p = h2cDataPdu(cid, r.ttag, 0, data, false, c.d);
        return { pdus: [p], expect: termreq(F.InvalidHeaderField), offending: p };
      }
      const p = h2cDataPdu(cid, r.ttag, 0, data.subarray(0, 512), true, c.d);
      return { pdus: [p], expect: termreq(F.InvalidHeaderField), offending: p };
    }),
  },
  {
    name: 'H2CData data digest wrong (not fatal)', setup: 'ic', weight: 1,
    run: (c) => connectByR2T(c, (cid, r, data) => {
      const p = h2cDataPdu(cid, r.ttag, 0, data, true, c.d);
      if (!c.d.ddgst) return { pdus: [p], expect: { kind: 'status', cid, status: [Status.Success] } };
      p[p.length - 1] ^= 0x80;
      return { pdus: [p], expect: { kind: 'status', cid, status: [Status.TransientTransportError] } };
    }),
  },
  {
    name: 'H2CData in two valid pieces', setup: 'ic', weight: 1,
    run: (c) => connectByR2T(c, (cid, r, data) => {
      const cut = 4 * c.rng.range(1, 255);
      return {
        pdus: [h2cDataPdu(cid, r.ttag, 0, data.subarray(0, cut), false, c.d), h2cDataPdu(cid, r.ttag, cut, data.subarray(cut), true, c.d)],
        expect: { kind: 'status', cid, status: [Status.Success] },
      };
    }),
  },
  // ---- on a connected I/O queue ----
  {
    name: 'Write: one H2CData beyond MAXH2CDATA', setup: 'io', weight: 2,
    run: (c) => writeByR2T(c, c.maxh2cdata + 512, 512 * 1024, (cid, r, data) => {
      const p = h2cDataPdu(cid, r.ttag, 0, data, true, c.d);
      return { pdus: [p], expect: termreq(F.DataTransferLimitExceeded), offending: p };
    }),
  },
  {
    name: 'Write: H2CData skips or repeats a range', setup: 'io', weight: 2,
    // Each piece stays within MAXH2CDATA, so the range is the only thing wrong.
    run: (c) => writeByR2T(c, 16 * 1024, c.maxh2cdata, (cid, r, data) => {
      const first = 4 * c.rng.range(1, 1024);
      const second = c.rng.chance(0.5) ? first + 4 * c.rng.range(1, 64) : first - 4 * c.rng.range(1, first / 4);
      const a = h2cDataPdu(cid, r.ttag, 0, data.subarray(0, first), false, c.d);
      const b = h2cDataPdu(cid, r.ttag, second, data.subarray(second), true, c.d);
      return { pdus: [a, b], expect: termreq(F.DataTransferOutOfRange), offending: b };
    }),
  },
  {
    name: 'Write: valid, then one H2CData too many', setup: 'io', weight: 2,
    run: (c) => writeByR2T(c, 16 * 1024, 512 * 1024, (cid, r, data) => {
      const pdus: Buffer[] = [];
      for (let off = 0; off < data.length; off += c.maxh2cdata) {
        const piece = data.subarray(off, off + c.maxh2cdata);
        pdus.push(h2cDataPdu(cid, r.ttag, off, piece, off + piece.length === data.length, c.d));
      }
      const extra = h2cDataPdu(cid, r.ttag, 0, data.subarray(0, 512), true, c.d);
      pdus.push(extra);
      return { pdus, expect: termreq(F.InvalidHeaderField, F.PduSequenceError, F.DataTransferOutOfRange), offending: extra };
    }),
  },
  {
    name: 'command identifier reused while in flight', setup: 'io', weight: 2,
    async run(c) {
      const cid = randomCid(c);
      c.send(noData(rwSqe(IoOpc.Write, 1, 0, 64), cid, 64 * 512, c.d));
      if (!(await c.r2t(cid))) return { expect: { kind: 'failed', why: `no R2T for the Write (CID ${cid}) of 32 KiB` } };
      const b = noData(rwSqe(IoOpc.Read, 1, 0, 8), cid, 8 * 512, c.d);
      c.send(b);
      return { expect: { kind: 'termreq', fes: [F.InvalidHeaderField, F.PduSequenceError], orStatus: [Status.CommandIdConflict] }, offending: b };
    },
  },
  {
    name: 'I/O capsule with bit flips in its SQE', setup: 'io', weight: 6,
    async run(c) {
      const cid = randomCid(c);
      const nlb = c.rng.range(1, 16);
      const slba = c.rng.int(c.blocks - nlb);
      const b = c.rng.chance(0.5)
        ? inCapsule(rwSqe(IoOpc.Write, 1, slba, nlb), cid, c.rng.bytes(nlb * 512), c.d)
        : noData(rwSqe(IoOpc.Read, 1, slba, nlb), cid, nlb * 512, c.d);
      flipBytes(c, b.subarray(8), 64, c.rng.range(1, 4));
      // Never let a flip aim the write at the healthy connection's namespace.
      if (b.readUInt32LE(8 + SQE.NSID) === 2) b.writeUInt32LE(1, 8 + SQE.NSID);
      c.send(reseal(b));
      return { expect: { kind: 'any' } };
    },
  },
];

export function pickCase(rng: Rng): FuzzCase {
  return rng.weighted(CASES.map((c) => [c.weight, c] as const));
}
