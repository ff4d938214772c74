// Record slots: validity, sealing, and the two-slot protocol.
//
// Invariants:
// - A slot is valid only if its CRC matches, its kind is the section's kind and its index is its
//   position; a record's value is its valid slot with the newest sequence number.
// - A write never touches the slot holding the newest valid version: it zeroes the other slot,
//   stores the body, then the record header, then the CRC. A kill at any instant therefore leaves
//   the previous version intact in its slot and the slot being written either complete (newer seq,
//   valid CRC: the new version) or incomplete (CRC mismatch, or all zero: ignored). Old or new is
//   readable; never a mix, since a mix fails the CRC (a 1 in 2^32 chance per torn slot aside).
// - When no slot is valid, writes go to slot A, so slot B stays all zero until a first write of A
//   completed. Hence kills alone can never leave both slots non-zero and invalid: that state means
//   something other than this code damaged the file, and recovery treats the file as corrupt.
// - Sequence numbers of the two valid slots of a record always differ by exactly one, so RFC 1982
//   serial-number comparison on 32 bits orders them correctly forever.
// - With durability 'node' the caller msyncs the written slot before returning (state-file.ts), so
//   on disk the slot being written may be torn but the other one is durable: the same argument holds
//   across a node crash. A page written back while another record is mid-write tears only that
//   record's target slot, never the slot holding its newest version (that one is not being stored to).
import { crc32cRange } from './crc.js';
import { REC, slotOffset, type SectionPlacement } from './layout.js';

export type SlotState = 'valid' | 'empty' | 'invalid';

export function isZero(buf: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (buf[i] !== 0) return false;
  return true;
}

export function slotState(buf: Buffer, off: number, size: number, kind: number, index: number): SlotState {
  if (off < 0 || off + size > buf.length) return 'invalid';
  if (isZero(buf, off, off + size)) return 'empty';
  if (buf.readUInt16LE(off + REC.KIND) !== kind || buf.readUInt32LE(off + REC.INDEX) !== index) return 'invalid';
  return buf.readUInt32LE(off + REC.CRC) === crc32cRange(buf, off + REC.KIND, off + size) ? 'valid' : 'invalid';
}

/** Writes the record header, then the CRC over [4, size): the CRC is the last store of a record. */
export function seal(buf: Buffer, off: number, size: number, kind: number, flags: number, index: number, seq: number): void {
  buf.writeUInt16LE(kind, off + REC.KIND);
  buf.writeUInt16LE(flags, off + REC.FLAGS);
  buf.writeUInt32LE(index >>> 0, off + REC.INDEX);
  buf.writeUInt32LE(seq >>> 0, off + REC.SEQ);
  buf.writeUInt32LE(crc32cRange(buf, off + REC.KIND, off + size), off + REC.CRC);
}

/** True if sequence number a is newer than b (RFC 1982 serial-number arithmetic, 32 bits). */
export function seqNewer(a: number, b: number): boolean {
  const d = (a - b) >>> 0;
  return d !== 0 && d < 0x80000000;
}

export interface TwoSlotStatus {
  /** Slot holding the record's value, or -1 if none is valid. */
  newest: -1 | 0 | 1;
  seq: number;
  /** One slot valid, the other non-zero and invalid: a write was cut short (normal after a kill). */
  torn: boolean;
  /** Both slots non-zero and invalid: not something a kill can produce. */
  damaged: boolean;
}

export function readTwoSlot(buf: Buffer, sec: SectionPlacement, index: number): TwoSlotStatus {
  const a = slotState(buf, slotOffset(sec, index, 0), sec.recordSize, sec.kind, index);
  const b = slotState(buf, slotOffset(sec, index, 1), sec.recordSize, sec.kind, index);
  const seqA = a === 'valid' ? buf.readUInt32LE(slotOffset(sec, index, 0) + REC.SEQ) : 0;
  const seqB = b === 'valid' ? buf.readUInt32LE(slotOffset(sec, index, 1) + REC.SEQ) : 0;
  const torn = (a === 'valid' && b === 'invalid') || (b === 'valid' && a === 'invalid');
  if (a === 'valid' && b === 'valid') {
    return seqNewer(seqB, seqA) ? { newest: 1, seq: seqB, torn, damaged: false } : { newest: 0, seq: seqA, torn, damaged: false };
  }
  if (a === 'valid') return { newest: 0, seq: seqA, torn, damaged: false };
  if (b === 'valid') return { newest: 1, seq: seqB, torn, damaged: false };
  return { newest: -1, seq: 0, torn: false, damaged: a === 'invalid' && b === 'invalid' };
}

/** A two-slot section of a mapped file: which slot is newest for each record, and the write protocol. */
export class TwoSlotSection {
  private readonly newest: Int8Array;
  private readonly seq: Uint32Array;

  constructor(readonly sec: SectionPlacement) {
    this.newest = new Int8Array(sec.count).fill(-1);
    this.seq = new Uint32Array(sec.count);
  }

  /** Reads every record's slots; returns the count of torn records and the indexes of damaged ones. */
  load(buf: Buffer): { torn: number; damaged: number[] } {
    let torn = 0;
    const damaged: number[] = [];
    for (let i = 0; i < this.sec.count; i++) {
      const s = readTwoSlot(buf, this.sec, i);
      this.newest[i] = s.newest;
      this.seq[i] = s.seq;
      if (s.torn) torn++;
      if (s.damaged) damaged.push(i);
    }
    return { torn, damaged };
  }

  /** Offset of the slot holding record `index`'s value, or -1 if it has none. */
  current(index: number): number {
    const n = this.newest[index];
    return n < 0 ? -1 : slotOffset(this.sec, index, n as 0 | 1);
  }

  /**
   * Stores a new version of record `index`: `encode` fills the body of a zeroed slot (not the record
   * header). Returns the offset of the slot written, for msync.
   */
  write(buf: Buffer, index: number, flags: number, encode: (buf: Buffer, off: number) => void): number {
    const target: 0 | 1 = this.newest[index] === 0 ? 1 : 0;
    const off = slotOffset(this.sec, index, target);
    const seq = (this.seq[index] + 1) >>> 0;
    buf.fill(0, off, off + this.sec.recordSize);
    encode(buf, off);
    seal(buf, off, this.sec.recordSize, this.sec.kind, flags, index, seq);
    this.newest[index] = target;
    this.seq[index] = seq;
    return off;
  }
}
