// A regular file or a block device, through the page cache: a MAP_SHARED mapping of it (mapped.ts) and,
// for I/O sent off the event loop, positional reads and writes on its descriptor.
//
// Reads and writes are copies into or out of the mapping on the event loop while the backend's StallGuard
// allows it, and pread/pwrite on libuv's thread pool (fs.read/fs.write with a callback) otherwise. A 4 KiB
// copy of a resident page costs 0.3-0.5 us where readSync cost 1.0 us and writeSync 2.4-2.8 us (node
// microbench, 256 MiB file written in 128 KiB blocks, ext4); the hand-off to the pool cost about 15-20 us
// of target CPU per 4 KiB I/O (npm run bench, issue 19). A copy that waits for the device (a page not in
// the cache, a namespace larger than RAM, dirty-page throttling on a write fault) trips the guard, which
// sends that kind of I/O to the pool for a cool-off (stall-guard.ts states the bound on the event loop's
// waits). The mapping and the descriptor share the inode's page cache, so what a completed write, FUA and
// Flush guarantee does not depend on the path (target/README.md, "Write cache and durability").
// Without the addon, or a backing the kernel will not map, the event-loop path is readSync/writeSync.
//
// A SIGBUS on a mapped access (the file truncated under the target, a failing device) takes the namespace
// offline: that command and every later read, write, zeroing and flush fail with EIO (Unrecovered Read
// Error, Write Fault: controller/io.ts), logged as backend errors, until the target opens the backing again
// (a restart); the process and the other namespaces go on. A write fault on a full file system (a hole that
// cannot be allocated) is told apart by issuing the write again with pwrite: ENOSPC fails that command
// with Capacity Exceeded and the namespace stays online (writeFaulted()). A read fault is issued again with
// pread the same way: on a full tmpfs a read of a hole faults too, and pread reads it as zeroes (readFaulted()).
// The pool path uses fs.read/fs.write on the descriptor, not the FileHandle's promise methods: the same
// pread/pwrite without a FileHandle request, a result object and an await per call (file +state 4K randread
// QD32: 59K -> 71K IOPS, 19.7 -> 16.7 us of target CPU per I/O).
import { read as fsRead, write as fsWrite, readSync, writeSync, fstatSync, promises as fsp, constants as fsc, mkdirSync, existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import type { Backend, BackendOffline, IoDone } from './backend.js';
import { describeFailure } from '../../startup-error.js';
import { StallGuard } from './stall-guard.js';
import { Mapping } from './mapped.js';

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

/** The error every I/O of a namespace gets once a mapped access raised SIGBUS. */
function sigbusError(path: string, offset: number, what: string): Error {
  return Object.assign(new Error(`SIGBUS on the mapping of ${path} (${what} at byte ${offset}): the backing was truncated, its file system is full or its device failed; the namespace is offline until the target opens it again`), { code: 'EIO' });
}

export class FileBackend implements Backend {
  /** The backing mapped over [0, size): undefined without the addon (readSync/writeSync instead). */
  private readonly map: Mapping | undefined;
  /** Set by the first SIGBUS: the namespace is offline and every I/O fails with it. */
  private fault: Error | null = null;
  /** When `fault` was set (RFC 3339). */
  private faultSince = '';

  private constructor(
    readonly kind: 'file' | 'block',
    private readonly fh: fsp.FileHandle,
    private bytes: number,
    readonly path: string,
  ) {
    this.map = Mapping.open(fh.fd, bytes, path);
  }

  /** Whether data I/O goes through the mapping (tests; the log says why not). */
  get mapped(): boolean {
    return this.map !== undefined;
  }

  /** A mapped access raised SIGBUS: the namespace goes offline (said once on stderr; each failed command is logged). */
  private faulted(offset: number, what: string): Error {
    if (this.fault === null) {
      this.fault = sigbusError(this.path, offset, what);
      this.faultSince = new Date().toISOString();
      process.emitWarning(this.fault.message, { code: 'NVMEOF_SIGBUS' });
    }
    return this.fault;
  }

  /** The namespace is offline: the first SIGBUS's message, and when (GET /recovery, the offline gauge). */
  get offline(): BackendOffline | undefined {
    return this.fault ? { reason: this.fault.message, since: this.faultSince } : undefined;
  }

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
      if (now > this.bytes) {
        this.map?.grow(now);
        this.bytes = now;
      }
      return this.bytes;
    }
    if (toBytes === undefined || toBytes <= this.bytes) return this.bytes;
    const st = await this.fh.stat();
    if (st.size < toBytes) await step(`cannot size file ${this.path} to ${toBytes} bytes`, () => this.fh.truncate(toBytes));
    this.map?.grow(toBytes); // before the new size is served
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
    if (this.fault) return done(ctx, this.fault);
    const start = performance.now();
    if (!this.readGuard.allowSync(start)) return this.poolRead(offset, length, dst, done, ctx);
    let err: Error | null = null;
    if (this.map) {
      try {
        if (!this.map.read(offset, length, dst)) err = this.readFaulted(offset, length, dst);
      } catch (e) {
        err = e as Error; // a destination too small
      }
    } else {
      err = this.pread(offset, length, dst);
    }
    this.readGuard.record(start, performance.now(), length); // a failed copy too: a failing device is slow to fail
    done(ctx, err);
  }

  /** pread of `length` bytes at `offset` into `dst` on the event loop: null, or the error (EIO; arguments fs refuses). */
  private pread(offset: number, length: number, dst: Buffer): Error | null {
    let at = 0;
    try {
      while (at < length) {
        const n = readSync(this.fh.fd, dst, at, length - at, offset + at);
        if (n === 0) {
          dst.fill(0, at, length); // a sparse tail past EOF of a grown file reads as zeroes
          break;
        }
        at += n;
      }
      return null;
    } catch (e) {
      return e as Error;
    }
  }

  /** A backing file now shorter than `end` (truncated under the target): a fault there is not the file system's. */
  private truncatedBelow(end: number): boolean {
    return this.kind === 'file' && fstatSync(this.fh.fd).size < end;
  }

  /**
   * A copy out of the mapping raised SIGBUS. A file now shorter than the range was truncated under the target:
   * the namespace goes offline. Otherwise the same read is issued with pread: a read fault on a hole of a
   * full tmpfs must allocate a page and cannot (shmem_fault; pread of a hole copies the zero page instead),
   * so a pread that succeeds completes the read and the namespace stays online; an error (EIO: a failing
   * device) takes it offline.
   */
  private readFaulted(offset: number, length: number, dst: Buffer): Error | null {
    if (this.truncatedBelow(offset + length)) return this.faulted(offset, 'read');
    return this.pread(offset, length, dst) === null ? null : this.faulted(offset, 'read');
  }

  write<T>(offset: number, src: Buffer, fua: boolean, done: IoDone<T>, ctx: T): void {
    if (this.fault) return done(ctx, this.fault);
    const start = performance.now();
    if (!this.writeGuard.allowSync(start)) return this.poolWrite(offset, src, fua, done, ctx);
    let err: Error | null = null;
    if (this.map) {
      // The range is the namespace's, checked against size.
      if (!this.map.write(offset, src)) err = this.writeFaulted(offset, src);
    } else {
      err = this.pwrite(offset, src);
    }
    this.writeGuard.record(start, performance.now(), src.length);
    if (err) done(ctx, err);
    else this.written(fua, done, ctx);
  }

  /** pwrite of all of `src` at `offset` on the event loop: null, or the error (EIO, ENOSPC, EDQUOT). */
  private pwrite(offset: number, src: Buffer): Error | null {
    let at = 0;
    try {
      while (at < src.length) at += writeSync(this.fh.fd, src, at, src.length - at, offset + at);
      return null;
    } catch (e) {
      return e as Error;
    }
  }

  /**
   * A copy into the mapping raised SIGBUS. A file now shorter than the range was truncated under the target:
   * the namespace goes offline. Otherwise the same write is issued with pwrite, which names the cause: ENOSPC
   * or EDQUOT (a hole on a full file system or over quota: the fault could not reserve a block) fail this
   * command with Capacity Exceeded, as before the mapping, and the namespace stays online (space may be
   * freed); a pwrite that succeeds completes the write; any other error (EIO: a failing device) takes the
   * namespace offline.
   */
  private writeFaulted(offset: number, src: Buffer): Error | null {
    if (this.truncatedBelow(offset + src.length)) return this.faulted(offset, 'write');
    const err = this.pwrite(offset, src);
    const code = (err as NodeJS.ErrnoException | null)?.code;
    if (err === null || code === 'ENOSPC' || code === 'EDQUOT') return err;
    return this.faulted(offset, 'write');
  }

  /**
   * A write's data is in the page cache: it completes now, or with FUA once fdatasync has made it stable
   * (on the thread pool: a device wait by definition). fdatasync, not msync(MS_SYNC) of the range: both
   * write back and wait on the inode's dirty pages in the range and flush the device cache (msync is
   * vfs_fsync_range(.., datasync=1) of that range, mm/msync.c), but msync would wait on the event loop.
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
    if (this.fault) return Promise.reject(this.fault);
    return this.fh.datasync();
  }

  async zero(offset: number, length: number): Promise<void> {
    if (this.fault) throw this.fault;
    let done = 0;
    while (done < length) {
      const n = Math.min(ZERO_CHUNK.length, length - done);
      // On the thread pool: a large Write Zeroes or Deallocate is bulk work the event loop need not wait for.
      await new Promise<void>((resolve, reject) => this.poolWrite(offset + done, ZERO_CHUNK.subarray(0, n), false, settle, { resolve, reject }));
      done += n;
    }
  }

  close(): Promise<void> {
    this.map?.close();
    return this.fh.close();
  }
}
