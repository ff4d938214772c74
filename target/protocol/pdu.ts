// NVMe/TCP PDU layouts (NVMe/TCP Transport Specification 1.0, section 3.6; Linux include/linux/nvme-tcp.h).
// Every offset is named once here. The write* encoders fill caller-provided buffers; the encode* ones return
// a whole PDU, digests included, in one new buffer of its exact size (never the data a C2HData carries).
import { crc32c } from './crc32c.js';
import { writeCqe } from './cqe.js';

export const PduType = {
  ICReq: 0x00,
  ICResp: 0x01,
  H2CTermReq: 0x02,
  C2HTermReq: 0x03,
  CapsuleCmd: 0x04,
  CapsuleResp: 0x05,
  H2CData: 0x06,
  C2HData: 0x07,
  R2T: 0x09,
} as const;
export type PduTypeValue = (typeof PduType)[keyof typeof PduType];

export const PduFlag = {
  HDGSTF: 0x01,
  DDGSTF: 0x02,
  /** H2CData / C2HData: last PDU of the transfer. */
  DATA_LAST: 0x04,
  /** C2HData: the command completed successfully; no CapsuleResp follows (only when SQ flow control is disabled). */
  DATA_SUCCESS: 0x08,
} as const;

/** Common header (CH): 8 bytes at the start of every PDU. */
export const CH = { TYPE: 0, FLAGS: 1, HLEN: 2, PDO: 3, PLEN: 4, SIZE: 8 } as const;

export const DIGEST_LEN = 4;

/** Fixed header lengths (HLEN) per PDU type; a PDU with another HLEN is malformed. */
export const HLEN = {
  ICReq: 128,
  ICResp: 128,
  TermReq: 24,
  CapsuleCmd: 72,
  CapsuleResp: 24,
  Data: 24,
  R2T: 24,
} as const;

export function expectedHlen(type: number): number | undefined {
  switch (type) {
    case PduType.ICReq: return HLEN.ICReq;
    case PduType.ICResp: return HLEN.ICResp;
    case PduType.H2CTermReq:
    case PduType.C2HTermReq: return HLEN.TermReq;
    case PduType.CapsuleCmd: return HLEN.CapsuleCmd;
    case PduType.CapsuleResp: return HLEN.CapsuleResp;
    case PduType.H2CData:
    case PduType.C2HData: return HLEN.Data;
    case PduType.R2T: return HLEN.R2T;
    default: return undefined;
  }
}

/** ICReq / ICResp specific fields (after the common header). */
export const IC = {
  PFV: 8, // u16, protocol format version: 0
  HPDA_CPDA: 10, // u8: ICReq HPDA, ICResp CPDA (alignment in dwords, 0-based)
  DGST: 11, // u8: bit0 header digest, bit1 data digest
  MAXR2T_MAXDATA: 12, // u32: ICReq MAXR2T (0-based), ICResp MAXH2CDATA (bytes)
} as const;
export const IC_DGST = { HDGST: 0x01, DDGST: 0x02 } as const;

/** CapsuleCmd: the 64-byte SQE starts right after the common header. */
export const CAPSULE_SQE = 8;
/** CapsuleResp: the 16-byte CQE starts right after the common header. */
export const CAPSULE_CQE = 8;

/** H2CData / C2HData fields. */
export const DATA = { CCCID: 8, TTAG: 10, DATAO: 12, DATAL: 16 } as const;
/** R2T fields. */
export const R2T = { CCCID: 8, TTAG: 10, R2TO: 12, R2TL: 16 } as const;
/** H2CTermReq / C2HTermReq fields; the offending PDU header follows the 24-byte header. */
export const TERM = { FES: 8, FEI: 10 } as const;
/** A TermReq is at most 152 bytes (PLEN), so at most 128 bytes of the offending PDU's header follow its 24-byte header. */
export const TERM_MAX_PLEN = 152;
export const TERM_MAX_DATA = TERM_MAX_PLEN - 24;

/** Fatal Error Status of a TermReq (NVMe/TCP 3.6.2.9). */
export const TermFes = {
  InvalidHeaderField: 0x01,
  PduSequenceError: 0x02,
  HeaderDigestError: 0x03,
  DataTransferOutOfRange: 0x04,
  R2TLimitExceeded: 0x05,
  DataTransferLimitExceeded: 0x05,
  UnsupportedParameter: 0x06,
} as const;

export interface CommonHeader {
  type: number;
  flags: number;
  hlen: number;
  pdo: number;
  plen: number;
}

export function readCommonHeader(b: Buffer, at = 0): CommonHeader {
  return {
    type: b[at + CH.TYPE],
    flags: b[at + CH.FLAGS],
    hlen: b[at + CH.HLEN],
    pdo: b[at + CH.PDO],
    plen: b.readUInt32LE(at + CH.PLEN),
  };
}

