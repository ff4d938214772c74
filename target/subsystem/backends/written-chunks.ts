/**
 * Which 4 KiB chunks of a byte range have ever been written: one bit each (32 KiB per GiB). A bit, once
 * set, stays set: it only tells that the chunk's memory may hold something other than zeroes.
 */
const CHUNK_SHIFT = 12;
const CHUNK = 1 << CHUNK_SHIFT;

export class WrittenChunks {
  private readonly bits: Uint32Array;

  constructor(size: number) {
    this.bits = new Uint32Array(Math.ceil(Math.ceil(size / CHUNK) / 32));
  }

  /** Whether the chunk holding byte `offset` was written. */
  has(offset: number): boolean {
    const c = Math.floor(offset / CHUNK);
    return (this.bits[c >>> 5] & (1 << (c & 31))) !== 0;
  }

  /**
   * The end of the run of chunks from `offset` on that are all written or all unwritten, as `offset`'s
   * chunk is, clipped to `end`: [offset, runEnd) is one kind, and runEnd is `end` or a chunk boundary.
   */
  runEnd(offset: number, end: number): number {
    const was = this.has(offset);
    let at = (Math.floor(offset / CHUNK) + 1) * CHUNK;
    while (at < end && this.has(at) === was) at += CHUNK;
    return Math.min(at, end);
  }

  /** Marks every chunk [offset, offset + length) touches. */
  mark(offset: number, length: number): void {
    if (length <= 0) return;
    const last = Math.floor((offset + length - 1) / CHUNK);
    for (let c = Math.floor(offset / CHUNK); c <= last; c++) this.bits[c >>> 5] |= 1 << (c & 31);
  }
}
