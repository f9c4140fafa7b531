/* bytes.h -- unaligned loads and stores of fixed-width integers in file
 * and record formats (host byte order, which every format of ours declares
 * as little-endian; the build targets little-endian machines only).
 * Threading: pure functions. */
#ifndef QV_BYTES_H
#define QV_BYTES_H

#include <stdint.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error                                                                         \
    "Quiver's file formats are little-endian; big-endian hosts are unsupported"
#endif

static inline void qv_store_u32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}
static inline void qv_store_u64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}
static inline uint32_t qv_load_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline uint64_t qv_load_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

#endif
