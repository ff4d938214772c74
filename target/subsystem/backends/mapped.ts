// A MAP_SHARED mapping of a file or block device, copied to and from with a SIGBUS guard
// (native/safe-mmap: a C Node-API addon built into dist/native/safe-mmap.node by scripts/prepare.sh).
//
// A 4 KiB copy into a mapped page-cache page costs 0.3-0.4 us where pwrite costs 0.85-3.1 us (ext4, this
// machine's kernel; more with the large folios a file written in large blocks gets), so file and block
// namespaces serve their data through a mapping. A page the kernel cannot provide raises SIGBUS on the
// access (the file truncated below it, a hole on a full file system, a failing device): the addon turns it
// into a failed copy (false here) in the thread that faulted; the backend (file.ts) then issues the same
// I/O with pread/pwrite, which names the cause: ENOSPC/EDQUOT fail that command (Capacity Exceeded) and a
// hole read on a full tmpfs reads zeroes, the namespace staying online; an I/O error or a file now too
// short takes the namespace offline.
//
// Invariants:
//  - the mapping and the descriptor share the inode's page cache: pread/pwrite on the descriptor (the thread
//    pool's path) and copies through the mapping see each other's data, and fdatasync on the descriptor
//    writes back pages dirtied through the mapping (target/README.md, "Write cache and durability");
//  - the mapping covers [0, length): grow() before serving a range past it (a namespace grown live);
//  - without the addon (not built, no cc, another platform) load() returns undefined, logged once, and the
//    backend uses pread/pwrite as before.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

interface SafeMmap {
  map(fd: number, length: number): object;
  remap(m: object, length: number): void;
  unmap(m: object): void;
  copy(m: object, offset: number, buf: Uint8Array, length: number, toMapping: boolean): number;
  readonly COPY_OK: number;
  readonly COPY_RANGE: number;
}

/** Where prepare.sh builds the addon: dist/native/ beside dist/target/ (this file is dist/target/subsystem/backends/mapped.js). */
export const ADDON_PATH = fileURLToPath(new URL('../../../native/safe-mmap.node', import.meta.url));

let addon: SafeMmap | null | undefined;

/** The addon, or undefined when it cannot load (said once on stderr; NVMEOF_NO_MMAP=1 turns it off). */
function load(): SafeMmap | undefined {
  if (addon === undefined) {
    addon = null;
    if (process.env.NVMEOF_NO_MMAP === '1') return undefined;
    try {
      addon = createRequire(import.meta.url)(ADDON_PATH) as SafeMmap;
    } catch (e) {
      process.emitWarning(`file and block namespaces use pread/pwrite, not a mapping: ${ADDON_PATH} does not load (${(e as Error).message}); scripts/prepare.sh builds it`, { code: 'NVMEOF_NO_MMAP' });
    }
  }
  return addon ?? undefined;
}

export class Mapping {
  private constructor(private readonly lib: SafeMmap, private readonly m: object, private length: number) {}

  /** Maps the first `length` bytes of `fd`; undefined without the addon or when the kernel refuses (said once). */
  static open(fd: number, length: number, path: string): Mapping | undefined {
    const lib = load();
    if (lib === undefined) return undefined;
    try {
      return new Mapping(lib, lib.map(fd, length), length);
    } catch (e) {
      process.emitWarning(`${path} is served with pread/pwrite: ${(e as Error).message}`, { code: 'NVMEOF_NO_MMAP' });
      return undefined;
    }
  }

  /** The mapping covers `length` bytes now (it only grows). */
  grow(length: number): void {
    if (length <= this.length) return;
    this.lib.remap(this.m, length);
    this.length = length;
  }

  /** Copies `length` bytes at `offset` into `dst`; false if the access raised SIGBUS. Throws on a bad range. */
  read(offset: number, length: number, dst: Uint8Array): boolean {
    return this.checked(this.lib.copy(this.m, offset, dst, length, false), offset, length, dst.length);
  }

  /** Copies `src` to `offset`; false if the access raised SIGBUS. Throws on a bad range. */
  write(offset: number, src: Uint8Array): boolean {
    return this.checked(this.lib.copy(this.m, offset, src, src.length, true), offset, src.length, src.length);
  }

  private checked(result: number, offset: number, length: number, buffer: number): boolean {
    if (result === this.lib.COPY_RANGE) {
      throw new RangeError(`copy of ${length} bytes at ${offset}: outside the ${this.length}-byte mapping or the ${buffer}-byte buffer`);
    }
    return result === this.lib.COPY_OK;
  }

  close(): void {
    this.lib.unmap(this.m);
  }
}
