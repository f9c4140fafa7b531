/* Meta KV conformance, part 2: leases, watches, compaction, the fault
 * decorator.  Every test runs once per backend (local LMDB and a real
 * etcd).  Lease tests use real time (TTL 1-2 s). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "tests/conformance/metakv/conf.h"

/* Collects events until `want` arrived or wait_ms passed. */
static void collect(metakv_watch *w, metakv_events *ev, size_t want,
                    uint32_t wait_ms)
{
    uint64_t end = qv_mono_ms(qv_clock_system()) + wait_ms;
    while (ev->n < want && qv_mono_ms(qv_clock_system()) < end) {
        qv_err err = {0};
        cr_assert_eq(metakv_watch_next(w, 100, ev, &err), QV_OK, "%s", err.msg);
    }
}

static bool key_is(const metakv_kv *kv, const char *k)
{
    return kv->key_len == strlen(k) && memcmp(kv->key, k, kv->key_len) == 0;
}

/* ---- leases ------------------------------------------------------------- */

CONF_TEST(lease_revoke_deletes_attached_keys)
{
    CONF_SETUP();
    int64_t id = 0, ttl = 0;
    cr_assert_eq(metakv_lease_grant(kv, 30, &id, &err), QV_OK, "%s", err.msg);
    cr_assert_neq(id, 0);
    cr_assert_eq(metakv_put(kv, S("l/a"), S("1"), id, NULL, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_eq(metakv_put(kv, S("l/b"), S("2"), id, NULL, &err), QV_OK);
    cr_assert_eq(metakv_put(kv, S("l/c"), S("3"), 0, NULL, &err), QV_OK);
    metakv_kvs out = METAKV_KVS_INIT;
    cr_assert_eq(metakv_get(kv, S("l/a"), &out, &err), QV_OK);
    cr_assert_eq(out.kvs[0].lease, id);
    cr_assert_eq(metakv_lease_keepalive(kv, id, &ttl, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_eq(ttl, 30);
    /* Re-putting without the lease detaches the key. */
    cr_assert_eq(metakv_put(kv, S("l/b"), S("2b"), 0, NULL, &err), QV_OK);
    cr_assert_eq(metakv_lease_revoke(kv, id, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(metakv_range(kv, S("l/"), NULL, &out, &err), QV_OK);
    cr_assert_eq(out.n, 2);
    cr_assert(key_is(&out.kvs[0], "l/b"));
    cr_assert(key_is(&out.kvs[1], "l/c"));
    cr_assert_eq(metakv_lease_keepalive(kv, id, &ttl, &err), QV_E_NOT_FOUND);
    cr_assert_eq(metakv_lease_revoke(kv, id, &err), QV_E_NOT_FOUND);
    metakv_kvs_release(&out);
    CONF_TEARDOWN();
}

CONF_TEST(put_with_unknown_lease_is_not_found)
{
    CONF_SETUP();
    cr_assert_eq(metakv_put(kv, S("u"), S("1"), 987654321, NULL, &err),
                 QV_E_NOT_FOUND);
    cr_assert(strstr(err.msg, "lease") != NULL, "%s", err.msg);
    metakv_kvs out = METAKV_KVS_INIT;
    cr_assert_eq(metakv_get(kv, S("u"), &out, &err), QV_E_NOT_FOUND);
    CONF_TEARDOWN();
}

CONF_TEST(lease_expiry_deletes_keys_and_watch_sees_it)
{
    CONF_SETUP();
    int64_t keep = 0, drop = 0;
    cr_assert_eq(metakv_lease_grant(kv, 1, &drop, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(metakv_lease_grant(kv, 2, &keep, &err), QV_OK);
    cr_assert_eq(metakv_put(kv, S("s/drop"), S("x"), drop, NULL, &err), QV_OK);
    cr_assert_eq(metakv_put(kv, S("s/keep"), S("y"), keep, NULL, &err), QV_OK);
    metakv_watch *w = NULL;
    cr_assert_eq(metakv_watch_open(kv, S("s/"), 0, &w, &err), QV_OK);
    /* Keep one lease alive for 3.5 s; the other must expire. */
    uint64_t t0 = qv_mono_ms(qv_clock_system());
    metakv_events ev = METAKV_EVENTS_INIT;
    while (qv_mono_ms(qv_clock_system()) - t0 < 3500) {
        cr_assert_eq(metakv_lease_keepalive(kv, keep, NULL, &err), QV_OK, "%s",
                     err.msg);
        cr_assert_eq(metakv_watch_next(w, 300, &ev, &err), QV_OK);
    }
    cr_assert_eq(ev.n, 1, "events: %zu", ev.n);
    cr_assert_eq(ev.ev[0].type, METAKV_EV_DELETE);
    cr_assert(key_is(&ev.ev[0].kv, "s/drop"));
    metakv_kvs out = METAKV_KVS_INIT;
    cr_assert_eq(metakv_get(kv, S("s/drop"), &out, &err), QV_E_NOT_FOUND);
    cr_assert_eq(metakv_get(kv, S("s/keep"), &out, &err), QV_OK);
    cr_assert_eq(metakv_lease_keepalive(kv, drop, NULL, &err), QV_E_NOT_FOUND);
    cr_assert_eq(metakv_put(kv, S("s/late"), S("z"), drop, NULL, &err),
                 QV_E_NOT_FOUND);
    metakv_kvs_release(&out);
    metakv_events_release(&ev);
    metakv_watch_close(w);
    CONF_TEARDOWN();
}

/* ---- watches ------------------------------------------------------------ */

CONF_TEST(watch_delivers_puts_and_deletes_in_order)
{
    CONF_SETUP();
    metakv_watch *w = NULL;
    cr_assert_eq(metakv_watch_open(kv, S("w/"), 0, &w, &err), QV_OK, "%s",
                 err.msg);
    int64_t r1, r2;
    cr_assert_eq(metakv_put(kv, S("w/a"), S("1"), 0, &r1, &err), QV_OK);
    cr_assert_eq(metakv_put(kv, S("other"), S("x"), 0, NULL, &err), QV_OK);
    cr_assert_eq(metakv_put(kv, S("w/a"), S("2"), 0, &r2, &err), QV_OK);
    int64_t d;
    cr_assert_eq(metakv_delete(kv, S("w/a"), false, &d, &err), QV_OK);
    metakv_events ev = METAKV_EVENTS_INIT;
    collect(w, &ev, 3, 5000);
    cr_assert_eq(ev.n, 3);
    cr_assert_eq(ev.ev[0].type, METAKV_EV_PUT);
    cr_assert_eq(ev.ev[0].kv.mod_rev, r1);
    cr_assert_eq(ev.ev[0].kv.create_rev, r1);
    cr_assert_eq(ev.ev[0].kv.version, 1);
    cr_assert_str_eq((char *)ev.ev[0].kv.value, "1");
    cr_assert_eq(ev.ev[1].kv.mod_rev, r2);
    cr_assert_eq(ev.ev[1].kv.version, 2);
    cr_assert_str_eq((char *)ev.ev[1].kv.value, "2");
    cr_assert_eq(ev.ev[2].type, METAKV_EV_DELETE);
    cr_assert(key_is(&ev.ev[2].kv, "w/a"));
    cr_assert_eq(ev.ev[2].kv.mod_rev, r2 + 1);
    cr_assert_eq(metakv_watch_next_rev(w), r2 + 2);
    metakv_events_release(&ev);
    metakv_watch_close(w);
    CONF_TEARDOWN();
}

CONF_TEST(watch_from_past_revision_replays_history)
{
    CONF_SETUP();
    int64_t first = 0, rev;
    for (int i = 0; i < 5; i++) {
        char v[4];
        int n = snprintf(v, sizeof v, "%d", i);
        cr_assert_eq(metakv_put(kv, S("h/k"), v, (size_t)n, 0, &rev, &err),
                     QV_OK);
        if (i == 0)
            first = rev;
    }
    metakv_watch *w = NULL;
    cr_assert_eq(metakv_watch_open(kv, S("h/"), first + 2, &w, &err), QV_OK);
    metakv_events ev = METAKV_EVENTS_INIT;
    collect(w, &ev, 3, 5000);
    cr_assert_eq(ev.n, 3);
    cr_assert_str_eq((char *)ev.ev[0].kv.value, "2");
    cr_assert_str_eq((char *)ev.ev[2].kv.value, "4");
    /* Resuming from next_rev in a new watch misses nothing. */
    int64_t next = metakv_watch_next_rev(w);
    metakv_watch_close(w);
    cr_assert_eq(metakv_put(kv, S("h/k"), S("5"), 0, NULL, &err), QV_OK);
    cr_assert_eq(metakv_watch_open(kv, S("h/"), next, &w, &err), QV_OK);
    metakv_events_release(&ev);
    collect(w, &ev, 1, 5000);
    cr_assert_eq(ev.n, 1);
    cr_assert_str_eq((char *)ev.ev[0].kv.value, "5");
    metakv_events_release(&ev);
    metakv_watch_close(w);
    CONF_TEARDOWN();
}

CONF_TEST(watch_delivers_a_txn_as_one_revision)
{
    CONF_SETUP();
    metakv_watch *w = NULL;
    cr_assert_eq(metakv_watch_open(kv, S("tx/"), 0, &w, &err), QV_OK);
    metakv_txn *t = metakv_txn_begin(kv);
    metakv_txn_put(t, METAKV_THEN, S("tx/a"), S("1"), 0);
    metakv_txn_put(t, METAKV_THEN, S("tx/b"), S("2"), 0);
    metakv_txn_put(t, METAKV_THEN, S("tx/c"), S("3"), 0);
    int64_t rev = 0;
    cr_assert_eq(metakv_txn_commit(t, NULL, &rev, &err), QV_OK);
    metakv_events ev = METAKV_EVENTS_INIT;
    collect(w, &ev, 1, 5000);
    cr_assert_eq(ev.n, 3, "a revision's events arrive together");
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(ev.ev[i].kv.mod_rev, rev);
    metakv_events_release(&ev);
    metakv_watch_close(w);
    CONF_TEARDOWN();
}

CONF_TEST(watch_wait_is_bounded_when_nothing_happens)
{
    CONF_SETUP();
    metakv_watch *w = NULL;
    cr_assert_eq(metakv_watch_open(kv, S("quiet/"), 0, &w, &err), QV_OK);
    cr_assert_eq(metakv_put(kv, S("loud"), S("x"), 0, NULL, &err), QV_OK);
    metakv_events ev = METAKV_EVENTS_INIT;
    uint64_t t0 = qv_mono_ms(qv_clock_system());
    cr_assert_eq(metakv_watch_next(w, 300, &ev, &err), QV_OK, "%s", err.msg);
    uint64_t took = qv_mono_ms(qv_clock_system()) - t0;
    cr_assert_eq(ev.n, 0);
    cr_assert(took >= 250 && took < 2000, "took %llu ms",
              (unsigned long long)took);
    cr_assert_eq(metakv_watch_next(w, 0, &ev, &err), QV_OK);
    cr_assert_eq(ev.n, 0);
    metakv_watch_close(w);
    CONF_TEARDOWN();
}

CONF_TEST(compaction_makes_old_watches_fail_clearly)
{
    CONF_SETUP();
    int64_t r1, r2, r3;
    cr_assert_eq(metakv_put(kv, S("cp/k"), S("1"), 0, &r1, &err), QV_OK);
    cr_assert_eq(metakv_put(kv, S("cp/k"), S("2"), 0, &r2, &err), QV_OK);
    cr_assert_eq(metakv_put(kv, S("cp/k"), S("3"), 0, &r3, &err), QV_OK);
    cr_assert_eq(metakv_compact(kv, r3 + 5, &err), QV_E_INVALID);
    cr_assert_eq(metakv_compact(kv, r2, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(metakv_compact(kv, r1, &err), QV_E_COMPACTED);
    /* A watch from before the compaction fails with a clear error, either
     * at open or at its first next. */
    metakv_watch *w = NULL;
    qv_code rc = metakv_watch_open(kv, S("cp/"), r1, &w, &err);
    if (rc == QV_OK) {
        metakv_events ev = METAKV_EVENTS_INIT;
        rc = metakv_watch_next(w, 3000, &ev, &err);
        cr_assert_eq(ev.n, 0);
        metakv_watch_close(w);
    }
    cr_assert_eq(rc, QV_E_COMPACTED, "%s", err.msg);
    cr_assert(strstr(err.msg, "compact") != NULL, "%s", err.msg);
    /* From the compaction revision on, history is still there. */
    cr_assert_eq(metakv_watch_open(kv, S("cp/"), r2, &w, &err), QV_OK);
    metakv_events ev = METAKV_EVENTS_INIT;
    collect(w, &ev, 2, 5000);
    cr_assert_eq(ev.n, 2);
    cr_assert_str_eq((char *)ev.ev[0].kv.value, "2");
    metakv_events_release(&ev);
    metakv_watch_close(w);
    /* The current data is untouched. */
    metakv_kvs out = METAKV_KVS_INIT;
    cr_assert_eq(metakv_get(kv, S("cp/k"), &out, &err), QV_OK);
    cr_assert_str_eq((char *)out.kvs[0].value, "3");
    metakv_kvs_release(&out);
    CONF_TEARDOWN();
}

/* ---- fault decorator ---------------------------------------------------- */

CONF_TEST(fault_decorator_fails_the_nth_call_and_adds_latency)
{
    CONF_SETUP();
    metakv *f = NULL;
    cr_assert_eq(metakv_fault_wrap(kv, &f, &err), QV_OK);
    b.kv = f; /* teardown closes the decorator, which closes kv */
    cr_assert_str_eq(metakv_backend(f), "fault");
    metakv_fault_set(f, 2, QV_E_UNAVAILABLE, 0);
    cr_assert_eq(metakv_put(f, S("f/1"), S("a"), 0, NULL, &err), QV_OK);
    cr_assert_eq(metakv_put(f, S("f/2"), S("b"), 0, NULL, &err),
                 QV_E_UNAVAILABLE);
    cr_assert(strstr(err.msg, "injected") != NULL, "%s", err.msg);
    cr_assert_eq(metakv_put(f, S("f/3"), S("c"), 0, NULL, &err), QV_OK);
    metakv_kvs out = METAKV_KVS_INIT;
    cr_assert_eq(metakv_range(f, S("f/"), NULL, &out, &err), QV_OK);
    cr_assert_eq(out.n, 2, "the failed put never reached the store");
    cr_assert_eq(metakv_fault_calls(f), 4);
    metakv_fault_set(f, 0, QV_OK, 100);
    uint64_t t0 = qv_mono_ms(qv_clock_system());
    cr_assert_eq(metakv_get(f, S("f/1"), &out, &err), QV_OK);
    cr_assert_geq(qv_mono_ms(qv_clock_system()) - t0, 100);
    metakv_kvs_release(&out);
    CONF_TEARDOWN();
}

/* ---- concurrent writers seen by a watch --------------------------------- */

struct writer_arg {
    metakv *kv;
    int id;
    qv_code rc;
};

static void *writer_main(void *p)
{
    struct writer_arg *a = p;
    for (int i = 0; i < 25 && a->rc == QV_OK; i++) {
        char k[32];
        int n = snprintf(k, sizeof k, "cw/%d/%02d", a->id, i);
        a->rc = metakv_put(a->kv, k, (size_t)n, k, (size_t)n, 0, NULL, NULL);
    }
    return NULL;
}

CONF_TEST(watch_sees_concurrent_writers_once_in_revision_order)
{
    CONF_SETUP();
    metakv_watch *w = NULL;
    cr_assert_eq(metakv_watch_open(kv, S("cw/"), 0, &w, &err), QV_OK);
    struct writer_arg args[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct writer_arg){.kv = kv, .id = i};
        cr_assert_eq(pthread_create(&th[i], NULL, writer_main, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(args[i].rc, QV_OK);
    }
    metakv_events ev = METAKV_EVENTS_INIT;
    collect(w, &ev, 100, 10000);
    cr_assert_eq(ev.n, 100);
    int seen[4] = {0};
    for (size_t i = 0; i < ev.n; i++) {
        if (i)
            cr_assert_gt(ev.ev[i].kv.mod_rev, ev.ev[i - 1].kv.mod_rev);
        int id = ev.ev[i].kv.key[3] - '0';
        int idx = atoi((char *)ev.ev[i].kv.key + 5);
        cr_assert_eq(idx, seen[id], "writer %d's puts arrive in order", id);
        seen[id]++;
    }
    for (int i = 0; i < 4; i++)
        cr_assert_eq(seen[i], 25);
    metakv_events_release(&ev);
    metakv_watch_close(w);
    CONF_TEARDOWN();
}
