// Qpair and in-flight command records: the I/O-path part of the state file.
//
// One slot per record (informational: recovery abandons every command it finds; in-pod resume keeps its
// own records). Every store here is a plain store into the mapping through a Uint32Array: no system call,
// no allocation. A qpair record is CRC'd when written (a kill mid-write leaves a record whose CRC does not
// match, which recovery counts as unknown), with its SQ head zero: the SQ head is stored after, alone, one
// aligned word store per chunk of PDUs read, outside the CRC (QP_SQHD_UNSEALED).
//
// In-flight records are IF_ORDERED (layout.ts), not CRC'd: begin() stores the record header words and the
// body (nsid, SLBA, NLB), then the check word, then last the word holding cid, opcode and stage. A kill stops
// the process between two stores, and every store before it is in the page cache (a kill loses no store a
// process made, and the stores were made in program order), so a kill mid-begin leaves the stage word as
// end() left it: free. A stage change and end() are one aligned 32-bit store each, which cannot tear. The
// check word (inflightCheck: XOR of the words but the stage byte) catches what order alone cannot: a page
// written back mid-begin and then a node crash (the in-flight section is never synced), or outside damage.
// No CRC table and no loads on the path: under load the data copies evict the table's lines, and a begin
// that walked 20 of them cost more than the rest of the record.
//
// Invariants: a record whose stage byte is free (0) is free, whatever else it holds (image.ts reads it so):
// end() leaves the rest of the record stale. A record whose stage is not free counts only if its kind, index
// and check word match. A slot is handed out by at most one begin() until its end().
// Handle -1 (no slot was free: the qpair or command runs untracked) is accepted everywhere as a no-op.
import { IF_ORDERED, IF_SIZE, QP_LIVE, QP_SIZE, QP_SQHD_UNSEALED, REC, RecordKind, Stage, inflightCheck, type SectionPlacement } from './layout.js';
import { encodeQpair, qpairFlags } from './records.js';
import { isZero, seal } from './slots.js';
import type { QpairRecord } from './types.js';

const W_CRC = REC.CRC >> 2; // word 0
const W_KIND_FLAGS = REC.KIND >> 2; // word 1: kind u16 | flags u16
const W_INDEX = REC.INDEX >> 2; // word 2
const W_SEQ = REC.SEQ >> 2; // word 3
const W_IF_CID_OPC_STAGE = 4; // cid u16 | opcode u8 | stage u8
const W_IF_NSID = 5;
const W_IF_SLBA_LO = 6;
const W_IF_SLBA_HI_NLB = 7; // slba bits 32..47 u16 | nlb u16
const W_QP_SQSIZE_SQHD = 5; // sqsize u16 | sqhd u16
const IF_KIND_FLAGS = (RecordKind.INFLIGHT | (IF_ORDERED << 16)) >>> 0;

export class ConnectionRecords {
  private buf: Buffer;
  private u32: Uint32Array;
  private readonly qpFree: Int32Array;
  private qpTop: number;
  private readonly ifFree: Int32Array;
  private readonly ifTop: Int32Array;
  private readonly busy: Uint8Array;
  private readonly ifWord0: number;

  constructor(buf: Buffer, private readonly qpairs: SectionPlacement, private readonly inflight: SectionPlacement, readonly perQpair: number) {
    if (buf.byteOffset % 4 !== 0 || qpairs.offset % 4 !== 0 || inflight.offset % 4 !== 0) throw new Error('state file mapping must be word aligned');
    if (qpairs.recordSize !== QP_SIZE || inflight.recordSize !== IF_SIZE) throw new Error('unexpected qpair or in-flight record size');
    this.buf = buf;
    this.u32 = new Uint32Array(buf.buffer, buf.byteOffset, buf.length >>> 2);
    this.ifWord0 = inflight.offset >> 2;
    this.qpFree = new Int32Array(qpairs.count);
    this.qpTop = 0;
    for (let i = qpairs.count - 1; i >= 0; i--) this.qpFree[this.qpTop++] = i;
    this.ifFree = new Int32Array(inflight.count);
    this.ifTop = new Int32Array(qpairs.count);
    this.busy = new Uint8Array(inflight.count);
    for (let q = 0; q < qpairs.count; q++) this.resetInflightStack(q);
  }

  private resetInflightStack(q: number): void {
    const base = q * this.perQpair;
    for (let j = 0; j < this.perQpair; j++) this.ifFree[base + j] = base + this.perQpair - 1 - j;
    this.ifTop[q] = this.perQpair;
    this.busy.fill(0, base, base + this.perQpair);
  }

  /** Zeroes every non-empty qpair and in-flight record: they describe a process that is gone. */
  clearAll(): number {
    let cleared = 0;
    for (const sec of [this.qpairs, this.inflight]) {
      for (let i = 0; i < sec.count; i++) {
        const off = sec.offset + i * sec.recordSize;
        if (!isZero(this.buf, off, off + sec.recordSize)) {
          this.buf.fill(0, off, off + sec.recordSize);
          cleared++;
        }
      }
    }
    return cleared;
  }

