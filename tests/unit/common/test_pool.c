/* Tests of common/pool.c. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "common/clock.h"
#include "common/pool.h"

static void bump(void *arg)
{
    __atomic_add_fetch((int *)arg, 1, __ATOMIC_RELAXED);
}

Test(pool, runs_every_submitted_job_before_destroy)
{
    qv_pool *p;
    int count = 0;
    cr_assert_eq(qv_pool_create(2, 4, "t", &p, NULL), QV_OK);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(qv_pool_submit(p, bump, &count, 0), QV_OK);
    qv_pool_destroy(p);
    cr_assert_eq(count, 1000);
}

static void slow(void *arg)
{
    (void)arg;
    qv_sleep_ms(50);
}

Test(pool, nowait_reports_a_full_queue)
{
    qv_pool *p;
    cr_assert_eq(qv_pool_create(1, 1, "t", &p, NULL), QV_OK);
    cr_assert_eq(qv_pool_submit(p, slow, NULL, 0), QV_OK);
    qv_code rc = QV_OK;
    for (int i = 0; i < 5 && rc == QV_OK; i++)
        rc = qv_pool_submit(p, slow, NULL, QV_POOL_NOWAIT);
    cr_assert_eq(rc, QV_E_UNAVAILABLE);
    qv_pool_destroy(p);
}

struct sum_args {
    int64_t partial[8];
    int hits[10000];
};

static void sum_range(void *arg, size_t b, size_t e, size_t w)
{
    struct sum_args *s = arg;
    for (size_t i = b; i < e; i++) {
        s->partial[w] += (int64_t)i;
        s->hits[i]++;
    }
}

Test(pool, parallel_for_covers_every_index_once)
{
    qv_pool *p;
    static struct sum_args s;
    cr_assert_eq(qv_pool_create(3, 16, "t", &p, NULL), QV_OK);
    qv_pool_parallel_for(p, 10000, 37, sum_range, &s);
    int64_t total = 0;
    for (int w = 0; w < 8; w++)
        total += s.partial[w];
    cr_assert_eq(total, (int64_t)10000 * 9999 / 2);
    for (int i = 0; i < 10000; i++)
        cr_assert_eq(s.hits[i], 1);
    qv_pool_destroy(p);
}

Test(pool, parallel_for_without_pool_runs_inline)
{
    static struct sum_args s;
    qv_pool_parallel_for(NULL, 100, 10, sum_range, &s);
    cr_assert_eq(s.partial[0], 4950);
}
