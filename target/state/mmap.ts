// The file mapping (@riaskov/mmap-io 1.4.3, a NAN addon) and msync of page ranges.
//
// The package's entry point finds its binary through @mapbox/node-pre-gyp, which costs about 60 ms
// of start-up here; we load the same binary from the path node-pre-gyp would compute (its binding.gyp
// module_path) and fall back to the package entry point when it is not there.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PAGE_SIZE } from './layout.js';

interface MmapBinding {
  map(size: number, protection: number, flags: number, fd: number, offset?: number): Buffer;
  PROT_READ: number;
  PROT_WRITE: number;
  MAP_SHARED: number;
  PAGESIZE: number;
  sync_lib_private__?: (buf: Buffer, offset: number, length: number, blocking: boolean, invalidate: boolean) => void;
  sync?: (buf: Buffer, offset: number, length: number, blocking: boolean, invalidate: boolean) => void;
}

const require = createRequire(import.meta.url);

function loadBinding(): MmapBinding {
  const pkgDir = dirname(require.resolve('@riaskov/mmap-io/package.json'));
  const abiDir = `node-v${process.versions.modules}-${process.platform}-${process.arch}`;
  // node-pre-gyp's module_path, then plain node-gyp's output (an image that ran `node-gyp rebuild`).
  for (const p of [join(pkgDir, 'build', 'binding', 'Release', abiDir, 'mmap_io.node'), join(pkgDir, 'build', 'Release', 'mmap_io.node')]) {
    try {
      return require(p) as MmapBinding;
    } catch {
      // not built there
    }
  }
  const m = require('@riaskov/mmap-io') as MmapBinding & { default?: MmapBinding };
  return m.default ?? m;
}

const mm = loadBinding();
// The raw binding exposes sync as sync_lib_private__; the package entry point wraps it as sync.
const rawSync = mm.sync_lib_private__ ?? mm.sync!;

// msync needs addresses aligned to the system page size, which may exceed the layout's 4 KiB page.
const SYNC_PAGE = Math.max(mm.PAGESIZE || PAGE_SIZE, PAGE_SIZE);

/** Maps `size` bytes of `fd` read-write, MAP_SHARED: stores reach the page cache, which outlives the process. */
export function mapShared(fd: number, size: number): Buffer {
  return mm.map(size, mm.PROT_READ | mm.PROT_WRITE, mm.MAP_SHARED, fd, 0);
}

/** msync(MS_SYNC) of the pages covering [off, off + len) of a mapping: returns once they are on disk. */
export function msyncRange(buf: Buffer, off: number, len: number): void {
  const start = Math.floor(off / SYNC_PAGE) * SYNC_PAGE;
  const end = Math.min(buf.length, Math.ceil((off + len) / SYNC_PAGE) * SYNC_PAGE);
  rawSync(buf, start, end - start, true, false);
}
