// Submission queue entries for every command the host library sends, built on the target's layouts
// (target/protocol/sqe.ts, connect.ts, opcodes.ts). Pure functions: each returns a new 64-byte SQE whose
// CID the queue fills in; the data pointer (SGL) is also set by the queue, which decides between
// in-capsule data and R2T/C2HData.
import { buildSqe } from '../../target/protocol/sqe.js';
import { AdminOpc, FabricsType, IoOpc } from '../../target/protocol/opcodes.js';
import { ConnectSqe } from '../../target/protocol/connect.js';

/**
 * Property Get/Set fields of the SQE (NVMe over Fabrics 1.1, 3.4 and 3.5: ATTRIB at byte 40, OFST at 44,
 * VALUE at 48). target/controller/fabrics.ts keeps the same offsets privately; they belong in
 * target/protocol/properties.ts, and this table goes once they are there.
 */
export const PropertySqe = { ATTRIB: 40, OFFSET: 44, VALUE: 48 } as const;
const ATTRIB_SIZE_8 = 0x1;

/** Command dword bit fields (NVMe Base 2.0 and NVM Command Set 1.0, by command). */
export const Cdw = {
  /** Read/Write CDW12: Force Unit Access. */
  FUA: 1 << 30,
  /** Write Zeroes CDW12: deallocate. */
  DEAC: 1 << 25,
  /** Dataset Management CDW11: attribute deallocate. */
  DSM_AD: 1 << 2,
  /** Set Features CDW10: save. */
  SV: 1 << 31,
  /** Get Log Page CDW10: retain asynchronous event. */
  RAE: 1 << 15,
} as const;

export const DSM_RANGE_SIZE = 16;

export function connectSqe(f: { qid: number; sqsize: number; cattr?: number; kato?: number }): Buffer {
  const b = buildSqe({ opc: AdminOpc.Fabrics, cid: 0, fctype: FabricsType.Connect });
  b.writeUInt16LE(0, ConnectSqe.RECFMT);
  b.writeUInt16LE(f.qid, ConnectSqe.QID);
  b.writeUInt16LE(f.sqsize, ConnectSqe.SQSIZE);
  b[ConnectSqe.CATTR] = f.cattr ?? 0;
  b.writeUInt32LE(f.kato ?? 0, ConnectSqe.KATO);
  return b;
}

export function propertyGetSqe(offset: number, size8: boolean): Buffer {
  const b = buildSqe({ opc: AdminOpc.Fabrics, cid: 0, fctype: FabricsType.PropertyGet });
  b[PropertySqe.ATTRIB] = size8 ? ATTRIB_SIZE_8 : 0;
  b.writeUInt32LE(offset, PropertySqe.OFFSET);
  return b;
}

export function propertySetSqe(offset: number, value: bigint, size8 = false): Buffer {
  const b = buildSqe({ opc: AdminOpc.Fabrics, cid: 0, fctype: FabricsType.PropertySet });
  b[PropertySqe.ATTRIB] = size8 ? ATTRIB_SIZE_8 : 0;
  b.writeUInt32LE(offset, PropertySqe.OFFSET);
  b.writeBigUInt64LE(value, PropertySqe.VALUE);
  return b;
}

export function disconnectSqe(): Buffer {
  return buildSqe({ opc: AdminOpc.Fabrics, cid: 0, fctype: FabricsType.Disconnect });
}

export function identifySqe(cns: number, nsid = 0, cntid = 0, csi = 0): Buffer {
  return buildSqe({ opc: AdminOpc.Identify, cid: 0, nsid, cdw10: (cntid << 16) | cns, cdw11: csi << 24 });
}

/** Get Log Page of `len` bytes (a multiple of 4) at byte offset `lpo`. */
export function getLogPageSqe(lid: number, len: number, o: { nsid?: number; lsp?: number; lpo?: number; rae?: boolean } = {}): Buffer {
  const numd = len / 4 - 1;
  const lpo = o.lpo ?? 0;
  return buildSqe({
    opc: AdminOpc.GetLogPage, cid: 0, nsid: o.nsid ?? 0,
    cdw10: (lid & 0xff) | ((o.lsp ?? 0) << 8) | (o.rae ? Cdw.RAE : 0) | ((numd & 0xffff) << 16),
    cdw11: numd >>> 16,
    cdw12: lpo % 0x1_0000_0000,
    cdw13: Math.floor(lpo / 0x1_0000_0000),
  });
}

export function getFeaturesSqe(fid: number, o: { sel?: number; cdw11?: number; nsid?: number } = {}): Buffer {
  return buildSqe({ opc: AdminOpc.GetFeatures, cid: 0, nsid: o.nsid ?? 0, cdw10: fid | ((o.sel ?? 0) << 8), cdw11: o.cdw11 ?? 0 });
}

export function setFeaturesSqe(fid: number, cdw11: number, o: { save?: boolean; nsid?: number } = {}): Buffer {
  return buildSqe({ opc: AdminOpc.SetFeatures, cid: 0, nsid: o.nsid ?? 0, cdw10: fid | (o.save ? Cdw.SV : 0), cdw11 });
}

