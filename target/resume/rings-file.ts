// The rings file: created and mapped by the supervisor, mapped again by every worker (layout in layout.ts).
// Invariants:
//  - a word the other process reads is stored with Atomics.store after the bytes it describes, and read with
//    Atomics.load before them: on one machine, one aligned 32-bit store is never seen half done, and a kill
//    never leaves it half written (the page belongs to the kernel's page cache, not to the process);
//  - each ring has one writer of its tail and one writer of its head: the rx tail and the tx head are the
//    supervisor's, the rx head and the tx tail the worker's;
//  - a ring never holds more than its size: the producer writes only into [tail, head + size).
import { closeSync, existsSync, fstatSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { mapShared } from '../state/mmap.js';
import {
  ADDR_MAX, FH, FILE_HEADER_SIZE, NQN_MAX, RECORD_SIZE, RINGS_MAGIC, RINGS_VERSION, SB, SLOT_HEADER_SIZE, SW,
  fileSize, isPowerOfTwo, slotPlacement, slotStride, type RingsGeometry,
} from './layout.js';

/** A byte ring in the mapping: data at [off, off + size), head and tail words in the slot header. */
export class ByteRing {
  private readonly mask: number;

  constructor(
    readonly buf: Buffer,
    readonly off: number,
    readonly size: number,
    private readonly i32: Int32Array,
    private readonly wHead: number,
    private readonly wTail: number,
  ) {
    this.mask = size - 1;
  }

  get head(): number {
    return Atomics.load(this.i32, this.wHead) >>> 0;
  }

  get tail(): number {
    return Atomics.load(this.i32, this.wTail) >>> 0;
  }

  setHead(pos: number): void {
    Atomics.store(this.i32, this.wHead, pos | 0);
  }

  setTail(pos: number): void {
    Atomics.store(this.i32, this.wTail, pos | 0);
  }

  /** Copies `src[from, to)` into the ring at stream position `at`; the caller made sure it fits. */
  put(at: number, src: Buffer, from = 0, to = src.length): void {
    const len = to - from;
    const i = at & this.mask;
    const first = Math.min(len, this.size - i);
    src.copy(this.buf, this.off + i, from, from + first);
    if (first < len) src.copy(this.buf, this.off, from + first, to);
  }

  /** The bytes [from, to) as one or two views of the mapping (no copy). */
  views(from: number, to: number): Buffer[] {
    const len = (to - from) >>> 0;
    if (len === 0) return [];
    const i = from & this.mask;
    const first = Math.min(len, this.size - i);
    const a = this.buf.subarray(this.off + i, this.off + i + first);
    return first < len ? [a, this.buf.subarray(this.off, this.off + len - first)] : [a];
  }

  /** Copies `len` bytes at stream position `from` out of the ring. */
  copyOut(from: number, len: number): Buffer {
    const out = Buffer.allocUnsafe(len);
    let at = 0;
    for (const v of this.views(from, (from + len) >>> 0)) {
      v.copy(out, at);
      at += v.length;
    }
    return out;
  }
}

/** One connection's slot: header words, command records, rx ring, tx ring. */
export class SlotView {
  readonly base: number; // word index of the slot header
  readonly recordsWord: number; // word index of record 0
  readonly rx: ByteRing;
  readonly tx: ByteRing;
  readonly headerOff: number;
  readonly recordsOff: number;

  constructor(readonly file: RingsFile, readonly index: number) {
    const p = slotPlacement(file.geometry, index);
    this.headerOff = p.header;
    this.recordsOff = p.records;
    this.base = p.header >> 2;
    this.recordsWord = p.records >> 2;
    const g = file.geometry;
    this.rx = new ByteRing(file.buf, p.rx, g.rxSize, file.i32, this.base + SW.RX_HEAD, this.base + SW.RX_TAIL);
    this.tx = new ByteRing(file.buf, p.tx, g.txSize, file.i32, this.base + SW.TX_HEAD, this.base + SW.TX_TAIL);
  }

  load(w: number): number {
    return Atomics.load(this.file.i32, this.base + w);
  }

  store(w: number, v: number): void {
    Atomics.store(this.file.i32, this.base + w, v | 0);
  }

  /** Word index (in the file's Int32Array) of word `w` of record `r`. */
  rw(r: number, w: number): number {
    return this.recordsWord + r * (RECORD_SIZE >> 2) + w;
  }

  loadRecord(r: number, w: number): number {
    return Atomics.load(this.file.i32, this.rw(r, w));
  }

  storeRecord(r: number, w: number, v: number): void {
    Atomics.store(this.file.i32, this.rw(r, w), v | 0);
  }

  /** Byte offset in the file of byte `b` of record `r`. */
  recordByte(r: number, b: number): number {
    return this.recordsOff + r * RECORD_SIZE + b;
  }

  writeString(byteOff: number, max: number, lenWord: number, s: string): void {
    const b = this.file.buf;
    const at = this.headerOff + byteOff;
    b.fill(0, at, at + max);
    const n = b.write(s, at, max, 'utf8');
    this.store(lenWord, n);
  }

  readString(byteOff: number, max: number, lenWord: number): string {
    const n = Math.min(max, this.load(lenWord) >>> 0);
    const at = this.headerOff + byteOff;
    return this.file.buf.toString('utf8', at, at + n);
  }

  get peer(): string {
    return this.readString(SB.PEER, ADDR_MAX, SW.PEER_LEN);
  }

  get localAddress(): string {
    return this.readString(SB.LOCAL, ADDR_MAX, SW.LOCAL_LEN);
  }

  /** Zeroes the header and the command records (never the rings: their bytes are only read below a tail). */
  reset(): void {
    const b = this.file.buf;
    const gen = this.load(SW.GEN);
    b.fill(0, this.headerOff, this.recordsOff + this.file.geometry.records * RECORD_SIZE);
    this.store(SW.GEN, gen);
  }
}

export interface CreateRingsOptions extends RingsGeometry {
  path: string;
}

/** The mapping of a rings file. */
export class RingsFile {
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  private readonly slotViews: SlotView[] = [];
  private closed = false;

  private constructor(readonly path: string, readonly buf: Buffer, private readonly fd: number, readonly geometry: RingsGeometry) {
    this.i32 = new Int32Array(buf.buffer, buf.byteOffset, buf.length >> 2);
    this.f64 = new Float64Array(buf.buffer, buf.byteOffset, FILE_HEADER_SIZE >> 3);
    for (let i = 0; i < geometry.slots; i++) this.slotViews.push(new SlotView(this, i));
  }

  /**
   * Creates a new file (replacing any old one at `path`) with every page allocated, so running out of room
   * in a tmpfs shows here as ENOSPC and never later as SIGBUS on a store.
   */
  static create(o: CreateRingsOptions): RingsFile {
    const g: RingsGeometry = { slots: o.slots, rxSize: o.rxSize, txSize: o.txSize, records: o.records };
    if (!isPowerOfTwo(g.rxSize) || !isPowerOfTwo(g.txSize)) throw new RangeError('ring sizes must be powers of two');
    if (g.rxSize > 1 << 30 || g.txSize > 1 << 30) throw new RangeError('a ring may be at most 1 GiB');
    if (g.slots < 1 || g.records < 1 || g.records > 0xffff) throw new RangeError('bad slot or record count');
    if (existsSync(o.path)) unlinkSync(o.path);
    const size = fileSize(g);
    const fd = openSync(o.path, 'wx+', 0o600);
    try {
      const zeros = Buffer.alloc(1 << 20);
      for (let at = 0; at < size; at += zeros.length) writeSync(fd, zeros, 0, Math.min(zeros.length, size - at), at);
      const buf = mapShared(fd, size);
      buf.write(RINGS_MAGIC, FH.MAGIC, 'latin1');
      buf.writeUInt32LE(RINGS_VERSION, FH.VERSION);
      buf.writeUInt32LE(g.slots, FH.SLOTS);
      buf.writeUInt32LE(g.rxSize, FH.RX_SIZE);
      buf.writeUInt32LE(g.txSize, FH.TX_SIZE);
      buf.writeUInt32LE(g.records, FH.RECORDS);
      buf.writeUInt32LE(process.pid, FH.SUPERVISOR_PID);
      buf.writeDoubleLE(slotStride(g), FH.SLOT_STRIDE);
      return new RingsFile(o.path, buf, fd, g);
    } catch (e) {
      closeSync(fd);
      try { unlinkSync(o.path); } catch { /* already gone */ }
      throw e;
    }
  }

  /** Maps a file a supervisor created. */
  static open(path: string): RingsFile {
    const fd = openSync(path, 'r+');
    try {
      const size = fstatSync(fd).size;
      if (size < FILE_HEADER_SIZE) throw new Error(`${path}: not a rings file (${size} bytes)`);
      const buf = mapShared(fd, size);
      if (buf.toString('latin1', FH.MAGIC, FH.MAGIC + 8) !== RINGS_MAGIC) throw new Error(`${path}: not a rings file (magic)`);
      if (buf.readUInt32LE(FH.VERSION) !== RINGS_VERSION) throw new Error(`${path}: rings layout ${buf.readUInt32LE(FH.VERSION)}, expected ${RINGS_VERSION}`);
      const g: RingsGeometry = {
        slots: buf.readUInt32LE(FH.SLOTS), rxSize: buf.readUInt32LE(FH.RX_SIZE), txSize: buf.readUInt32LE(FH.TX_SIZE), records: buf.readUInt32LE(FH.RECORDS),
      };
      if (fileSize(g) !== size) throw new Error(`${path}: size ${size} does not match its geometry`);
      return new RingsFile(path, buf, fd, g);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  slot(i: number): SlotView {
    return this.slotViews[i];
  }

  get slotCount(): number {
    return this.geometry.slots;
  }

  /** A header f64 field (FH offsets are multiples of 8). */
  getF64(off: number): number {
    return this.f64[off >> 3];
  }

  setF64(off: number, v: number): void {
    this.f64[off >> 3] = v;
  }

  addF64(off: number, v: number): void {
    this.f64[off >> 3] += v;
  }

  /** Unmaps nothing (mmap-io unmaps when the buffer is collected) but closes the descriptor; `unlink` removes the file. */
  close(unlink = false): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
    if (unlink) {
      try { unlinkSync(this.path); } catch { /* already gone */ }
    }
  }
}

export { SLOT_HEADER_SIZE, NQN_MAX };
