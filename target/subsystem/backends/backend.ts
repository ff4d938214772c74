// The storage behind a namespace. Offsets and lengths are in bytes and already checked against `size`.
// Durability contract (the volatile write cache the namespace advertises, VWC=1):
//  - write() resolves once the data is in the backend's cache (the page cache for files and block
//    devices): it survives a kill of the target process, not a crash of the node;
//  - write(..., fua=true) and flush() resolve only once the data is on stable storage (fdatasync).
export interface Backend {
  readonly kind: 'file' | 'block' | 'memory';
  /** Size in bytes (a multiple of the namespace block size). */
  readonly size: number;
  /** Reads `length` bytes at `offset` into `dst` (which has at least `length` bytes). */
  read(offset: number, length: number, dst: Buffer): Promise<void>;
  write(offset: number, src: Buffer, fua: boolean): Promise<void>;
  flush(): Promise<void>;
  /** Makes the range read back as zeroes (Write Zeroes, and Deallocate with DLFEAT "reads return zeroes"). */
  zero(offset: number, length: number): Promise<void>;
  close(): Promise<void>;
}