  /** A free qpair slot, or -1 when all are taken (the caller then serves the qpair untracked). */
  allocateQpair(): number {
    return this.qpTop === 0 ? -1 : this.qpFree[--this.qpTop];
  }

  /** Seals the record with SQHD zero (QP_SQHD_UNSEALED), then stores the SQ head as storeSqhd does. */
  writeQpair(slot: number, q: QpairRecord): void {
    if (slot < 0) return;
    const off = this.qpairs.offset + slot * QP_SIZE;
    const seq = (this.u32[(off >> 2) + W_SEQ] + 1) >>> 0;
    this.buf.fill(0, off, off + QP_SIZE);
    encodeQpair(this.buf, off, { ...q, sqhd: 0 });
    seal(this.buf, off, QP_SIZE, RecordKind.QPAIR, QP_LIVE | QP_SQHD_UNSEALED | qpairFlags(q), slot, seq);
    this.storeSqhd(slot, q.sqhd);
  }

  /** Hot path: the qpair's SQ head after a command was fetched. One word store, outside the record's CRC. */
  storeSqhd(slot: number, sqhd: number): void {
    if (slot < 0) return;
    const w = (this.qpairs.offset >> 2) + slot * (QP_SIZE >> 2) + W_QP_SQSIZE_SQHD;
    this.u32[w] = ((this.u32[w] & 0xffff) | (sqhd << 16)) >>> 0;
  }

  /** Frees a qpair slot and every in-flight slot of it. */
  freeQpair(slot: number): void {
    if (slot < 0) return;
    const off = this.qpairs.offset + slot * QP_SIZE;
    this.buf.fill(0, off, off + QP_SIZE);
    const first = this.inflight.offset + slot * this.perQpair * IF_SIZE;
    const last = first + this.perQpair * IF_SIZE;
    for (let o = first; o < last; o += IF_SIZE) if (this.u32[o >> 2] !== 0) this.buf.fill(0, o, o + IF_SIZE);
    this.resetInflightStack(slot);
    this.qpFree[this.qpTop++] = slot;
  }

  /**
   * Hot path: records a command received on qpair slot `qpairSlot`, with its CDW10-12 as in the SQE (for a
   * read or write: the SLBA's low and high words and the 0's based NLB; 0 for others). Returns the in-flight
   * handle for stage() and end(), or -1 when the qpair's slots are all taken (the command runs untracked).
   * Integers only: an SLBA made into a double would be boxed on each call.
   */
  begin(qpairSlot: number, cid: number, opcode: number, nsid: number, cdw10: number, cdw11: number, cdw12: number, stage: number = Stage.received): number {
    if (qpairSlot < 0) return -1;
    const top = this.ifTop[qpairSlot];
    if (top === 0) return -1;
    const h = this.ifFree[qpairSlot * this.perQpair + top - 1];
    this.ifTop[qpairSlot] = top - 1;
    this.busy[h] = 1;
    const u32 = this.u32;
    const w = this.ifWord0 + h * (IF_SIZE >> 2);
    const w4 = ((cid & 0xffff) | ((opcode & 0xff) << 16) | (stage << 24)) >>> 0;
    const w7 = ((cdw11 & 0xffff) | ((cdw12 & 0xffff) << 16)) >>> 0;
    // Everything before the stage word, which commits the record (see the top of this file).
    u32[w + W_KIND_FLAGS] = IF_KIND_FLAGS;
    u32[w + W_INDEX] = h;
    u32[w + W_IF_NSID] = nsid;
    u32[w + W_IF_SLBA_LO] = cdw10;
    u32[w + W_IF_SLBA_HI_NLB] = w7;
    u32[w + W_CRC] = inflightCheck(w4, nsid, cdw10, w7);
    u32[w + W_IF_CID_OPC_STAGE] = w4;
    return h;
  }

  /** Hot path: the command moved to `stage` (a Stage code): one word store (the check word leaves the stage out). */
  stage(h: number, stage: number): void {
    if (h < 0) return;
    const w = this.ifWord0 + h * (IF_SIZE >> 2) + W_IF_CID_OPC_STAGE;
    this.u32[w] = ((this.u32[w] & 0x00ffffff) | (stage << 24)) >>> 0;
  }

  /** Hot path: the command's completion is queued; its slot is free again. One word store (the stage byte to free). */
  end(h: number): void {
    if (h < 0) return;
    if (this.busy[h] !== 1) throw new Error(`in-flight slot ${h} ended twice or never begun`);
    const w = this.ifWord0 + h * (IF_SIZE >> 2) + W_IF_CID_OPC_STAGE;
    this.u32[w] = (this.u32[w] & 0x00ffffff) >>> 0;
    this.busy[h] = 0;
    const q = Math.floor(h / this.perQpair);
    this.ifFree[q * this.perQpair + this.ifTop[q]++] = h;
  }

  /** After close: later stores go nowhere (typed-array stores out of range are ignored). */
  detach(): void {
    this.buf = Buffer.alloc(0);
    this.u32 = new Uint32Array(0);
  }
}
