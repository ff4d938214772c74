/* Latency histogram (see latency.h). */
#include "latency.h"

/* The smallest value of bucket i, and its width. */
static void bucket_range(unsigned i, double *low, double *width) {
  unsigned group = i >> LATENCY_SUB_BITS, sub = i & ((1u << LATENCY_SUB_BITS) - 1);
  if (group == 0) {
    *low = sub;
    *width = 1;
    return;
  }
  double unit = (double)(1ull << (group - 1));
  *low = ((1u << LATENCY_SUB_BITS) + sub) * unit;
  *width = unit;
}

double latency_percentile(const struct latency *l, double p) {
  if (!l->count) return 0;
  uint64_t rank = (uint64_t)(p * (double)l->count);
  if (rank >= l->count) rank = l->count - 1;
  uint64_t seen = 0;
  for (unsigned i = 0; i < LATENCY_BUCKETS; i++) {
    seen += l->buckets[i];
    if (seen > rank) {
      double low, width;
      bucket_range(i, &low, &width);
      return low + width / 2;
    }
  }
  return (double)l->max_ns;
}