export function writeCommonHeader(b: Buffer, type: number, flags: number, hlen: number, pdo: number, plen: number, at = 0): void {
  b[at + CH.TYPE] = type;
  b[at + CH.FLAGS] = flags;
  b[at + CH.HLEN] = hlen;
  b[at + CH.PDO] = pdo;
  b.writeUInt32LE(plen, at + CH.PLEN);
}

export interface ICReq {
  pfv: number;
  hpda: number;
  hdgst: boolean;
  ddgst: boolean;
  maxr2t: number;
}

export function decodeICReq(b: Buffer): ICReq {
  const dgst = b[IC.DGST];
  return {
    pfv: b.readUInt16LE(IC.PFV),
    hpda: b[IC.HPDA_CPDA],
    hdgst: (dgst & IC_DGST.HDGST) !== 0,
    ddgst: (dgst & IC_DGST.DDGST) !== 0,
    maxr2t: b.readUInt32LE(IC.MAXR2T_MAXDATA),
  };
}

export function encodeICReq(r: ICReq): Buffer {
  const b = Buffer.alloc(HLEN.ICReq);
  writeCommonHeader(b, PduType.ICReq, 0, HLEN.ICReq, 0, HLEN.ICReq);
  b.writeUInt16LE(r.pfv, IC.PFV);
  b[IC.HPDA_CPDA] = r.hpda;
  b[IC.DGST] = (r.hdgst ? IC_DGST.HDGST : 0) | (r.ddgst ? IC_DGST.DDGST : 0);
  b.writeUInt32LE(r.maxr2t, IC.MAXR2T_MAXDATA);
  return b;
}

export interface ICResp {
  pfv: number;
  cpda: number;
  hdgst: boolean;
  ddgst: boolean;
  maxh2cdata: number;
}

export function encodeICResp(r: ICResp): Buffer {
  const b = Buffer.alloc(HLEN.ICResp);
  writeCommonHeader(b, PduType.ICResp, 0, HLEN.ICResp, 0, HLEN.ICResp);
  b.writeUInt16LE(r.pfv, IC.PFV);
  b[IC.HPDA_CPDA] = r.cpda;
  b[IC.DGST] = (r.hdgst ? IC_DGST.HDGST : 0) | (r.ddgst ? IC_DGST.DDGST : 0);
  b.writeUInt32LE(r.maxh2cdata, IC.MAXR2T_MAXDATA);
  return b;
}

export function decodeICResp(b: Buffer): ICResp {
  const dgst = b[IC.DGST];
  return {
    pfv: b.readUInt16LE(IC.PFV),
    cpda: b[IC.HPDA_CPDA],
    hdgst: (dgst & IC_DGST.HDGST) !== 0,
    ddgst: (dgst & IC_DGST.DDGST) !== 0,
    maxh2cdata: b.readUInt32LE(IC.MAXR2T_MAXDATA),
  };
}

export interface DataHeader {
  cccid: number;
  ttag: number;
  datao: number;
  datal: number;
}

export function readDataHeader(b: Buffer, at = 0): DataHeader {
  return {
    cccid: b.readUInt16LE(at + DATA.CCCID),
    ttag: b.readUInt16LE(at + DATA.TTAG),
    datao: b.readUInt32LE(at + DATA.DATAO),
    datal: b.readUInt32LE(at + DATA.DATAL),
  };
}

/** Writes a C2HData or H2CData header (24 bytes, plus room for a header digest the caller fills). */
export function writeDataHeader(
  b: Buffer, type: number, flags: number, pdo: number, plen: number,
  cccid: number, ttag: number, datao: number, datal: number, at = 0,
): void {
  writeCommonHeader(b, type, flags, HLEN.Data, pdo, plen, at);
  b.writeUInt16LE(cccid, at + DATA.CCCID);
  b.writeUInt16LE(ttag, at + DATA.TTAG);
  b.writeUInt32LE(datao, at + DATA.DATAO);
  b.writeUInt32LE(datal, at + DATA.DATAL);
  b.writeUInt32LE(0, at + 20);
}

export function writeR2T(b: Buffer, flags: number, plen: number, cccid: number, ttag: number, r2to: number, r2tl: number, at = 0): void {
  writeCommonHeader(b, PduType.R2T, flags, HLEN.R2T, 0, plen, at);
  b.writeUInt16LE(cccid, at + R2T.CCCID);
  b.writeUInt16LE(ttag, at + R2T.TTAG);
  b.writeUInt32LE(r2to, at + R2T.R2TO);
  b.writeUInt32LE(r2tl, at + R2T.R2TL);
  b.writeUInt32LE(0, at + 20);
}

