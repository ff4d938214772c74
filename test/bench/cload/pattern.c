/* The verify pattern (see pattern.h). */
#include "pattern.h"

#include "le.h"

#define PATTERN_MAGIC 0x31646c63u /* "cld1" */
#define PATTERN_HEADER 16

static inline uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static inline uint64_t seed(uint64_t lba, uint32_t gen) { return lba * 0xd1342543de82ef95ull ^ ((uint64_t)gen << 32 | gen); }

void pattern_fill(uint8_t *buf, uint32_t lba_size, uint32_t nlb, uint64_t slba, uint32_t gen) {
  for (uint32_t i = 0; i < nlb; i++) {
    uint8_t *b = buf + (uint64_t)i * lba_size;
    uint64_t s = seed(slba + i, gen);
    put64(b, slba + i);
    put32(b + 8, gen);
    put32(b + 12, PATTERN_MAGIC);
    for (uint32_t at = PATTERN_HEADER; at + 8 <= lba_size; at += 8) put64(b + at, splitmix64(&s));
  }
}

bool pattern_check(const uint8_t *buf, uint32_t lba_size, uint32_t nlb, uint64_t slba, uint32_t gen, struct mismatch *m) {
  for (uint32_t i = 0; i < nlb; i++) {
    const uint8_t *b = buf + (uint64_t)i * lba_size;
    uint64_t lba = slba + i, s = seed(lba, gen);
    uint32_t bad = lba_size;
    if (get64(b) != lba) bad = 0;
    else if (get32(b + 8) != gen) bad = 8;
    else if (get32(b + 12) != PATTERN_MAGIC) bad = 12;
    for (uint32_t at = PATTERN_HEADER; bad == lba_size && at + 8 <= lba_size; at += 8) {
      uint64_t want = splitmix64(&s), got = get64(b + at);
      if (got != want) bad = at + (uint32_t)(__builtin_ctzll(got ^ want) / 8);
    }
    if (bad != lba_size) {
      *m = (struct mismatch){ .lba = lba, .offset = bad, .found_lba = get64(b), .found_gen = get32(b + 8), .found_magic = get32(b + 12) == PATTERN_MAGIC };
      return false;
    }
  }
  return true;
}
