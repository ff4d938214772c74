/* The verify pattern. Every logical block written in verify mode carries its own LBA (bytes 0-7), the
   generation of the write (bytes 8-11), a magic (bytes 12-15) and, after that, 64-bit words of a
   splitmix64 stream seeded by (LBA, generation): a block of another LBA or another write, a torn or
   zeroed block, or one byte changed anywhere, fails the check. */
#ifndef CLOAD_PATTERN_H
#define CLOAD_PATTERN_H
#include <stdbool.h>
#include <stdint.h>

struct mismatch {
  /* The block that did not match, the byte within it, and what its header holds. */
  uint64_t lba;
  uint32_t offset;
  uint64_t found_lba;
  uint32_t found_gen;
  bool found_magic;
};

void pattern_fill(uint8_t *buf, uint32_t lba_size, uint32_t nlb, uint64_t slba, uint32_t gen);
/* true when every block of buf holds pattern (slba + i, gen); otherwise false and *m says where it differs. */
bool pattern_check(const uint8_t *buf, uint32_t lba_size, uint32_t nlb, uint64_t slba, uint32_t gen, struct mismatch *m);
#endif
