/* hts.h -- hybrid timestamps (DESIGN §2).
 *
 * 64 bits: physical Unix milliseconds << 18 | 18-bit logical counter.
 * The coord is the only source of timestamps; these helpers only compose
 * and take them apart.
 */
#ifndef QV_HTS_H
#define QV_HTS_H

#include <stdint.h>

typedef uint64_t qv_ts;

#define QV_TS_LOGICAL_BITS 18
#define QV_TS_LOGICAL_MASK ((1u << QV_TS_LOGICAL_BITS) - 1)
#define QV_TS_MAX          UINT64_MAX

static inline qv_ts qv_ts_compose(uint64_t physical_ms, uint32_t logical)
{
    return (physical_ms << QV_TS_LOGICAL_BITS) | (logical & QV_TS_LOGICAL_MASK);
}
static inline uint64_t qv_ts_physical(qv_ts ts)
{
    return ts >> QV_TS_LOGICAL_BITS;
}
static inline uint32_t qv_ts_logical(qv_ts ts)
{
    return (uint32_t)(ts & QV_TS_LOGICAL_MASK);
}
/* ts moved by delta milliseconds (negative = earlier), logical kept. */
static inline qv_ts qv_ts_add_ms(qv_ts ts, int64_t delta_ms)
{
    return qv_ts_compose((uint64_t)((int64_t)qv_ts_physical(ts) + delta_ms),
                         qv_ts_logical(ts));
}

#endif
