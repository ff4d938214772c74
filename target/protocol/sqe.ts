// Submission Queue Entry layout (NVMe Base 2.0, 4.2) and the SGL descriptor NVMe/TCP uses (NVMe/TCP 3.3).

export const SQE_SIZE = 64;
export const SQE = {
  OPC: 0,
  FLAGS: 1, // bits 7:6 PSDT (SGL for fabrics), bits 1:0 FUSE
  CID: 2,
  NSID: 4, // fabrics commands: byte 4 is FCTYPE
  FCTYPE: 4,
  CDW2: 8,
  CDW3: 12,
  MPTR: 16,
  DPTR: 24, // 16-byte SGL descriptor
  SGL_ADDR: 24,
  SGL_LEN: 32,
  SGL_TYPE: 39,
  CDW10: 40,
  CDW11: 44,
  CDW12: 48,
  CDW13: 52,
  CDW14: 56,
  CDW15: 60,
} as const;

/** SGL descriptor identifiers (type << 4 | subtype) accepted on NVMe/TCP. */
export const SglId = {
  /** Data Block, Offset: data carried in the capsule (NVMe/TCP in-capsule data). */
  InCapsule: 0x01,
  /** Transport SGL Data Block, Transport-specific A: data moved by R2T/H2CData or C2HData. */
  Transport: 0x5a,
} as const;

/** Data direction from the low two bits of an opcode (or fabrics FCTYPE). */
export const Xfer = { None: 0, HostToCtrl: 1, CtrlToHost: 2, Bidirectional: 3 } as const;
export function xferOf(opcodeOrFctype: number): number {
  return opcodeOrFctype & 0x3;
}

/**
 * The little-endian u32 at `off` of an SQE (a field inside its 64 bytes). Byte loads, which V8 keeps in
 * line, where Buffer.readUInt32LE is a call with its argument and bounds checks: the I/O path reads the
 * nsid and CDW10-12 of every command this way (issue 19: four readUInt32LE per command were most of what
 * the state file's in-flight record cost).
 */
export function sqeWord(sqe: Buffer, off: number): number {
  return (sqe[off] | (sqe[off + 1] << 8) | (sqe[off + 2] << 16) | (sqe[off + 3] << 24)) >>> 0;
}

/** Builds an SQE in a new 64-byte buffer: used by the host library and tests. */
export function buildSqe(f: {
  opc: number; cid: number; nsid?: number; fctype?: number; sglId?: number; sglLen?: number; sglAddr?: bigint;
  cdw10?: number; cdw11?: number; cdw12?: number; cdw13?: number; cdw14?: number; cdw15?: number;
}): Buffer {
  const b = Buffer.alloc(SQE_SIZE);
  b[SQE.OPC] = f.opc;
  b[SQE.FLAGS] = 0x40; // PSDT = 01b: SGL
  b.writeUInt16LE(f.cid, SQE.CID);
  if (f.fctype !== undefined) b[SQE.FCTYPE] = f.fctype;
  else b.writeUInt32LE(f.nsid ?? 0, SQE.NSID);
  b.writeBigUInt64LE(f.sglAddr ?? 0n, SQE.SGL_ADDR);
  b.writeUInt32LE(f.sglLen ?? 0, SQE.SGL_LEN);
  b[SQE.SGL_TYPE] = f.sglId ?? SglId.Transport;
  b.writeUInt32LE((f.cdw10 ?? 0) >>> 0, SQE.CDW10);
  b.writeUInt32LE((f.cdw11 ?? 0) >>> 0, SQE.CDW11);
  b.writeUInt32LE((f.cdw12 ?? 0) >>> 0, SQE.CDW12);
  b.writeUInt32LE((f.cdw13 ?? 0) >>> 0, SQE.CDW13);
  b.writeUInt32LE((f.cdw14 ?? 0) >>> 0, SQE.CDW14);
  b.writeUInt32LE((f.cdw15 ?? 0) >>> 0, SQE.CDW15);
  return b;
}
