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
    /* a well-formed header for our vchannel with a damaged body */
    qv_msg t = {.type = QV_MSG_TIME_TICK,
                .ts = 200,
                .vchannel = QN_VCH,
                .collection_id = QN_COLL};
    qv_buf junk = QV_BUF_INIT;
    cr_assert_eq(qv_msg_encode(&t, &junk, NULL), QV_OK);
    junk.data[junk.len - 1] ^= 1;
    wal_record r = {junk.data, junk.len};
    cr_assert_eq(wal_append(w, PCH, &r, 1, NULL, NULL), QV_OK);
    qv_buf_release(&junk);
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

/* ---- concurrent readers while the consumer applies -------------------- */

#define BATCHES 30
#define BROWS   40

static qv_ts batch_ts(int k)
{
    return 1000 * (qv_ts)k + 1;
}

/* Batch k inserts pks k*1000 + i; every third batch (k % 3 == 0, k > 0)
 * deletes batch k-1 at 1000k + 10; a tick follows at 1000k + 500. */
static void *writer(void *arg)
{
    (void)arg;
    for (int k = 1; k <= BATCHES; k++) {
        int64_t pks[BROWS];
        for (int i = 0; i < BROWS; i++)
            pks[i] = k * 1000 + i;
        append_insert(pks, BROWS, batch_ts(k), QN_VCH);
        if (k % 3 == 0) {
            for (int i = 0; i < BROWS; i++)
                pks[i] = (k - 1) * 1000 + i;
            qn_delete x;
            qn_delete_make(&x, pks, BROWS, 1000 * (qv_ts)k + 10,
                           QV_PARTITION_ALL);
            append_msg(&x.m);
            qn_delete_free(&x);
        }
        append_tick(1000 * (qv_ts)k + 500);
    }
    return NULL;
}

static uint64_t expected_at(qv_ts R)
{
    uint64_t n = 0;
    for (int k = 1; k <= BATCHES; k++) {
        if (batch_ts(k) > R)
            continue;
        bool deleted = (k + 1) % 3 == 0 && 1000 * (qv_ts)(k + 1) + 10 <= R;
        n += deleted ? 0 : BROWS;
    }
    return n;
}

typedef struct reader_arg {
    qv_delegator *d;
    int reads;
    int failures;
} reader_arg;

static void *reader(void *p)
{
    reader_arg *a = p;
    qv_ts last = 0;
    while (last < 1000 * (qv_ts)BATCHES + 500) {
        qv_ts R;
        if (qv_delegator_wait_tsafe(a->d, last + 1, 5000, &R, NULL) != QV_OK) {
            a->failures++;
            break;
        }
        qv_shard_snap snap;
        qv_shard_acquire(qv_delegator_shard(a->d), &snap);
        qv_query_req q = {.count_only = true, .ts = R};
        qv_query_result r;
        if (qv_shard_query(&snap, &q, &r, NULL) != QV_OK ||
            r.count != expected_at(R))
            a->failures++;
        qv_shard_snap_release(&snap);
        a->reads++;
        last = R;
    }
    return NULL;
}

Test(delegator, readers_see_exact_snapshots_while_the_log_is_applied)
{
    qv_delegator *d = start(WAL_EARLIEST);
    pthread_t w, r[2];
    reader_arg ra[2] = {{d, 0, 0}, {d, 0, 0}};
    cr_assert_eq(pthread_create(&w, NULL, writer, NULL), 0);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&r[i], NULL, reader, &ra[i]), 0);
    pthread_join(w, NULL);
    for (int i = 0; i < 2; i++) {
        pthread_join(r[i], NULL);
        cr_assert_eq(ra[i].failures, 0, "reader %d: %d wrong reads of %d", i,
                     ra[i].failures, ra[i].reads);
        cr_assert_gt(ra[i].reads, 0);
    }
    cr_assert_eq(count_at(d, 1000 * (qv_ts)BATCHES + 500),
                 expected_at(1000 * (qv_ts)BATCHES + 500));
    qv_delegator_stop(d);
}
