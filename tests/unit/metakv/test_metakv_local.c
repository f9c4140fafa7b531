/* Unit tests of the LMDB meta KV (common/metakv/metakv_local*.c) and the
 * shared helpers in metakv.c: things only the embedded backend has (a fake
 * lease clock, expiry at open, one open per directory, auto-compaction). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/metakv/metakv_int.h"
#include "tests/lib/proc.h"

#define S(x) (x), strlen(x)

static char *tmp;
static char *dir;

static void setup(void)
{
    cr_assert_eq(qv_test_mkdtemp("quiver-metakv-unit-", &tmp, NULL), QV_OK);
    dir = qv_xasprintf("%s/a/b/meta", tmp);
}

static void teardown(void)
{
    (void)qv_test_rmtree(tmp, NULL);
    free(tmp);
    free(dir);
}

TestSuite(metakv_local, .init = setup, .fini = teardown, .timeout = 30);

static metakv *open_local(const metakv_config *cfg)
{
    metakv *kv = NULL;
    qv_err err = {0};
    cr_assert_eq(metakv_open("local", cfg, &kv, &err), QV_OK, "%s", err.msg);
    return kv;
}

Test(metakv_local, open_needs_a_directory_and_refuses_unknown_backends)
{
    metakv *kv = NULL;
    qv_err err = {0};
    metakv_config cfg = {0};
    cr_assert_eq(metakv_open("local", &cfg, &kv, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "directory") != NULL, "%s", err.msg);
    cr_assert_eq(metakv_open("nope", &cfg, &kv, &err), QV_E_NOT_FOUND);
    cr_assert(strstr(err.msg, "'nope'") != NULL, "%s", err.msg);
    cr_assert_eq(metakv_register(&metakv__local_ops, &err), QV_E_EXISTS);
}

Test(metakv_local, one_open_per_directory_per_process)
{
    metakv_config cfg = {.dir = dir};
    metakv *a = open_local(&cfg), *b = NULL;
    qv_err err = {0};
    cr_assert_eq(metakv_open("local", &cfg, &b, &err), QV_E_EXISTS);
    cr_assert(strstr(err.msg, "already open") != NULL, "%s", err.msg);
    metakv_close(a);
    b = open_local(&cfg);
    cr_assert_str_eq(metakv_backend(b), "local");
    metakv_close(b);
}

Test(metakv_local, fresh_store_starts_at_revision_one)
{
    metakv_config cfg = {.dir = dir};
    metakv *kv = open_local(&cfg);
    int64_t rev = 0;
    cr_assert_eq(metakv_revision(kv, &rev, NULL), QV_OK);
    cr_assert_eq(rev, 1);
    metakv_close(kv);
}

Test(metakv_local, lease_expires_on_the_fake_clock)
{
    qv_fake_clock fc;
    qv_fake_clock_init(&fc, 1000000);
    metakv_config cfg = {.dir = dir, .clock = &fc.base};
    metakv *kv = open_local(&cfg);
    int64_t id;
    qv_err err = {0};
    cr_assert_eq(metakv_lease_grant(kv, 10, &id, &err), QV_OK);
    cr_assert_eq(metakv_put(kv, S("k"), S("v"), id, NULL, &err), QV_OK);
    qv_fake_clock_advance_ms(&fc, 9000);
    cr_assert_eq(metakv_lease_keepalive(kv, id, NULL, &err), QV_OK);
    qv_fake_clock_advance_ms(&fc, 9000); /* 9 s after the refresh: alive */
    qv_sleep_ms(200);
    metakv_kvs out = METAKV_KVS_INIT;
    cr_assert_eq(metakv_get(kv, S("k"), &out, &err), QV_OK);
    qv_fake_clock_advance_ms(&fc, 1001);
    for (int i = 0; i < 100; i++) {
        if (metakv_get(kv, S("k"), &out, &err) == QV_E_NOT_FOUND)
            break;
        qv_sleep_ms(10);
    }
    cr_assert_eq(metakv_get(kv, S("k"), &out, &err), QV_E_NOT_FOUND);
    cr_assert_eq(metakv_lease_keepalive(kv, id, NULL, &err), QV_E_NOT_FOUND);
    metakv_kvs_release(&out);
    metakv_close(kv);
}

