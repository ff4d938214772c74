/* CRC32C (Castagnoli), the NVMe/TCP header and data digest (NVMe/TCP 1.0, 3.6.1; Linux crc32c()). */
#ifndef CLOAD_CRC32C_H
#define CLOAD_CRC32C_H
#include <stddef.h>
#include <stdint.h>

/* Continues a CRC: start with crc32c_init(), feed any number of buffers, finish with crc32c_final(). */
#define CRC32C_INIT 0xffffffffu
uint32_t crc32c_update(uint32_t crc, const uint8_t *p, size_t n);
static inline uint32_t crc32c_final(uint32_t crc) { return ~crc; }
static inline uint32_t crc32c(const uint8_t *p, size_t n) { return crc32c_final(crc32c_update(CRC32C_INIT, p, n)); }
#endif
