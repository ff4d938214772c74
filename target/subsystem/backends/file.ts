// A regular file or a block device, through the page cache with positional reads and writes.
//
// Reads and writes run synchronously on the event loop (readSync/writeSync: one pread or pwrite, no
// thread-pool hand-off and wake-up) while the backend's StallGuard allows it, and on libuv's thread pool
// (fs.read/fs.write with a callback) otherwise. A page-cache hit costs a few microseconds either way; the
// hand-off cost about 15-20 us of target CPU per 4 KiB I/O (npm run bench, issue 19: file +state did 19-24 %
// of memory +state's IOPS at QD32). A call that waits for the device (a cache miss, a namespace larger than
// RAM, dirty-page throttling) trips the guard, which sends that kind of I/O to the pool for a cool-off
// (stall-guard.ts states the bound on the event loop's waits). Both paths issue the same system calls on the
// same descriptor, so what a completed write, FUA and Flush guarantee does not depend on the path
// (target/README.md, "Write cache and durability").
// The pool path uses fs.read/fs.write on the descriptor, not the FileHandle's promise methods: the same
// pread/pwrite without a FileHandle request, a result object and an await per call (file +state 4K randread
// QD32: 59K -> 71K IOPS, 19.7 -> 16.7 us of target CPU per I/O).
import { read as fsRead, write as fsWrite, readSync, writeSync, promises as fsp, constants as fsc, mkdirSync, existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import type { Backend, IoDone } from './backend.js';
import { describeFailure } from '../../startup-error.js';
import { StallGuard } from './stall-guard.js';

const require = createRequire(import.meta.url);
const fsExt = require('fs-ext') as { seekSync(fd: number, offset: number, whence: number): number };

const ZERO_CHUNK = Buffer.alloc(1 << 20);

/** Runs one system call of opening a backing; its failure says what was being done and why ("EFBIG (file too large)"). */
async function step<T>(what: string, call: () => Promise<T>, undo?: () => Promise<void>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    await undo?.().catch(() => { /* the first failure is the one worth reporting */ });
    throw describeFailure(what, e);
  }
}

function settle(p: { resolve: () => void; reject: (e: Error) => void }, err: Error | null): void {
  if (err) p.reject(err);
  else p.resolve();
}

export class FileBackend implements Backend {
  private constructor(
    readonly kind: 'file' | 'block',
    private readonly fh: fsp.FileHandle,
    private bytes: number,
    readonly path: string,
  ) {}

  /** Only grows, by resize(): a range checked against an earlier size stays inside the backing. */
  get size(): number {
    return this.bytes;
  }

  /**
   * A file grows to `toBytes` (ftruncate; an existing larger file is used up to `toBytes`, as openFile does);
   * a block device's size is read again (SEEK_END). A smaller size is never taken: acknowledged data would be
   * out of range, and a device that shrank under the target is the device's problem, reported by its I/O errors.
   */
  async resize(toBytes?: number): Promise<number> {
    if (this.kind === 'block') {
      const st = await this.fh.stat();
      const now = st.isBlockDevice() ? fsExt.seekSync(this.fh.fd, 0, 2) : st.size;
      if (now > this.bytes) this.bytes = now;
      return this.bytes;
    }
    if (toBytes === undefined || toBytes <= this.bytes) return this.bytes;
    const st = await this.fh.stat();
    if (st.size < toBytes) await step(`cannot size file ${this.path} to ${toBytes} bytes`, () => this.fh.truncate(toBytes));
    this.bytes = toBytes;
    return this.bytes;
  }

  /**
   * Opens a file backing, creating it (and its directory) with `size` bytes when missing. An existing
   * file smaller than `size` is extended (never truncated: a shrink would lose acknowledged data).
   */
  static async openFile(path: string, size: number | undefined): Promise<FileBackend> {
    if (!existsSync(path)) {
      if (size === undefined) throw new Error(`namespace file ${path} does not exist and no size was given`);
      mkdirSync(dirname(path), { recursive: true });
    }
    // O_NOFOLLOW: a symlink planted in a subsystem directory must not redirect the namespace elsewhere.
    const fh = await step(`cannot open file ${path}`, () => fsp.open(path, fsc.O_RDWR | fsc.O_CREAT | fsc.O_NOFOLLOW, 0o600));
    const st = await fh.stat();
    let actual = st.size;
    if (size !== undefined && actual < size) {
      // EFBIG: larger than the filesystem allows a file (e.g. 16 TiB on ext4 with 4 KiB blocks).
      await step(`cannot size file ${path} to ${size} bytes`, () => fh.truncate(size), () => fh.close());
      actual = size;
    }
    if (actual === 0) {
      await fh.close();
      throw new Error(`namespace file ${path} is empty`);
    }
    return new FileBackend('file', fh, size ?? actual, path);
  }