Test(metakv_local, leases_that_ran_out_while_closed_expire_at_open)
{
    qv_fake_clock fc;
    qv_fake_clock_init(&fc, 5000000);
    metakv_config cfg = {.dir = dir, .clock = &fc.base};
    metakv *kv = open_local(&cfg);
    int64_t shortl, longl;
    qv_err err = {0};
    cr_assert_eq(metakv_lease_grant(kv, 5, &shortl, &err), QV_OK);
    cr_assert_eq(metakv_lease_grant(kv, 60, &longl, &err), QV_OK);
    cr_assert_eq(metakv_put(kv, S("short"), S("v"), shortl, NULL, &err), QV_OK);
    cr_assert_eq(metakv_put(kv, S("long"), S("v"), longl, NULL, &err), QV_OK);
    metakv_close(kv);
    qv_fake_clock_advance_ms(&fc, 6000);
    kv = open_local(&cfg);
    metakv_kvs out = METAKV_KVS_INIT;
    cr_assert_eq(metakv_get(kv, S("short"), &out, &err), QV_E_NOT_FOUND);
    cr_assert_eq(metakv_get(kv, S("long"), &out, &err), QV_OK);
    cr_assert_eq(out.kvs[0].lease, longl);
    /* Lease ids are never reused. */
    int64_t again;
    cr_assert_eq(metakv_lease_grant(kv, 5, &again, &err), QV_OK);
    cr_assert_gt(again, longl);
    metakv_kvs_release(&out);
    metakv_close(kv);
}

Test(metakv_local, keep_revs_compacts_history_automatically)
{
    metakv_config cfg = {.dir = dir, .keep_revs = 100};
    metakv *kv = open_local(&cfg);
    qv_err err = {0};
    int64_t rev = 0;
    for (int i = 0; i < 400; i++)
        cr_assert_eq(metakv_put(kv, S("k"), S("v"), 0, &rev, &err), QV_OK);
    metakv_watch *w = NULL;
    qv_code rc = metakv_watch_open(kv, S("k"), 2, &w, &err);
    cr_assert_eq(rc, QV_E_COMPACTED, "%s", err.msg);
    cr_assert_eq(metakv_watch_open(kv, S("k"), rev - 50, &w, &err), QV_OK);
    metakv_events ev = METAKV_EVENTS_INIT;
    cr_assert_eq(metakv_watch_next(w, 0, &ev, &err), QV_OK);
    cr_assert_eq(ev.n, 51);
    metakv_events_release(&ev);
    metakv_watch_close(w);
    metakv_close(kv);
}

Test(metakv_local, watch_returns_large_backlogs_in_bounded_batches)
{
    metakv_config cfg = {.dir = dir};
    metakv *kv = open_local(&cfg);
    qv_err err = {0};
    metakv_txn *t;
    /* 30 txns of 100 puts = 3000 events; batches end on a revision. */
    for (int i = 0; i < 30; i++) {
        t = metakv_txn_begin(kv);
        for (int j = 0; j < 100; j++) {
            char k[16];
            int n = snprintf(k, sizeof k, "b/%03d", j);
            metakv_txn_put(t, METAKV_THEN, k, (size_t)n, S("v"), 0);
        }
        cr_assert_eq(metakv_txn_commit(t, NULL, NULL, &err), QV_OK);
    }
    metakv_watch *w = NULL;
    cr_assert_eq(metakv_watch_open(kv, S("b/"), 1, &w, &err), QV_OK);
    size_t total = 0, calls = 0;
    for (; calls < 100 && total < 3000; calls++) {
        metakv_events ev = METAKV_EVENTS_INIT;
        cr_assert_eq(metakv_watch_next(w, 0, &ev, &err), QV_OK);
        cr_assert_leq(ev.n, 1100);
        cr_assert_eq(ev.n % 100, 0, "batches hold whole revisions");
        total += ev.n;
        metakv_events_release(&ev);
    }
    cr_assert_eq(total, 3000);
    cr_assert_gt(calls, 1);
    metakv_watch_close(w);
    metakv_close(kv);
}

static void *late_put(void *arg)
{
    qv_sleep_ms(150);
    qv_code rc = metakv_put(arg, S("x"), S("1"), 0, NULL, NULL);
    return (void *)(intptr_t)rc;
}

Test(metakv_local, watch_wakes_up_on_a_commit_from_another_thread)
{
    metakv_config cfg = {.dir = dir};
    metakv *kv = open_local(&cfg);
    qv_err err = {0};
    metakv_watch *w = NULL;
    cr_assert_eq(metakv_watch_open(kv, S("x"), 0, &w, &err), QV_OK);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, late_put, kv), 0);
    metakv_events ev = METAKV_EVENTS_INIT;
    uint64_t t0 = qv_mono_ms(qv_clock_system());
    cr_assert_eq(metakv_watch_next(w, 5000, &ev, &err), QV_OK);
    uint64_t took = qv_mono_ms(qv_clock_system()) - t0;
    void *res;
    pthread_join(th, &res);
    cr_assert_eq((intptr_t)res, QV_OK);
    cr_assert_eq(ev.n, 1);
    cr_assert(took >= 100 && took < 1500, "took %llu ms",
              (unsigned long long)took);
    metakv_events_release(&ev);
    metakv_watch_close(w);
    metakv_close(kv);
}

