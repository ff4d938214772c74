import type { Backend } from './backend.js';

/** Volatile memory. Contents are lost with the process, so its namespace identity is new at every start. */
export class MemoryBackend implements Backend {
  readonly kind = 'memory' as const;
  private readonly mem: Buffer;

  constructor(readonly size: number) {
    // Buffer.alloc of a large size is calloc'd: untouched pages cost nothing.
    this.mem = Buffer.alloc(size);
  }

  read(offset: number, length: number, dst: Buffer): Promise<void> {
    this.mem.copy(dst, 0, offset, offset + length);
    return Promise.resolve();
  }

  write(offset: number, src: Buffer): Promise<void> {
    src.copy(this.mem, offset);
    return Promise.resolve();
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  zero(offset: number, length: number): Promise<void> {
    this.mem.fill(0, offset, offset + length);
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
