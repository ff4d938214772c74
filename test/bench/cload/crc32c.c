/* CRC32C: the SSE4.2 crc32 instruction where the CPU has it, a byte table otherwise (digests are off in
   the bench's fast rows; this only has to be right, and not slow the digest rows by much). */
#include "crc32c.h"

static uint32_t table[256];

static void make_table(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    table[i] = c;
  }
}

static uint32_t by_table(uint32_t crc, const uint8_t *p, size_t n) {
  if (!table[1]) make_table();
  while (n--) crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return crc;
}

#if defined(__x86_64__)
#include <string.h>
__attribute__((target("sse4.2"))) static uint32_t by_sse42(uint32_t crc, const uint8_t *p, size_t n) {
  uint64_t c = crc;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    c = __builtin_ia32_crc32di(c, w);
  }
  uint32_t c32 = (uint32_t)c;
  while (n--) c32 = __builtin_ia32_crc32qi(c32, *p++);
  return c32;
}
#endif

uint32_t crc32c_update(uint32_t crc, const uint8_t *p, size_t n) {
#if defined(__x86_64__)
  static int sse42 = -1;
  if (sse42 < 0) sse42 = __builtin_cpu_supports("sse4.2");
  if (sse42) return by_sse42(crc, p, n);
#endif
  return by_table(crc, p, n);
}
