/* Latency histogram: log-linear buckets, 64 per power of two (within 1.6 % of the true value), in
   nanoseconds; a fixed array, so recording is two shifts and an increment. */
#ifndef CLOAD_LATENCY_H
#define CLOAD_LATENCY_H
#include <stdint.h>

#define LATENCY_SUB_BITS 6
#define LATENCY_BUCKETS ((64 - LATENCY_SUB_BITS + 1) << LATENCY_SUB_BITS)

struct latency {
  uint64_t count, sum_ns, max_ns;
  uint64_t buckets[LATENCY_BUCKETS];
};

static inline unsigned latency_bucket(uint64_t ns) {
  if (ns < (1u << LATENCY_SUB_BITS)) return (unsigned)ns;
  unsigned msb = 63u - (unsigned)__builtin_clzll(ns);
  unsigned shift = msb - LATENCY_SUB_BITS;
  return ((shift + 1) << LATENCY_SUB_BITS) | (unsigned)((ns >> shift) & ((1u << LATENCY_SUB_BITS) - 1));
}

static inline void latency_record(struct latency *l, uint64_t ns) {
  l->count++;
  l->sum_ns += ns;
  if (ns > l->max_ns) l->max_ns = ns;
  l->buckets[latency_bucket(ns)]++;
}

/* The value below which a fraction p of the samples lie (the middle of its bucket), in nanoseconds. */
double latency_percentile(const struct latency *l, double p);
#endif
