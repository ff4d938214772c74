// Reusable data buffers for commands (host data of writes, controller data of reads), so the I/O path
// allocates no new memory in steady state and RSS stays flat instead of waiting for the GC.
// Invariants:
//  - a buffer is handed to one command at a time: release() only once its data is no longer referenced
//    (a write's backend call finished; a read's data left for the socket);
//  - sizes are rounded up to a power of two from 4 KiB; larger requests than MAX_POOLED are not pooled;
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
  private readonly free: ArrayBuffer[][] = [];
  private kept = 0;

  constructor(private readonly keepBytes: number) {
    for (let s = 0; s <= MAX_SHIFT; s++) this.free.push([]);
  }

  /** A buffer of exactly `len` bytes (contents undefined). */
  acquire(len: number): Buffer {
    if (len > MAX_POOLED || len === 0) return Buffer.allocUnsafeSlow(len);
    const shift = classOf(len);
    const ab = this.free[shift].pop();
    if (ab) {
      this.kept -= ab.byteLength;
      return Buffer.from(ab, 0, len);
    }
    return Buffer.from(new ArrayBuffer(1 << shift), 0, len);
  }

  /** Gives a buffer from acquire() back. */
  release(buf: Buffer): void {
    const ab = buf.buffer as ArrayBuffer;
    const size = ab.byteLength;
    if (size > MAX_POOLED || size < 1 << MIN_SHIFT || (size & (size - 1)) !== 0 || buf.byteOffset !== 0) return;
    if (this.kept + size > this.keepBytes) return;
    this.free[classOf(size)].push(ab);
    this.kept += size;
  }

  get keptBytes(): number {
    return this.kept;
  }
}

/** The target's pool: sized like the data budget (runtime/run.ts), which bounds what is in use at once. */
export const dataBuffers = new BufferPool(16 * 1024 * 1024);