export function keepAliveSqe(): Buffer {
  return buildSqe({ opc: AdminOpc.KeepAlive, cid: 0 });
}

/** Abort (NVMe Base 2.0, 5.1): SQID in CDW10 bits 15:0, the CID of the command to abort in bits 31:16. */
export function abortSqe(sqid: number, cid: number): Buffer {
  return buildSqe({ opc: AdminOpc.Abort, cid: 0, cdw10: ((sqid & 0xffff) | (cid << 16)) >>> 0 });
}

export function asyncEventRequestSqe(): Buffer {
  return buildSqe({ opc: AdminOpc.AsyncEventRequest, cid: 0 });
}

/** Read, Write and Write Zeroes share this shape: SLBA in CDW10/11, 0-based NLB in CDW12 bits 15:0. */
export function rwSqe(opc: number, nsid: number, slba: number, nlb: number, cdw12Flags = 0): Buffer {
  return buildSqe({
    opc, cid: 0, nsid,
    cdw10: slba % 0x1_0000_0000,
    cdw11: Math.floor(slba / 0x1_0000_0000),
    cdw12: ((nlb - 1) & 0xffff) | cdw12Flags,
  });
}

export function flushSqe(nsid: number): Buffer {
  return buildSqe({ opc: IoOpc.Flush, cid: 0, nsid });
}

export interface DsmRange {
  slba: number;
  nlb: number;
  /** Context attributes (CATTR of the range). */
  cattr?: number;
}

/** Dataset Management: the SQE and the range list it carries as data (16 bytes per range). */
export function dsmCommand(nsid: number, ranges: DsmRange[], deallocate: boolean): { sqe: Buffer; data: Buffer } {
  const data = Buffer.alloc(ranges.length * DSM_RANGE_SIZE);
  ranges.forEach((r, i) => {
    const at = i * DSM_RANGE_SIZE;
    data.writeUInt32LE(r.cattr ?? 0, at);
    data.writeUInt32LE(r.nlb, at + 4);
    data.writeBigUInt64LE(BigInt(r.slba), at + 8);
  });
  const sqe = buildSqe({ opc: IoOpc.DatasetManagement, cid: 0, nsid, cdw10: ranges.length - 1, cdw11: deallocate ? Cdw.DSM_AD : 0 });
  return { sqe, data };
}

/** Reservation Register (NVMe Base 2.0, 7.3): RREGA, IEKEY, CPTPL in CDW10; data CRKEY, NRKEY. */
export function resvRegisterCommand(nsid: number, o: { action: number; crkey?: bigint; nrkey?: bigint; iekey?: boolean; cptpl?: number }): { sqe: Buffer; data: Buffer } {
  const data = Buffer.alloc(16);
  data.writeBigUInt64LE(o.crkey ?? 0n, 0);
  data.writeBigUInt64LE(o.nrkey ?? 0n, 8);
  const cdw10 = (o.action & 7) | (o.iekey ? 1 << 3 : 0) | ((o.cptpl ?? 0) << 30);
  return { sqe: buildSqe({ opc: IoOpc.ReservationRegister, cid: 0, nsid, cdw10 }), data };
}

/** Reservation Acquire (7.2): RACQA, IEKEY, RTYPE in CDW10; data CRKEY, PRKEY. */
export function resvAcquireCommand(nsid: number, o: { action: number; rtype: number; crkey: bigint; prkey?: bigint; iekey?: boolean }): { sqe: Buffer; data: Buffer } {
  const data = Buffer.alloc(16);
  data.writeBigUInt64LE(o.crkey, 0);
  data.writeBigUInt64LE(o.prkey ?? 0n, 8);
  const cdw10 = (o.action & 7) | (o.iekey ? 1 << 3 : 0) | ((o.rtype & 0xff) << 8);
  return { sqe: buildSqe({ opc: IoOpc.ReservationAcquire, cid: 0, nsid, cdw10 }), data };
}

/** Reservation Release (7.4): RRELA, IEKEY, RTYPE in CDW10; data CRKEY. */
export function resvReleaseCommand(nsid: number, o: { action: number; rtype: number; crkey: bigint; iekey?: boolean }): { sqe: Buffer; data: Buffer } {
  const data = Buffer.alloc(8);
  data.writeBigUInt64LE(o.crkey, 0);
  const cdw10 = (o.action & 7) | (o.iekey ? 1 << 3 : 0) | ((o.rtype & 0xff) << 8);
  return { sqe: buildSqe({ opc: IoOpc.ReservationRelease, cid: 0, nsid, cdw10 }), data };
}

/** Reservation Report (7.5): NUMD (0-based dwords) in CDW10, EDS in CDW11 bit 0. */
export function resvReportSqe(nsid: number, len: number, eds = true): Buffer {
  return buildSqe({ opc: IoOpc.ReservationReport, cid: 0, nsid, cdw10: len / 4 - 1, cdw11: eds ? 1 : 0 });
}
