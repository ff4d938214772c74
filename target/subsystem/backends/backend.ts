// The storage behind a namespace. Offsets and lengths are in bytes and already checked against `size`.
// Durability contract (the volatile write cache the namespace advertises, VWC=1):
//  - write() completes once the data is in the backend's cache (the page cache for files and block
//    devices): it survives a kill of the target process, not a crash of the node;
//  - write(..., fua=true) completes, and flush() resolves, only once the data is on stable storage (fdatasync).
//
// read() and write() are the data path: they call `done(ctx, null)` once the data is in place (or
// `done(ctx, err)`), exactly once, possibly before they return (a memory backend copies at once). A static
// `done` with a context allocates nothing per I/O, where a promise costs a promise, its reactions and a
// microtask (about 5% of the target's CPU per 4 KiB I/O at QD32, npm run bench).
export type IoDone<T> = (ctx: T, err: Error | null) => void;

/** Why a namespace's backing no longer serves, and since when (RFC 3339): GET /recovery `offline`, the gauge. */
export interface BackendOffline {
  reason: string;
  since: string;
}

export interface Backend {
  readonly kind: 'file' | 'block' | 'memory';
  /** Size in bytes (a multiple of the namespace block size). */
  readonly size: number;
  /** The file or block device behind it (none for memory): named in the log when a call fails. */
  readonly path?: string;
  /** Set once, when the backing went offline (file.ts: a SIGBUS on its mapping); never cleared in this process. */
  readonly offline?: BackendOffline;
  /** Reads `length` bytes at `offset` into `dst` (which has at least `length` bytes). */
  read<T>(offset: number, length: number, dst: Buffer, done: IoDone<T>, ctx: T): void;
  write<T>(offset: number, src: Buffer, fua: boolean, done: IoDone<T>, ctx: T): void;
  flush(): Promise<void>;
  /** Makes the range read back as zeroes (Write Zeroes, and Deallocate with DLFEAT "reads return zeroes"). */
  zero(offset: number, length: number): Promise<void>;
  close(): Promise<void>;
  /**
   * A file: grows it to `toBytes` (never shrinks). A block device: reads its size again (a device grown under
   * the target). Returns the size now. Absent: the size is fixed (memory).
   */
  resize?(toBytes?: number): Promise<number>;
}

function settle(resolve: () => void, reject: (e: Error) => void): IoDone<undefined> {
  return (_ctx, err) => (err ? reject(err) : resolve());
}

/** read() as a promise, off the data path (tests, tools). */
export function readAsync(b: Backend, offset: number, length: number, dst: Buffer): Promise<void> {
  return new Promise((resolve, reject) => b.read(offset, length, dst, settle(resolve, reject), undefined));
}

/** write() as a promise, off the data path (zeroing, tests). */
export function writeAsync(b: Backend, offset: number, src: Buffer, fua: boolean): Promise<void> {
  return new Promise((resolve, reject) => b.write(offset, src, fua, settle(resolve, reject), undefined));
}
