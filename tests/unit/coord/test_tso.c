/* Tests of coord/tso.c on the LMDB meta KV with a fake clock. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coord/tso.h"

static char dir[64];
static qv_fake_clock clk;

static metakv *open_kv(void)
{
    metakv_config cfg = {.dir = dir, .clock = &clk.base};
    metakv *kv;
    qv_err err = {0};
    cr_assert_eq(metakv_open("local", &cfg, &kv, &err), QV_OK, "%s", err.msg);
    return kv;
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/qv-tso-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    qv_fake_clock_init(&clk, 1700000000000ull);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(tso, .init = setup, .fini = teardown);

Test(tso, timestamps_increase_and_follow_the_clock)
{
    metakv *kv = open_kv();
    qv_tso_options o = {.clock = &clk.base};
    qv_tso *t;
    cr_assert_eq(qv_tso_open(kv, &o, &t, NULL), QV_OK);
    qv_ts a, b, c;
    cr_assert_eq(qv_tso_alloc(t, 1, &a, NULL), QV_OK);
    cr_assert_eq(qv_ts_physical(a), 1700000000000ull);
    cr_assert_eq(qv_tso_alloc(t, 10, &b, NULL), QV_OK);
    cr_assert_eq(b, a + 1);
    qv_fake_clock_advance_ms(&clk, 50);
    cr_assert_eq(qv_tso_alloc(t, 1, &c, NULL), QV_OK);
    cr_assert_eq(qv_ts_physical(c), 1700000000050ull);
    cr_assert_eq(qv_ts_logical(c), 0u);
    cr_assert_gt(c, b + 9);
    qv_tso_close(t);
    metakv_close(kv);
}

Test(tso, logical_overflow_moves_to_the_next_millisecond)
{
    metakv *kv = open_kv();
    qv_tso_options o = {.clock = &clk.base};
    qv_tso *t;
    cr_assert_eq(qv_tso_open(kv, &o, &t, NULL), QV_OK);
    qv_ts prev = 0, ts;
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(qv_tso_alloc(t, 100000, &ts, NULL), QV_OK);
        cr_assert_gt(ts, prev);
        cr_assert_leq(qv_ts_logical(ts) + 100000u, QV_TS_LOGICAL_MASK + 1u);
        prev = ts + 99999;
    }
    cr_assert_gt(qv_ts_physical(prev), 1700000000000ull);
    qv_err err = {0};
    cr_assert_eq(qv_tso_alloc(t, 0, &ts, &err), QV_E_INVALID);
    qv_tso_close(t);
    metakv_close(kv);
}

Test(tso, clock_going_backwards_never_moves_timestamps_back)
{
    metakv *kv = open_kv();
    qv_tso_options o = {.clock = &clk.base};
    qv_tso *t;
    cr_assert_eq(qv_tso_open(kv, &o, &t, NULL), QV_OK);
    qv_ts a, b;
    qv_fake_clock_advance_ms(&clk, 10000);
    cr_assert_eq(qv_tso_alloc(t, 1, &a, NULL), QV_OK);
    clk.wall_ms -= 60000; /* NTP step back */
    cr_assert_eq(qv_tso_alloc(t, 1, &b, NULL), QV_OK);
    cr_assert_gt(b, a);
    qv_tso_close(t);
    metakv_close(kv);
}

Test(tso, restart_resumes_above_every_issued_timestamp_and_id)
{
    qv_tso_options o = {.clock = &clk.base, .id_window = 100};
    qv_ts last = 0;
    int64_t last_id = 0;
    for (int run = 0; run < 3; run++) {
        metakv *kv = open_kv();
        qv_tso *t;
        qv_err err = {0};
        cr_assert_eq(qv_tso_open(kv, &o, &t, &err), QV_OK, "%s", err.msg);
        qv_ts ts;
        int64_t id;
        cr_assert_eq(qv_tso_alloc(t, 1, &ts, NULL), QV_OK);
        cr_assert_gt(ts, last, "run %d: %llu <= %llu", run,
                     (unsigned long long)ts, (unsigned long long)last);
        cr_assert_eq(qv_tso_alloc_ids(t, 1, &id, NULL), QV_OK);
        cr_assert_gt(id, last_id);
        for (int i = 0; i < 250; i++) /* cross several ID windows */
            cr_assert_eq(qv_tso_alloc_ids(t, 3, &id, NULL), QV_OK);
        cr_assert_eq(qv_tso_alloc(t, 5, &ts, NULL), QV_OK);
        last = ts + 4;
        last_id = id + 2;
        /* The clock does not move between runs: a crash and a fast restart
         * must still never repeat a timestamp. */
        qv_tso_close(t);
        metakv_close(kv);
    }
}

Test(tso, ids_are_unique_and_consecutive_within_a_run)
{
    metakv *kv = open_kv();
    qv_tso_options o = {.clock = &clk.base, .id_window = 7};
    qv_tso *t;
    cr_assert_eq(qv_tso_open(kv, &o, &t, NULL), QV_OK);
    int64_t prev, id;
    cr_assert_eq(qv_tso_alloc_ids(t, 1, &prev, NULL), QV_OK);
    cr_assert_geq(prev, 1);
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(qv_tso_alloc_ids(t, 5, &id, NULL), QV_OK);
        cr_assert_eq(id, prev + (i == 0 ? 1 : 5));
        prev = id;
    }
    qv_err err = {0};
    cr_assert_eq(qv_tso_alloc_ids(t, 0, &id, &err), QV_E_INVALID);
    qv_tso_close(t);
    metakv_close(kv);
}

Test(tso, a_second_coord_fences_the_first)
{
    metakv *kv = open_kv();
    qv_tso_options o = {.clock = &clk.base, .window_ms = 100};
    qv_tso *a, *b;
    cr_assert_eq(qv_tso_open(kv, &o, &a, NULL), QV_OK);
    cr_assert_eq(qv_tso_open(kv, &o, &b, NULL), QV_OK);
    qv_ts ta, tb;
    cr_assert_eq(qv_tso_alloc(b, 1, &tb, NULL), QV_OK);
    /* a must persist a new bound after its window and finds b's write. */
    qv_fake_clock_advance_ms(&clk, 1000);
    qv_err err = {0};
    cr_assert_eq(qv_tso_alloc(a, 1, &ta, &err), QV_E_CONFLICT);
    cr_assert(strstr(err.msg, "another coord"), "%s", err.msg);
    cr_assert_eq(qv_tso_alloc(b, 1, &tb, NULL), QV_OK);
    qv_tso_close(a);
    qv_tso_close(b);
    metakv_close(kv);
}

Test(tso, corrupt_bound_is_reported)
{
    metakv *kv = open_kv();
    cr_assert_eq(metakv_put(kv, "quiver/tso", 10, "12x", 3, 0, NULL, NULL),
                 QV_OK);
    qv_tso *t = NULL;
    qv_err err = {0};
    cr_assert_eq(qv_tso_open(kv, NULL, &t, &err), QV_E_CORRUPT);
    cr_assert(strstr(err.msg, "quiver/tso"), "%s", err.msg);
    cr_assert_null(t);
    metakv_close(kv);
}
