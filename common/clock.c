/* clock.c -- see clock.h. */
#include "common/clock.h"

#include <time.h>

static uint64_t sys_wall_ms(const qv_clock *c)
{
    struct timespec ts;
    (void)c;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t sys_mono_ns(const qv_clock *c)
{
    struct timespec ts;
    (void)c;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const qv_clock system_clock = {sys_wall_ms, sys_mono_ns};

const qv_clock *qv_clock_system(void)
{
    return &system_clock;
}

static uint64_t fake_wall_ms(const qv_clock *c)
{
    const qv_fake_clock *f = (const qv_fake_clock *)c;
    return __atomic_load_n(&f->wall_ms, __ATOMIC_ACQUIRE);
}

static uint64_t fake_mono_ns(const qv_clock *c)
{
    const qv_fake_clock *f = (const qv_fake_clock *)c;
    return __atomic_load_n(&f->mono_ns, __ATOMIC_ACQUIRE);
}

void qv_fake_clock_init(qv_fake_clock *f, uint64_t wall_ms)
{
    f->base.wall_ms = fake_wall_ms;
    f->base.mono_ns = fake_mono_ns;
    f->wall_ms = wall_ms;
    f->mono_ns = 1000000000u;
}

void qv_fake_clock_advance_ms(qv_fake_clock *f, uint64_t ms)
{
    __atomic_add_fetch(&f->wall_ms, ms, __ATOMIC_ACQ_REL);
    __atomic_add_fetch(&f->mono_ns, ms * 1000000u, __ATOMIC_ACQ_REL);
}

void qv_sleep_ms(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}
