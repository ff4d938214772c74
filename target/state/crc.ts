// CRC32C (Castagnoli, reflected polynomial 0x82F63B78) of byte ranges of the mapped state file.
//
// Two implementations giving the same value: @node-rs/crc32 (native, fast on long ranges but it
// needs a Buffer view, about 200 ns per call on a small record here) and a slicing-by-4 table in
// JavaScript that reads the mapping in place (about 30 ns for a 28-byte record). Records up to
// NATIVE_THRESHOLD bytes use the table; the header and controller records use the native one.
import { createRequire } from 'node:module';
import { endianness } from 'node:os';

const require = createRequire(import.meta.url);
const native = require('@node-rs/crc32') as { crc32c(input: Buffer, initial?: number): number };

const NATIVE_THRESHOLD = 256;

// The word-wise path reads u32 words through a Uint32Array, which is host-endian; the layout is
// little-endian. Every platform Node supports for this project (x86-64, arm64) is little-endian.
if (endianness() !== 'LE') throw new Error('state store: a little-endian host is required');

// T[k * 256 + b]: CRC of byte b followed by k zero bytes (slicing-by-4 tables).
const T = new Int32Array(4 * 256);
for (let b = 0; b < 256; b++) {
  let c = b;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  T[b] = c;
}
for (let b = 0; b < 256; b++) {
  for (let k = 1; k < 4; k++) {
    const prev = T[(k - 1) * 256 + b];
    T[k * 256 + b] = (prev >>> 8) ^ T[prev & 0xff];
  }
}

/** CRC32C of buf[start, end). */
export function crc32cRange(buf: Buffer, start: number, end: number): number {
  if (end - start > NATIVE_THRESHOLD) return native.crc32c(buf.subarray(start, end)) >>> 0;
  let c = -1;
  let i = start;
  for (; i + 4 <= end; i += 4) {
    c ^= buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24);
    c = T[768 + (c & 0xff)] ^ T[512 + ((c >>> 8) & 0xff)] ^ T[256 + ((c >>> 16) & 0xff)] ^ T[c >>> 24];
  }
  for (; i < end; i++) c = T[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/**
 * CRC32C of `count` little-endian u32 words starting at word index `word` of a Uint32Array view of
 * the mapping: the hot-path form (one load per four bytes, no allocation).
 */
export function crc32cWords(u32: Uint32Array, word: number, count: number): number {
  return crc32cWordsFrom(-1, u32, word, count);
}

/** The running CRC32C state after one more word `w` (a fresh CRC starts from -1): for prefixes computed once. */
export function crc32cStep(c: number, w: number): number {
  c ^= w;
  return T[768 + (c & 0xff)] ^ T[512 + ((c >>> 8) & 0xff)] ^ T[256 + ((c >>> 16) & 0xff)] ^ T[c >>> 24];
}

/**
 * CRC32C of the words before (whose running state is `c`, from crc32cStep) and then `count` words from index
 * `word`: a record whose first words never change is checksummed from their saved state.
 */
export function crc32cWordsFrom(c: number, u32: Uint32Array, word: number, count: number): number {
  const end = word + count;
  for (let i = word; i < end; i++) {
    c ^= u32[i];
    c = T[768 + (c & 0xff)] ^ T[512 + ((c >>> 8) & 0xff)] ^ T[256 + ((c >>> 16) & 0xff)] ^ T[c >>> 24];
  }
  return (c ^ -1) >>> 0;
}

/** The native implementation, for tests that check the table against it. */
export function crc32cNative(buf: Buffer): number {
  return native.crc32c(buf) >>> 0;
}
