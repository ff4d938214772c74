// Completion Queue Entry layout (NVMe Base 2.0, 4.6).

export const CQE_SIZE = 16;
export const CQE = { DW0: 0, DW1: 4, SQHD: 8, SQID: 10, CID: 12, STATUS: 14 } as const;

/**
 * Writes a CQE. `status` is the 15-bit status field as NVMe defines it without the phase bit
 * (SC in bits 7:0, SCT in bits 10:8, DNR in bit 14: the encoding of `target/protocol/status.ts`);
 * on the wire it is shifted left by one (bit 0 is the phase tag, always 0 on fabrics).
 */
export function writeCqe(b: Buffer, at: number, dw0: number, dw1: number, sqhd: number, sqid: number, cid: number, status: number): void {
  b.writeUInt32LE(dw0 >>> 0, at + CQE.DW0);
  b.writeUInt32LE(dw1 >>> 0, at + CQE.DW1);
  b.writeUInt16LE(sqhd, at + CQE.SQHD);
  b.writeUInt16LE(sqid, at + CQE.SQID);
  b.writeUInt16LE(cid, at + CQE.CID);
  b.writeUInt16LE((status << 1) & 0xffff, at + CQE.STATUS);
}

export interface Cqe { dw0: number; dw1: number; sqhd: number; sqid: number; cid: number; status: number }

export function readCqe(b: Buffer, at = 0): Cqe {
  return {
    dw0: b.readUInt32LE(at + CQE.DW0),
    dw1: b.readUInt32LE(at + CQE.DW1),
    sqhd: b.readUInt16LE(at + CQE.SQHD),
    sqid: b.readUInt16LE(at + CQE.SQID),
    cid: b.readUInt16LE(at + CQE.CID),
    status: b.readUInt16LE(at + CQE.STATUS) >> 1,
  };
}
