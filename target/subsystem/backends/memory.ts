import type { Backend, IoDone } from './backend.js';
import { WrittenChunks } from './written-chunks.js';

/**
 * Volatile memory. Contents are lost with the process, so its namespace identity is new at every start.
 *
 * Invariant: a chunk `written` does not mark holds only zeroes in `mem` (calloc'd, never written since), so
 * a read of it fills the destination with zeroes without touching, and faulting in, the namespace's pages:
 * a first read of an untouched page costs a page fault (about 3 us here), more than the rest of the copy.
 */
export class MemoryBackend implements Backend {
  readonly kind = 'memory' as const;
  private readonly mem: Buffer;
  private readonly written: WrittenChunks;

  constructor(readonly size: number) {
    // Buffer.alloc of a large size is calloc'd: untouched pages cost nothing.
    this.mem = Buffer.alloc(size);
    this.written = new WrittenChunks(size);
  }

  read<T>(offset: number, length: number, dst: Buffer, done: IoDone<T>, ctx: T): void {
    this.readInto(offset, length, dst);
    done(ctx, null);
  }

  write<T>(offset: number, src: Buffer, _fua: boolean, done: IoDone<T>, ctx: T): void {
    this.written.mark(offset, src.length);
    src.copy(this.mem, offset);
    done(ctx, null);
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  zero(offset: number, length: number): Promise<void> {
    // Unwritten chunks are zero already; written ones stay marked and hold the zeroes written here.
    const w = this.written;
    const end = offset + length;
    for (let at = offset, next: number; at < end; at = next) {
      next = w.runEnd(at, end);
      if (w.has(at)) this.mem.fill(0, at, next);
    }
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private readInto(offset: number, length: number, dst: Buffer): void {
    const w = this.written;
    const end = offset + length;
    for (let at = offset, next: number; at < end; at = next) {
      next = w.runEnd(at, end);
      if (w.has(at)) this.mem.copy(dst, at - offset, at, next);
      else dst.fill(0, at - offset, next - offset);
    }
  }
}