Test(metakv_helpers, prefix_end_matches_etcd)
{
    uint8_t out[8];
    size_t n = 99;
    metakv__prefix_end("ab", 2, out, &n);
    cr_assert_eq(n, 2);
    cr_assert_eq(memcmp(out, "ac", 2), 0);
    const uint8_t p[] = {'a', 0xff, 0xff};
    metakv__prefix_end(p, 3, out, &n);
    cr_assert_eq(n, 1);
    cr_assert_eq(out[0], 'b');
    const uint8_t all[] = {0xff, 0xff};
    metakv__prefix_end(all, 2, out, &n);
    cr_assert_eq(n, 0);
    metakv__prefix_end("", 0, out, &n);
    cr_assert_eq(n, 0);
}

Test(metakv_helpers, keys_order_and_print_safely)
{
    cr_assert_lt(metakv__keycmp("a", 1, "ab", 2), 0);
    cr_assert_gt(metakv__keycmp("b", 1, "ab", 2), 0);
    cr_assert_eq(metakv__keycmp("ab", 2, "ab", 2), 0);
    cr_assert(metakv__has_prefix("abc", 3, "ab", 2));
    cr_assert(metakv__has_prefix("abc", 3, "", 0));
    cr_assert_not(metakv__has_prefix("a", 1, "ab", 2));
    char buf[16];
    const uint8_t k[] = {'k', 0x00, '\\', 'z'};
    cr_assert_str_eq(metakv__key_str(k, 4, buf, sizeof buf), "k\\x00\\x5cz");
    char longk[100];
    memset(longk, 'q', sizeof longk);
    const char *s = metakv__key_str(longk, sizeof longk, buf, sizeof buf);
    cr_assert_lt(strlen(s), sizeof buf);
    cr_assert(strstr(s, "...") != NULL);
}

Test(metakv_local, data_file_is_preallocated_ahead_of_use)
{
    metakv_config cfg = {.dir = dir};
    metakv *kv = open_local(&cfg);
    char *path = qv_xasprintf("%s/data.mdb", dir);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_geq(st.st_size, 16 << 20);
    /* Written zeros, not a hole: the blocks are allocated. */
    cr_assert_geq((long long)st.st_blocks * 512, 16LL << 20);
    /* Growing past the preallocated part extends it again. */
    static char big[METAKV_MAX_VALUE_LEN];
    memset(big, 'x', sizeof big);
    for (int i = 0; i < 40; i++) {
        char k[16];
        int n = snprintf(k, sizeof k, "big/%d", i);
        cr_assert_eq(
            metakv_put(kv, k, (size_t)n, big, sizeof big, 0, NULL, NULL),
            QV_OK);
    }
    /* The timer thread extends the file; wait for it (bounded). */
    for (int i = 0; i < 250; i++) {
        cr_assert_eq(stat(path, &st), 0);
        if (st.st_size >= (72LL << 20))
            break;
        qv_sleep_ms(20);
    }
    cr_assert_geq(st.st_size, 72LL << 20, "size %lld", (long long)st.st_size);
    free(path);
    metakv_close(kv);
}

Test(metakv_local, fault_decorator_counts_every_call_and_fails_watch_next)
{
    metakv_config cfg = {.dir = dir};
    metakv *inner = open_local(&cfg), *f = NULL;
    qv_err err = {0};
    /* Setters on a store that is not a decorator change nothing. */
    metakv_fault_set(inner, 1, QV_E_IO, 0);
    cr_assert_eq(metakv_fault_calls(inner), 0);
    cr_assert_eq(metakv_put(inner, S("a"), S("1"), 0, NULL, &err), QV_OK);
    cr_assert_eq(metakv_fault_wrap(inner, &f, &err), QV_OK);
    metakv_watch *w = NULL;
    cr_assert_eq(metakv_watch_open(f, S("a"), 1, &w, &err), QV_OK);
    metakv_fault_set(f, 2, QV_E_TIMEOUT, 0);
    metakv_events ev = METAKV_EVENTS_INIT;
    cr_assert_eq(metakv_watch_next(w, 0, &ev, &err), QV_OK);
    cr_assert_eq(ev.n, 1);
    cr_assert_eq(metakv_watch_next_rev(w), 3);
    cr_assert_eq(metakv_watch_next(w, 0, &ev, &err), QV_E_TIMEOUT);
    cr_assert(strstr(err.msg, "watch next") != NULL, "%s", err.msg);
    cr_assert_eq(metakv_watch_next(w, 0, &ev, &err), QV_OK);
    cr_assert_eq(metakv_fault_calls(f), 4);
    /* A txn that fails by injection runs nothing. */
    metakv_fault_set(f, 1, QV_E_UNAVAILABLE, 0);
    metakv_txn *t = metakv_txn_begin(f);
    metakv_txn_put(t, METAKV_THEN, S("b"), S("2"), 0);
    cr_assert_eq(metakv_txn_commit(t, NULL, NULL, &err), QV_E_UNAVAILABLE);
    metakv_kvs out = METAKV_KVS_INIT;
    cr_assert_eq(metakv_get(f, S("b"), &out, &err), QV_E_NOT_FOUND);
    metakv_events_release(&ev);
    metakv_watch_close(w);
    metakv_close(f); /* closes inner too */
}
