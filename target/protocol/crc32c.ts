// CRC32C (Castagnoli) for NVMe/TCP header and data digests, from @node-rs/crc32 (N-API, prebuilt; about 6.5 GB/s here).
import { crc32c as rsCrc32c } from '@node-rs/crc32';

/** CRC32C of `b`, continuing from `initial` (0 to start). */
export function crc32c(b: Buffer, initial = 0): number {
  return rsCrc32c(b, initial) >>> 0;
}
