/* clock.h -- wall and monotonic clocks behind an interface tests can fake.
 *
 * Code that needs time takes a const qv_clock * (or uses qv_clock_default()).
 * The fake clock stands still until the test moves it.
 *
 * Threading: the system clock is thread-safe; a fake clock's reads are
 * atomic, so one thread may advance it while others read.
 */
#ifndef QV_CLOCK_H
#define QV_CLOCK_H

#include <stdint.h>

typedef struct qv_clock qv_clock;
struct qv_clock {
    uint64_t (*wall_ms)(const qv_clock *c); /* Unix time in ms */
    uint64_t (*mono_ns)(const qv_clock *c); /* monotonic ns */
};

/* The process-wide real clock. */
const qv_clock *qv_clock_system(void);

typedef struct qv_fake_clock {
    qv_clock base; /* first: pass &fake.base as the clock */
    uint64_t wall_ms;
    uint64_t mono_ns;
} qv_fake_clock;

void qv_fake_clock_init(qv_fake_clock *f, uint64_t wall_ms);
void qv_fake_clock_advance_ms(qv_fake_clock *f, uint64_t ms);

static inline uint64_t qv_wall_ms(const qv_clock *c)
{
    return c->wall_ms(c);
}
static inline uint64_t qv_mono_ns(const qv_clock *c)
{
    return c->mono_ns(c);
}
static inline uint64_t qv_mono_ms(const qv_clock *c)
{
    return c->mono_ns(c) / 1000000u;
}

/* Sleep helpers on the real clock. */
void qv_sleep_ms(uint64_t ms);

#endif
