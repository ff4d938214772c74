// Well-formed host PDUs for the fuzzer to start from, built with the target's own layouts, and resealing
// (recomputing the digests a mutated PDU claims) so a mutation can reach past the digest check.
import {
  CH, DIGEST_LEN, HLEN, PduFlag, PduType, dataOffset, encodeICReq, encodeTermReq, writeCommonHeader, writeDataHeader,
} from '../../target/protocol/pdu.js';
import { SQE, SglId } from '../../target/protocol/sqe.js';
import { crc32c } from '../../target/protocol/crc32c.js';

export interface Digests {
  hdgst: boolean;
  ddgst: boolean;
}

export function icreqPdu(d: Digests): Buffer {
  return encodeICReq({ pfv: 0, hpda: 0, hdgst: d.hdgst, ddgst: d.ddgst, maxr2t: 0 });
}

/** Sets the SGL descriptor of an SQE (in place) and its CID. */
export function withSgl(sqe: Buffer, cid: number, sglId: number, len: number): Buffer {
  sqe.writeUInt16LE(cid, SQE.CID);
  sqe.writeBigUInt64LE(0n, SQE.SGL_ADDR);
  sqe.writeUInt32LE(len >>> 0, SQE.SGL_LEN);
  sqe[SQE.SGL_TYPE] = sglId;
  return sqe;
}

/** A CapsuleCmd: the SQE as given, the data in the capsule (its SGL must say so), digests as negotiated. */
export function capsulePdu(sqe: Buffer, data: Buffer | undefined, d: Digests): Buffer {
  const hd = d.hdgst ? DIGEST_LEN : 0;
  const withData = data !== undefined && data.length > 0;
  const dd = withData && d.ddgst ? DIGEST_LEN : 0;
  const pdo = withData ? dataOffset(HLEN.CapsuleCmd, d.hdgst, 0) : 0;
  const plen = withData ? pdo + data.length + dd : HLEN.CapsuleCmd + hd;
  const b = Buffer.alloc(plen);
  writeCommonHeader(b, PduType.CapsuleCmd, (hd ? PduFlag.HDGSTF : 0) | (dd ? PduFlag.DDGSTF : 0), HLEN.CapsuleCmd, pdo, plen);
  sqe.copy(b, 8, 0, 64);
  if (withData) data.copy(b, pdo);
  return reseal(b);
}

export function inCapsule(sqe: Buffer, cid: number, data: Buffer, d: Digests): Buffer {
  return capsulePdu(withSgl(sqe, cid, SglId.InCapsule, data.length), data, d);
}

export function noData(sqe: Buffer, cid: number, transferLen: number, d: Digests): Buffer {
  return capsulePdu(withSgl(sqe, cid, SglId.Transport, transferLen), undefined, d);
}

export function h2cDataPdu(cccid: number, ttag: number, datao: number, data: Buffer, last: boolean, d: Digests): Buffer {
  const hd = d.hdgst ? DIGEST_LEN : 0;
  const dd = d.ddgst ? DIGEST_LEN : 0;
  const pdo = dataOffset(HLEN.Data, d.hdgst, 0);
  const plen = pdo + data.length + dd;
  const b = Buffer.alloc(plen);
  const flags = (hd ? PduFlag.HDGSTF : 0) | (dd ? PduFlag.DDGSTF : 0) | (last ? PduFlag.DATA_LAST : 0);
  writeDataHeader(b, PduType.H2CData, flags, pdo, plen, cccid, ttag, datao, data.length);
  data.copy(b, pdo);
  return reseal(b);
}

export function h2cTermReqPdu(fes: number, offending: Buffer): Buffer {
  return encodeTermReq(PduType.H2CTermReq, fes, 0, offending);
}

/**
 * Recomputes the header digest (HDGSTF) and data digest (DDGSTF) a PDU's own common header claims, where
 * its fields leave room for them. TermReqs and ICReq carry none.
 */
export function reseal(b: Buffer): Buffer {
  if (b.length < CH.SIZE) return b;
  const type = b[CH.TYPE];
  if (type === PduType.ICReq || type === PduType.H2CTermReq) return b;
  const flags = b[CH.FLAGS];
  const hlen = b[CH.HLEN];
  const pdo = b[CH.PDO];
  const plen = b.readUInt32LE(CH.PLEN);
  if (flags & PduFlag.HDGSTF && hlen + DIGEST_LEN <= b.length) b.writeUInt32LE(crc32c(b.subarray(0, hlen)), hlen);
  if (flags & PduFlag.DDGSTF && pdo > 0 && plen === b.length && plen - DIGEST_LEN > pdo) {
    b.writeUInt32LE(crc32c(b.subarray(pdo, plen - DIGEST_LEN)), plen - DIGEST_LEN);
  }
  return b;
}
