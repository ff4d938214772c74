// The rings files: created and mapped by the supervisor, mapped again by every worker (layout in layout.ts).
// Invariants:
//  - a word the other process reads is stored with Atomics.store after the bytes it describes, and read with
//    Atomics.load before them: on one machine, one aligned 32-bit store is never seen half done, and a kill
//    never leaves it half written (the page belongs to the kernel's page cache, not to the process); a word
//    only a successor reads, after its writer is gone (the journal's), is a plain store (storeOwn);
//  - each ring has one writer of its tail and one writer of its head: the rx tail and the tx head are the
//    supervisor's (the worker's for a direct socket, which it reads and writes itself: direct-socket.ts),
//    the rx head and the tx tail the worker's;
//  - a ring never holds more than its size: the producer writes only into [tail, head + size).
import { closeSync, existsSync, fstatSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { mapShared } from '../state/mmap.js';
import type { TlsPeer } from '../controller/qpair.js';
import {
  ADDR_MAX, FH, FILE_HEADER_SIZE, NQN_MAX, RECORD_SIZE, RINGS_MAGIC, RINGS_VERSION, SB, SW,
  isPowerOfTwo, slotFileSize, slotPlacement, type RingsGeometry,
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

/** One connection's slot (its own file): header words, command records, rx ring, tx ring. */
export class SlotView {
  readonly rx: ByteRing;
  readonly tx: ByteRing;
  readonly i32: Int32Array;
  readonly headerOff = 0;
  readonly recordsOff: number;
  private readonly recordsWord: number;

  constructor(readonly file: RingsFile, readonly index: number, readonly buf: Buffer) {
    const g = file.geometry;
    const p = slotPlacement(g);
    this.i32 = new Int32Array(buf.buffer, buf.byteOffset, buf.length >> 2);
    this.recordsOff = p.records;
    this.recordsWord = p.records >> 2;
    this.rx = new ByteRing(buf, p.rx, g.rxSize, this.i32, SW.RX_HEAD, SW.RX_TAIL);
    this.tx = new ByteRing(buf, p.tx, g.txSize, this.i32, SW.TX_HEAD, SW.TX_TAIL);
  }

  load(w: number): number {
    return Atomics.load(this.i32, w);
  }

  store(w: number, v: number): void {
    Atomics.store(this.i32, w, v | 0);
  }

  /** Word index (in the slot's Int32Array) of word `w` of record `r`. */
  rw(r: number, w: number): number {
    return this.recordsWord + r * (RECORD_SIZE >> 2) + w;
  }

  loadRecord(r: number, w: number): number {
    return Atomics.load(this.i32, this.rw(r, w));
  }

  storeRecord(r: number, w: number, v: number): void {
    Atomics.store(this.i32, this.rw(r, w), v | 0);
  }

  /**
   * A plain store, for a word that no other process reads while this one lives (a journal word only a
   * successor reads, once this process is gone): the words stay in program order (V8 keeps stores to a typed
   * array in order, and a SIGKILL lands between two instructions), without Atomics.store's full barrier (an
   * xchg on x86, which waits for the store buffer: after a 4 KiB copy into the ring that is a stall).
   */
  storeOwn(w: number, v: number): void {
    this.i32[w] = v | 0;
  }

  storeRecordOwn(r: number, w: number, v: number): void {
    this.i32[this.rw(r, w)] = v | 0;
  }

  /** Byte offset in the slot's file of byte `b` of record `r`. */
  recordByte(r: number, b: number): number {
    return this.recordsOff + r * RECORD_SIZE + b;
  }

  writeString(byteOff: number, max: number, lenWord: number, s: string): void {
    this.buf.fill(0, byteOff, byteOff + max);
    const n = this.buf.write(s, byteOff, max, 'utf8');
    this.store(lenWord, n);
  }

  readString(byteOff: number, max: number, lenWord: number): string {
    const n = Math.min(max, this.load(lenWord) >>> 0);
    return this.buf.toString('utf8', byteOff, byteOff + n);
  }

  get peer(): string {
    return this.readString(SB.PEER, ADDR_MAX, SW.PEER_LEN);
  }

  /** The TLS PSK identity's host and subsystem the supervisor wrote at accept; undefined for a plain connection. */
  get tlsPeer(): TlsPeer | undefined {
    const hostNqn = this.readString(SB.TLS_HOSTNQN, NQN_MAX, SW.TLS_HOSTNQN_LEN);
    return hostNqn ? { hostNqn, subNqn: this.readString(SB.TLS_SUBNQN, NQN_MAX, SW.TLS_SUBNQN_LEN) } : undefined;
  }

  get localAddress(): string {
    return this.readString(SB.LOCAL, ADDR_MAX, SW.LOCAL_LEN);
  }

  /** Zeroes the header and the command records (never the rings: their bytes are only read below a tail). */
  reset(): void {
    const gen = this.load(SW.GEN);
    this.buf.fill(0, 0, this.recordsOff + this.file.geometry.records * RECORD_SIZE);
    this.store(SW.GEN, gen);
  }
}

export interface CreateRingsOptions extends RingsGeometry {
  /** The header file; slot files are `<path>.<slot>`. */
  path: string;
}

/** Maps a file of `size` bytes, creating it with every page allocated (ENOSPC now, never SIGBUS later). */
function createMapped(path: string, size: number): { fd: number; buf: Buffer } {
  if (existsSync(path)) unlinkSync(path);
  const fd = openSync(path, 'wx+', 0o600);
  try {
    const zeros = Buffer.alloc(Math.min(size, 1 << 20));
    for (let at = 0; at < size; at += zeros.length) writeSync(fd, zeros, 0, Math.min(zeros.length, size - at), at);
    return { fd, buf: mapShared(fd, size) };
  } catch (e) {
    closeSync(fd);
    try { unlinkSync(path); } catch { /* already gone */ }
    throw e;
  }
}

function openMapped(path: string, size: number): { fd: number; buf: Buffer } {
  const fd = openSync(path, 'r+');
  try {
    const have = fstatSync(fd).size;
    if (have !== size) throw new Error(`${path}: ${have} bytes, expected ${size}`);
    return { fd, buf: mapShared(fd, size) };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** The rings: the header file's mapping, and each slot's file mapped on first use. */
export class RingsFile {
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  private readonly slotViews: Array<SlotView | undefined>;
  private readonly fds: number[] = [];
  private closed = false;

  private constructor(readonly path: string, readonly buf: Buffer, fd: number, readonly geometry: RingsGeometry, private readonly owner: boolean) {
    this.i32 = new Int32Array(buf.buffer, buf.byteOffset, buf.length >> 2);
    this.f64 = new Float64Array(buf.buffer, buf.byteOffset, FILE_HEADER_SIZE >> 3);
    this.slotViews = new Array(geometry.slots).fill(undefined);
    this.fds.push(fd);
  }

  /** Creates the header file (replacing any old one at `path`); slot files come with their first connection. */
  static create(o: CreateRingsOptions): RingsFile {
    const g: RingsGeometry = { slots: o.slots, rxSize: o.rxSize, txSize: o.txSize, records: o.records };
    if (!isPowerOfTwo(g.rxSize) || !isPowerOfTwo(g.txSize)) throw new RangeError('ring sizes must be powers of two');
    if (g.rxSize > 1 << 30 || g.txSize > 1 << 30) throw new RangeError('a ring may be at most 1 GiB');
    if (g.slots < 1 || g.records < 1 || g.records > 0xffff) throw new RangeError('bad slot or record count');
    for (let i = 0; i < g.slots; i++) if (existsSync(`${o.path}.${i}`)) unlinkSync(`${o.path}.${i}`);
    const { fd, buf } = createMapped(o.path, FILE_HEADER_SIZE);
    buf.write(RINGS_MAGIC, FH.MAGIC, 'latin1');
    buf.writeUInt32LE(RINGS_VERSION, FH.VERSION);
    buf.writeUInt32LE(g.slots, FH.SLOTS);
    buf.writeUInt32LE(g.rxSize, FH.RX_SIZE);
    buf.writeUInt32LE(g.txSize, FH.TX_SIZE);
    buf.writeUInt32LE(g.records, FH.RECORDS);
    buf.writeUInt32LE(process.pid, FH.SUPERVISOR_PID);
    buf.writeDoubleLE(slotFileSize(g), FH.SLOT_FILE_SIZE);
    return new RingsFile(o.path, buf, fd, g, true);
  }

  /** Maps the files a supervisor created. */
  static open(path: string): RingsFile {
    const { fd, buf } = openMapped(path, FILE_HEADER_SIZE);
    try {
      if (buf.toString('latin1', FH.MAGIC, FH.MAGIC + 8) !== RINGS_MAGIC) throw new Error(`${path}: not a rings file (magic)`);
      if (buf.readUInt32LE(FH.VERSION) !== RINGS_VERSION) throw new Error(`${path}: rings layout ${buf.readUInt32LE(FH.VERSION)}, expected ${RINGS_VERSION}`);
      const g: RingsGeometry = {
        slots: buf.readUInt32LE(FH.SLOTS), rxSize: buf.readUInt32LE(FH.RX_SIZE), txSize: buf.readUInt32LE(FH.TX_SIZE), records: buf.readUInt32LE(FH.RECORDS),
      };
      if (buf.readDoubleLE(FH.SLOT_FILE_SIZE) !== slotFileSize(g)) throw new Error(`${path}: slot size does not match its geometry`);
      return new RingsFile(path, buf, fd, g, false);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /**
   * Slot `i`: the supervisor makes its file the first time (throws ENOSPC and the like when there is no
   * room), a worker maps the file the supervisor made.
   */
  slot(i: number): SlotView {
    let v = this.slotViews[i];
    if (!v) {
      const path = `${this.path}.${i}`;
      const size = slotFileSize(this.geometry);
      const { fd, buf } = this.owner && !existsSync(path) ? createMapped(path, size) : openMapped(path, size);
      this.fds.push(fd);
      v = new SlotView(this, i, buf);
      this.slotViews[i] = v;
    }
    return v;
  }

  /** Whether slot `i` was ever used (its file exists). */
  hasSlot(i: number): boolean {
    return this.slotViews[i] !== undefined || existsSync(`${this.path}.${i}`);
  }

  get slotCount(): number {
    return this.geometry.slots;
  }

  /** Bytes of the slot files made so far. */
  get slotBytes(): number {
    return this.slotViews.filter(Boolean).length * slotFileSize(this.geometry);
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

  /** Closes the descriptors (mmap-io unmaps when a buffer is collected); `unlink` removes the files. */
  close(unlink = false): void {
    if (this.closed) return;
    this.closed = true;
    for (const fd of this.fds) closeSync(fd);
    if (!unlink) return;
    for (const p of [this.path, ...this.slotViews.map((_, i) => `${this.path}.${i}`)]) {
      try { unlinkSync(p); } catch { /* never made, or already gone */ }
    }
  }
}
