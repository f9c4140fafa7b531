/* The delegator over a local write log: routing by vchannel, tsafe from
 * time ticks, bounded waits, failure on a damaged record, replay. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "common/alloc.h"
#include "qn_helpers.h"
#include "querynode/delegator.h"
#include "querynode/query.h"
#include "tests/lib/proc.h"

#define PCH "p0"

static char *dir;
static wal *w;

static void setup(void)
{
    qv_err err;
    cr_assert_eq(qv_test_mkdtemp("qv-deleg-", &dir, &err), QV_OK, "%s",
                 err.msg);
    wal_options o = {.dir = dir, .sync = WAL_SYNC_NEVER};
    cr_assert_eq(wal_open("local", &o, &w, &err), QV_OK, "%s", err.msg);
}

static void teardown(void)
{
    wal_close(w);
    cr_assert_eq(qv_test_rmtree(dir, NULL), QV_OK);
    free(dir);
}

TestSuite(delegator, .init = setup, .fini = teardown, .timeout = 30);

static void append_msg(const qv_msg *m)
{
    qv_buf b = QV_BUF_INIT;
    qv_err err;
    cr_assert_eq(qv_msg_encode(m, &b, &err), QV_OK, "%s", err.msg);
    wal_record r = {b.data, b.len};
    cr_assert_eq(wal_append(w, PCH, &r, 1, NULL, &err), QV_OK, "%s", err.msg);
    qv_buf_release(&b);
}

static void append_insert(const int64_t *pks, size_t n, qv_ts ts,
                          const char *vch)
{
    qn_insert x;
    qn_insert_make(&x, pks, n, NULL, ts, 1, 1);
    x.m.vchannel = vch;
    append_msg(&x.m);
    qn_insert_free(&x);
}

static void append_tick(qv_ts ts)
{
    qv_msg t = {.type = QV_MSG_TIME_TICK, .ts = ts, .vchannel = ""};
    append_msg(&t);
}

static qv_delegator *start(wal_pos from)
{
    qv_delegator_opts o = {.log = w,
                           .pchannel = PCH,
                           .from = from,
                           .shard = {.collection_id = QN_COLL,
                                     .vchannel = QN_VCH,
                                     .schema = qn_schema},
                           .poll_ms = 20};
    qv_delegator *d;
    qv_err err;
    cr_assert_eq(qv_delegator_start(&o, &d, &err), QV_OK, "%s", err.msg);
    return d;
}

static size_t count_at(qv_delegator *d, qv_ts R)
{
    int64_t *v;
    size_t n = qn_visible(qv_delegator_shard(d), R, &v);
    free(v);
    return n;
}

Test(delegator, tick_advances_tsafe_after_applying_what_precedes_it)
{
    int64_t a[3] = {1, 2, 3}, other[2] = {50, 51};
    append_insert(a, 3, 100, QN_VCH);
    append_insert(other, 2, 110, "p0_8v0"); /* another collection's shard */
    append_tick(150);
    qv_delegator *d = start(WAL_EARLIEST);
    qv_ts reached;
    qv_err err;
    cr_assert_eq(qv_delegator_wait_tsafe(d, 150, 5000, &reached, &err), QV_OK,
                 "%s", err.msg);
    cr_assert_eq(reached, 150);
    cr_assert_eq(count_at(d, reached), 3);
    int64_t del = 2;
    qn_delete x;
    qn_delete_make(&x, &del, 1, 200, QV_PARTITION_ALL);
    append_msg(&x.m);
    qn_delete_free(&x);
    append_tick(250);
    cr_assert_eq(qv_delegator_wait_tsafe(d, 240, 5000, &reached, &err), QV_OK,
                 "%s", err.msg);
    cr_assert_eq(reached, 250);
    cr_assert_eq(count_at(d, reached), 2);
    cr_assert_eq(count_at(d, 150), 3, "reading at an older ts still works");
    wal_pos pos;
    qv_ts tick;
    qv_delegator_checkpoint(d, &pos, &tick);
    cr_assert_eq(tick, 250);
    cr_assert_eq(pos, 5);
    qv_delegator_stop(d);
}

Test(delegator, wait_times_out_with_a_clear_error)
{
    append_tick(100);
    qv_delegator *d = start(WAL_EARLIEST);
    qv_ts reached;
    qv_err err;
    cr_assert_eq(qv_delegator_wait_tsafe(d, 100, 5000, &reached, &err), QV_OK);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cr_assert_eq(qv_delegator_wait_tsafe(d, 500, 200, &reached, &err),
                 QV_E_TIMEOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
                (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    cr_assert(ms >= 190 && ms < 2000, "waited %.0f ms", ms);
    cr_assert(strstr(err.msg, "timed out") && strstr(err.msg, QN_VCH) &&
                  strstr(err.msg, "500"),
              "%s", err.msg);
    qv_delegator_stop(d);
}

static void *late_tick(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 100 * 1000000L};
    nanosleep(&ts, NULL);
    int64_t pk = 9;
    append_insert(&pk, 1, 290, QN_VCH);
    append_tick(300);
    return NULL;
}

Test(delegator, waiter_wakes_when_the_tick_arrives)
{
    qv_delegator *d = start(WAL_EARLIEST);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, late_tick, NULL), 0);
    qv_ts reached;
    qv_err err;
    cr_assert_eq(qv_delegator_wait_tsafe(d, 300, 5000, &reached, &err), QV_OK,
                 "%s", err.msg);
    cr_assert_geq(reached, 300);
    cr_assert_eq(count_at(d, reached), 1);
    pthread_join(t, NULL);
    qv_delegator_stop(d);
}

Test(delegator, damaged_record_fails_the_delegator_and_its_waiters)
{
    int64_t pk = 1;
    append_insert(&pk, 1, 100, QN_VCH);
    append_tick(150);
    static const char junk[] = "QVMS this is not a message";
    wal_record r = {junk, sizeof junk};
    cr_assert_eq(wal_append(w, PCH, &r, 1, NULL, NULL), QV_OK);
    append_tick(300);
    qv_delegator *d = start(WAL_EARLIEST);
    qv_ts reached;
    qv_err err;
    qv_code rc = qv_delegator_wait_tsafe(d, 300, 5000, &reached, &err);
    cr_assert_eq(qv_code_primary(rc), QV_E_CORRUPT, "%s", err.msg);
    cr_assert(strstr(err.msg, "log position 2") != NULL, "%s", err.msg);
    cr_assert_eq(qv_delegator_tsafe(d), 150);
    qv_delegator_stop(d);
}

Test(delegator, replay_from_a_checkpoint_rebuilds_the_same_state)
{
    int64_t a[4] = {1, 2, 3, 4};
    append_insert(a, 2, 100, QN_VCH);
    append_tick(150);
    qv_delegator *d = start(WAL_EARLIEST);
    qv_ts reached;
    cr_assert_eq(qv_delegator_wait_tsafe(d, 150, 5000, &reached, NULL), QV_OK);
    append_insert(a + 2, 2, 200, QN_VCH);
    append_tick(250);
    cr_assert_eq(qv_delegator_wait_tsafe(d, 250, 5000, &reached, NULL), QV_OK);
    size_t full = count_at(d, 250);
    qv_delegator_stop(d);
    d = start(WAL_EARLIEST);
    cr_assert_eq(qv_delegator_wait_tsafe(d, 250, 5000, &reached, NULL), QV_OK);
    cr_assert_eq(count_at(d, 250), full);
    cr_assert_eq(full, 4);
    qv_delegator_stop(d);
}
