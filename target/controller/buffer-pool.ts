// Reusable data buffers for commands (host data of writes, controller data of reads), so the I/O path
// allocates no new memory in steady state and RSS stays flat instead of waiting for the GC.
// Invariants:
//  - a buffer is handed to one command at a time: release() only once its data is no longer referenced
//    (a write's backend call finished; a read's data left for the socket);
//  - sizes are rounded up to a power of two from 4 KiB; larger requests than MAX_POOLED are not pooled;
//  - the free lists hold whole buffers, each the only view of its own memory: a request of a class's exact
//    size (4 KiB, 128 KiB: most I/O) gets one of them back as it is, so acquire() and release() create no
//    object and never ask a buffer for its ArrayBuffer (a slow call in V8: 3% of the target's CPU at QD32);
//  - at most `keepBytes` of free buffers are kept; the rest go to the GC.

const MIN_SHIFT = 12;
const MAX_SHIFT = 20;
export const MAX_POOLED = 1 << MAX_SHIFT;

function classOf(len: number): number {
  let shift = MIN_SHIFT;
  while ((1 << shift) < len) shift++;
  return shift;
}

export class BufferPool {
  private readonly free: Buffer[][] = [];
  private kept = 0;

  constructor(private readonly keepBytes: number) {
    for (let s = 0; s <= MAX_SHIFT; s++) this.free.push([]);
  }

  /** A buffer of exactly `len` bytes (contents undefined). */
  acquire(len: number): Buffer {
    if (len > MAX_POOLED || len === 0) return Buffer.allocUnsafeSlow(len);
    const shift = classOf(len);
    const cap = 1 << shift;
    let whole = this.free[shift].pop();
    if (whole) this.kept -= cap;
    else whole = Buffer.allocUnsafeSlow(cap);
    return len === cap ? whole : whole.subarray(0, len);
  }

  /** Gives a buffer from acquire() back. */
  release(buf: Buffer): void {
    const len = buf.length;
    if (len > MAX_POOLED || len === 0 || buf.byteOffset !== 0) return;
    const shift = classOf(len);
    const cap = 1 << shift;
    if (this.kept + cap > this.keepBytes) return;
    let whole = buf;
    if (len !== cap) {
      // A part of a class buffer (the slow path: sizes that are not a power of two).
      const ab = buf.buffer as ArrayBuffer;
      if (ab.byteLength !== cap) return;
      whole = Buffer.from(ab, 0, cap);
    }
    this.free[shift].push(whole);
    this.kept += cap;
  }

  get keptBytes(): number {
    return this.kept;
  }
}

/** Bytes of command data: the data budget's size (transport/data-budget.ts) and the most the pool keeps free. */
export const DATA_BUFFER_BYTES = 16 * 1024 * 1024;

/** The target's pool: sized like the data budget, which bounds what is in use at once. */
export const dataBuffers = new BufferPool(DATA_BUFFER_BYTES);