export function readR2T(b: Buffer, at = 0): { cccid: number; ttag: number; r2to: number; r2tl: number } {
  return {
    cccid: b.readUInt16LE(at + R2T.CCCID),
    ttag: b.readUInt16LE(at + R2T.TTAG),
    r2to: b.readUInt32LE(at + R2T.R2TO),
    r2tl: b.readUInt32LE(at + R2T.R2TL),
  };
}

/**
 * A C2HTermReq (or H2CTermReq) carrying FES, FEI and up to 152 bytes of the offending PDU header.
 * TermReqs never carry digests (NVMe/TCP 3.6.2.9: HDGSTF and DDGSTF are cleared).
 */
export function encodeTermReq(type: number, fes: number, fei: number, offending: Buffer): Buffer {
  const data = offending.subarray(0, TERM_MAX_DATA);
  const plen = HLEN.TermReq + data.length;
  const b = Buffer.alloc(plen);
  writeCommonHeader(b, type, 0, HLEN.TermReq, 0, plen);
  b.writeUInt16LE(fes, TERM.FES);
  b.writeUInt32LE(fei >>> 0, TERM.FEI);
  data.copy(b, HLEN.TermReq);
  return b;
}

export function decodeTermReq(b: Buffer): { fes: number; fei: number; data: Buffer } {
  return { fes: b.readUInt16LE(TERM.FES), fei: b.readUInt32LE(TERM.FEI), data: b.subarray(HLEN.TermReq) };
}

/** Bytes of padding so that data starts at a multiple of (cpda+1)*4 bytes (cpda 0: no padding). */
export function dataOffset(hlen: number, hdgst: boolean, cpda: number): number {
  const unit = (cpda + 1) * 4;
  const end = hlen + (hdgst ? DIGEST_LEN : 0);
  return Math.ceil(end / unit) * unit;
}

/** Stores the header digest of the `hlen`-byte header at the start of `b` right after it. */
function sealHeader(b: Buffer, hlen: number): void {
  b.writeUInt32LE(crc32c(b.subarray(0, hlen)), hlen);
}

/** A CapsuleResp: the completion of command `cid` (CQE fields as `writeCqe` takes them), with a header digest if `hdgst`. */
export function encodeCapsuleResp(hdgst: boolean, dw0: number, dw1: number, sqhd: number, sqid: number, cid: number, status: number): Buffer {
  const hd = hdgst ? DIGEST_LEN : 0;
  const b = Buffer.allocUnsafe(HLEN.CapsuleResp + hd);
  writeCommonHeader(b, PduType.CapsuleResp, hd ? PduFlag.HDGSTF : 0, HLEN.CapsuleResp, 0, b.length);
  writeCqe(b, CAPSULE_CQE, dw0, dw1, sqhd, sqid, cid, status);
  if (hd) sealHeader(b, HLEN.CapsuleResp);
  return b;
}

/** An R2T asking for `r2tl` bytes from offset `r2to` of command `cccid`'s data, under transfer tag `ttag`. */
export function encodeR2T(hdgst: boolean, cccid: number, ttag: number, r2to: number, r2tl: number): Buffer {
  const hd = hdgst ? DIGEST_LEN : 0;
  const b = Buffer.allocUnsafe(HLEN.R2T + hd);
  writeR2T(b, hd ? PduFlag.HDGSTF : 0, b.length, cccid, ttag, r2to, r2tl);
  if (hd) sealHeader(b, HLEN.R2T);
  return b;
}

/**
 * One C2HData carrying all of `data` for command `cccid` (LAST_PDU; SUCCESS if `success`: no CapsuleResp
 * follows), appended to `out` as its header (padded to the host's alignment `hpda`, dataOffset()), `data`
 * itself (never copied) and, with data digests, the digest.
 */
export function encodeC2HData(out: Buffer[], cccid: number, data: Buffer, success: boolean, hdgst: boolean, ddgst: boolean, hpda: number): void {
  const hd = hdgst ? DIGEST_LEN : 0;
  const dd = ddgst ? DIGEST_LEN : 0;
  const pdo = dataOffset(HLEN.Data, hdgst, hpda);
  const flags = (hd ? PduFlag.HDGSTF : 0) | (dd ? PduFlag.DDGSTF : 0) | PduFlag.DATA_LAST | (success ? PduFlag.DATA_SUCCESS : 0);
  const head = Buffer.allocUnsafe(pdo);
  writeDataHeader(head, PduType.C2HData, flags, pdo, pdo + data.length + dd, cccid, 0, 0, data.length);
  if (hd) sealHeader(head, HLEN.Data);
  if (pdo > HLEN.Data + hd) head.fill(0, HLEN.Data + hd); // the padding HPDA asks for
  out.push(head, data);
  if (dd) {
    const d = Buffer.allocUnsafe(DIGEST_LEN);
    d.writeUInt32LE(crc32c(data), 0);
    out.push(d);
  }
}