  /** Opens a block device (or an existing file used as is); its size comes from seeking to its end. */
  static async openBlock(path: string): Promise<FileBackend> {
    if (!existsSync(path)) throw new Error(`block device ${path} does not exist`);
    const st = statSync(path);
    if (!st.isBlockDevice() && !st.isFile()) throw new Error(`${path} is neither a block device nor a file`);
    const fh = await step(`cannot open block device ${path}`, () => fsp.open(path, fsc.O_RDWR));
    const size = st.isBlockDevice() ? fsExt.seekSync(fh.fd, 0, 2) : st.size;
    if (size <= 0) {
      await fh.close();
      throw new Error(`block device ${path} has size ${size}`);
    }
    return new FileBackend('block', fh, size, path);
  }

  /** Whether reads, and writes, may run on the event loop now (each kind has its own stalls). */
  readonly readGuard = new StallGuard();
  readonly writeGuard = new StallGuard();

  read<T>(offset: number, length: number, dst: Buffer, done: IoDone<T>, ctx: T): void {
    const start = performance.now();
    if (!this.readGuard.allowSync(start)) return this.poolRead(offset, length, dst, done, ctx);
    const fd = this.fh.fd;
    let at = 0;
    let err: Error | null = null;
    try {
      while (at < length) {
        const n = readSync(fd, dst, at, length - at, offset + at);
        if (n === 0) {
          dst.fill(0, at, length); // a sparse tail past EOF of a grown file reads as zeroes
          break;
        }
        at += n;
      }
    } catch (e) {
      err = e as Error; // EIO, or arguments fs refuses (a destination too small)
    }
    this.readGuard.record(start, performance.now(), length); // a failed call too: a failing device is slow to fail
    done(ctx, err);
  }

  write<T>(offset: number, src: Buffer, fua: boolean, done: IoDone<T>, ctx: T): void {
    const start = performance.now();
    if (!this.writeGuard.allowSync(start)) return this.poolWrite(offset, src, fua, done, ctx);
    const fd = this.fh.fd;
    let at = 0;
    let err: Error | null = null;
    try {
      while (at < src.length) at += writeSync(fd, src, at, src.length - at, offset + at);
    } catch (e) {
      err = e as Error; // EIO, ENOSPC, EDQUOT
    }
    this.writeGuard.record(start, performance.now(), src.length);
    if (err) done(ctx, err);
    else this.written(fua, done, ctx);
  }

  /**
   * A write's data is in the page cache: it completes now, or with FUA once fdatasync has made it stable
   * (on the thread pool: a device wait by definition).
   */
  private written<T>(fua: boolean, done: IoDone<T>, ctx: T): void {
    if (fua) this.fh.datasync().then(() => done(ctx, null), (e: Error) => done(ctx, e));
    else done(ctx, null);
  }

  /** read() on libuv's thread pool. */
  private poolRead<T>(offset: number, length: number, dst: Buffer, done: IoDone<T>, ctx: T): void {
    const fd = this.fh.fd;
    let at = 0;
    const next = (err: NodeJS.ErrnoException | null, n: number): void => {
      if (err) return done(ctx, err);
      if (n === 0) {
        dst.fill(0, at, length); // a sparse tail past EOF of a grown file reads as zeroes
        return done(ctx, null);
      }
      at += n;
      if (at < length) fsRead(fd, dst, at, length - at, offset + at, next);
      else done(ctx, null);
    };
    try {
      fsRead(fd, dst, 0, length, offset, next);
    } catch (e) {
      done(ctx, e as Error); // arguments fs refuses at once (a destination too small)
    }
  }

  /** write() on libuv's thread pool. */
  private poolWrite<T>(offset: number, src: Buffer, fua: boolean, done: IoDone<T>, ctx: T): void {
    const fd = this.fh.fd;
    let at = 0;
    const next = (err: NodeJS.ErrnoException | null, n: number): void => {
      if (err) return done(ctx, err);
      at += n;
      if (at < src.length) fsWrite(fd, src, at, src.length - at, offset + at, next);
      else this.written(fua, done, ctx);
    };
    try {
      fsWrite(fd, src, 0, src.length, offset, next);
    } catch (e) {
      done(ctx, e as Error);
    }
  }

  flush(): Promise<void> {
    return this.fh.datasync();
  }

  async zero(offset: number, length: number): Promise<void> {
    let done = 0;
    while (done < length) {
      const n = Math.min(ZERO_CHUNK.length, length - done);
      // On the thread pool: a large Write Zeroes or Deallocate is bulk work the event loop need not wait for.
      await new Promise<void>((resolve, reject) => this.poolWrite(offset + done, ZERO_CHUNK.subarray(0, n), false, settle, { resolve, reject }));
      done += n;
    }
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}
