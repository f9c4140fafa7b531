/* Tests of common/hts.h and common/clock.c. */
#include <criterion/criterion.h>

#include "common/clock.h"
#include "common/hts.h"

Test(hts, compose_and_parse_round_trip)
{
    qv_ts ts = qv_ts_compose(1700000000123ull, 77);
    cr_assert_eq(qv_ts_physical(ts), 1700000000123ull);
    cr_assert_eq(qv_ts_logical(ts), 77u);
    cr_assert_eq(ts, (1700000000123ull << 18) | 77u);
    cr_assert_eq(qv_ts_physical(qv_ts_add_ms(ts, -5000)), 1699999995123ull);
    cr_assert_gt(qv_ts_compose(2, 0), qv_ts_compose(1, QV_TS_LOGICAL_MASK));
}

Test(clock, fake_clock_moves_only_when_told)
{
    qv_fake_clock f;
    qv_fake_clock_init(&f, 1000);
    const qv_clock *c = &f.base;
    uint64_t m0 = qv_mono_ns(c);
    cr_assert_eq(qv_wall_ms(c), 1000u);
    qv_fake_clock_advance_ms(&f, 250);
    cr_assert_eq(qv_wall_ms(c), 1250u);
    cr_assert_eq(qv_mono_ns(c) - m0, 250000000u);
}

Test(clock, system_clock_is_plausible_and_monotonic)
{
    const qv_clock *c = qv_clock_system();
    cr_assert_gt(qv_wall_ms(c), 1600000000000ull);
    uint64_t a = qv_mono_ns(c);
    qv_sleep_ms(2);
    cr_assert_geq(qv_mono_ns(c) - a, 2000000u);
}
