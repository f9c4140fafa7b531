/* Meta KV conformance, part 1: keys, values, revisions, ranges, txns.
 * Every test runs once per backend (local LMDB and a real etcd). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tests/conformance/metakv/conf.h"

CONF_TEST(put_get_roundtrip_sets_revisions_and_versions)
{
    CONF_SETUP();
    int64_t r0 = 0, r1 = 0, r2 = 0;
    cr_assert_eq(metakv_revision(kv, &r0, &err), QV_OK, "%s", err.msg);
    cr_assert_geq(r0, 1);
    cr_assert_eq(metakv_put(kv, S("a/k"), S("v1"), 0, &r1, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_eq(r1, r0 + 1);
    metakv_kvs out = METAKV_KVS_INIT;
    cr_assert_eq(metakv_get(kv, S("a/k"), &out, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(out.n, 1);
    cr_assert_eq(out.kvs[0].value_len, 2);
    cr_assert_str_eq((char *)out.kvs[0].value, "v1");
    cr_assert_eq(out.kvs[0].key_len, 3);
    cr_assert_eq(memcmp(out.kvs[0].key, "a/k", 3), 0);
    cr_assert_eq(out.kvs[0].create_rev, r1);
    cr_assert_eq(out.kvs[0].mod_rev, r1);
    cr_assert_eq(out.kvs[0].version, 1);
    cr_assert_eq(out.kvs[0].lease, 0);
    cr_assert_eq(out.revision, r1);

    cr_assert_eq(metakv_put(kv, S("a/k"), S("v2"), 0, &r2, &err), QV_OK);
    cr_assert_eq(r2, r1 + 1);
    cr_assert_eq(metakv_get(kv, S("a/k"), &out, &err), QV_OK);
    cr_assert_str_eq((char *)out.kvs[0].value, "v2");
    cr_assert_eq(out.kvs[0].create_rev, r1);
    cr_assert_eq(out.kvs[0].mod_rev, r2);
    cr_assert_eq(out.kvs[0].version, 2);
    int64_t cur = 0;
    cr_assert_eq(metakv_revision(kv, &cur, &err), QV_OK);
    cr_assert_eq(cur, r2);
    metakv_kvs_release(&out);
    CONF_TEARDOWN();
}

CONF_TEST(get_missing_key_is_not_found_and_names_the_key)
{
    CONF_SETUP();
    metakv_kvs out = METAKV_KVS_INIT;
    cr_assert_eq(metakv_get(kv, S("no/such"), &out, &err), QV_E_NOT_FOUND);
    cr_assert(strstr(err.msg, "no/such") != NULL, "%s", err.msg);
    cr_assert_eq(out.n, 0);
    CONF_TEARDOWN();
}

CONF_TEST(empty_value_is_stored_and_distinct_from_missing)
{
    CONF_SETUP();
    cr_assert_eq(metakv_put(kv, S("e"), "", 0, 0, NULL, &err), QV_OK, "%s",
                 err.msg);
    metakv_kvs out = METAKV_KVS_INIT;
    cr_assert_eq(metakv_get(kv, S("e"), &out, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(out.kvs[0].value_len, 0);
    cr_assert_eq(out.kvs[0].version, 1);
    metakv_kvs_release(&out);
    CONF_TEARDOWN();
}

CONF_TEST(binary_keys_and_values_roundtrip_in_byte_order)
{
    CONF_SETUP();
    const uint8_t k1[] = {'b', 0x00, 0x01};
    const uint8_t k2[] = {'b', 0x00, 0xff, 0x00};
    const uint8_t k3[] = {'b', 0xff};
    const uint8_t val[] = {0x00, 0xff, 0x7f, 0x80, 0x00};
    cr_assert_eq(metakv_put(kv, k3, sizeof k3, val, sizeof val, 0, NULL, &err),
                 QV_OK, "%s", err.msg);
    cr_assert_eq(metakv_put(kv, k1, sizeof k1, val, 1, 0, NULL, &err), QV_OK);
    cr_assert_eq(metakv_put(kv, k2, sizeof k2, val, 3, 0, NULL, &err), QV_OK);
    metakv_kvs out = METAKV_KVS_INIT;
    cr_assert_eq(metakv_range(kv, "b", 1, NULL, &out, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_eq(out.n, 3);
    cr_assert_eq(out.kvs[0].key_len, sizeof k1);
    cr_assert_eq(memcmp(out.kvs[0].key, k1, sizeof k1), 0);
    cr_assert_eq(memcmp(out.kvs[1].key, k2, sizeof k2), 0);
    cr_assert_eq(memcmp(out.kvs[2].key, k3, sizeof k3), 0);
    cr_assert_eq(out.kvs[2].value_len, sizeof val);
    cr_assert_eq(memcmp(out.kvs[2].value, val, sizeof val), 0);
    /* A prefix ending in 0xff bytes still bounds the range. */
    cr_assert_eq(metakv_put(kv, S("c"), S("after"), 0, NULL, &err), QV_OK);
    cr_assert_eq(metakv_range(kv, k3, sizeof k3, NULL, &out, &err), QV_OK);
    cr_assert_eq(out.n, 1);
    metakv_kvs_release(&out);
    CONF_TEARDOWN();
}

CONF_TEST(large_values_up_to_the_limit)
{
    CONF_SETUP();
    size_t n = METAKV_MAX_VALUE_LEN;
    uint8_t *big = malloc(n + 1);
    for (size_t i = 0; i <= n; i++)
        big[i] = (uint8_t)(i * 131 + 7);
    cr_assert_eq(metakv_put(kv, S("big"), big, n, 0, NULL, &err), QV_OK, "%s",
                 err.msg);
    metakv_kvs out = METAKV_KVS_INIT;
    cr_assert_eq(metakv_get(kv, S("big"), &out, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(out.kvs[0].value_len, n);
    cr_assert_eq(memcmp(out.kvs[0].value, big, n), 0);
    cr_assert_eq(metakv_put(kv, S("big"), big, n + 1, 0, NULL, &err),
                 QV_E_INVALID);
    cr_assert(strstr(err.msg, "larger than") != NULL, "%s", err.msg);
    metakv_kvs_release(&out);
    free(big);
    CONF_TEARDOWN();
}

CONF_TEST(bad_keys_are_rejected)
{
    CONF_SETUP();
    char key[METAKV_MAX_KEY_LEN + 2];
    memset(key, 'k', sizeof key);
    cr_assert_eq(metakv_put(kv, key, METAKV_MAX_KEY_LEN, S("x"), 0, NULL, &err),
                 QV_OK, "%s", err.msg);
    cr_assert_eq(
        metakv_put(kv, key, METAKV_MAX_KEY_LEN + 1, S("x"), 0, NULL, &err),
        QV_E_INVALID);
    cr_assert_eq(metakv_put(kv, "", 0, S("x"), 0, NULL, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "empty") != NULL, "%s", err.msg);
    metakv_kvs out = METAKV_KVS_INIT;
    cr_assert_eq(metakv_get(kv, "", 0, &out, &err), QV_E_INVALID);
    CONF_TEARDOWN();
}

CONF_TEST(delete_counts_and_only_real_deletes_raise_the_revision)
{
    CONF_SETUP();
    int64_t r1, r2, d = -1;
    cr_assert_eq(metakv_put(kv, S("d/1"), S("x"), 0, &r1, &err), QV_OK);
    cr_assert_eq(metakv_delete(kv, S("d/none"), false, &d, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_eq(d, 0);
    cr_assert_eq(metakv_revision(kv, &r2, &err), QV_OK);
    cr_assert_eq(r2, r1);
    cr_assert_eq(metakv_delete(kv, S("d/1"), false, &d, &err), QV_OK);
    cr_assert_eq(d, 1);
    cr_assert_eq(metakv_revision(kv, &r2, &err), QV_OK);
    cr_assert_eq(r2, r1 + 1);
    metakv_kvs out = METAKV_KVS_INIT;
    cr_assert_eq(metakv_get(kv, S("d/1"), &out, &err), QV_E_NOT_FOUND);
    /* Re-creating starts a new life: version 1, new create revision. */
    int64_t r3;
    cr_assert_eq(metakv_put(kv, S("d/1"), S("y"), 0, &r3, &err), QV_OK);
    cr_assert_eq(metakv_get(kv, S("d/1"), &out, &err), QV_OK);
    cr_assert_eq(out.kvs[0].version, 1);
    cr_assert_eq(out.kvs[0].create_rev, r3);
    metakv_kvs_release(&out);
    CONF_TEARDOWN();
}

CONF_TEST(delete_prefix_removes_exactly_the_prefix)
{
    CONF_SETUP();
    const char *keys[] = {"p/a", "p/b", "p/c/d", "p0", "q"};
    for (int i = 0; i < 5; i++)
        cr_assert_eq(
            metakv_put(kv, keys[i], strlen(keys[i]), S("v"), 0, NULL, &err),
            QV_OK);
    int64_t d = 0, r0, r1;
    cr_assert_eq(metakv_revision(kv, &r0, &err), QV_OK);
    cr_assert_eq(metakv_delete(kv, S("p/"), true, &d, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_eq(d, 3);
    cr_assert_eq(metakv_revision(kv, &r1, &err), QV_OK);
    cr_assert_eq(r1, r0 + 1, "a prefix delete is one revision");
    metakv_kvs out = METAKV_KVS_INIT;
    cr_assert_eq(metakv_range(kv, "", 0, NULL, &out, &err), QV_OK);
    cr_assert_eq(out.n, 2);
    cr_assert_eq(memcmp(out.kvs[0].key, "p0", 2), 0);
    cr_assert_eq(memcmp(out.kvs[1].key, "q", 1), 0);
    metakv_kvs_release(&out);
    CONF_TEARDOWN();
}

CONF_TEST(range_returns_prefix_in_order_and_keys_only)
{
    CONF_SETUP();
    const char *keys[] = {"r/b", "r/a", "r", "r/c", "ra", "r0", "s"};
    for (int i = 0; i < 7; i++)
        cr_assert_eq(metakv_put(kv, keys[i], strlen(keys[i]), keys[i],
                                strlen(keys[i]), 0, NULL, &err),
                     QV_OK);
    metakv_kvs out = METAKV_KVS_INIT;
    cr_assert_eq(metakv_range(kv, S("r/"), NULL, &out, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_eq(out.n, 3);
    cr_assert_not(out.more);
    cr_assert_str_eq((char *)out.kvs[0].value, "r/a");
    cr_assert_str_eq((char *)out.kvs[2].value, "r/c");
    metakv_range_opts o = {.keys_only = true};
    cr_assert_eq(metakv_range(kv, S("r"), &o, &out, &err), QV_OK);
    cr_assert_eq(out.n, 6);
    cr_assert_eq(out.kvs[0].key_len, 1);
    cr_assert_eq(out.kvs[0].value_len, 0);
    cr_assert_gt(out.kvs[0].mod_rev, 0);
    cr_assert_eq(metakv_range(kv, S("nothing/"), NULL, &out, &err), QV_OK);
    cr_assert_eq(out.n, 0);
    cr_assert_gt(out.revision, 0);
    metakv_kvs_release(&out);
    CONF_TEARDOWN();
}

/* Pages through 10 keys with every limit and checks the page boundaries. */
CONF_TEST(range_pagination_covers_every_key_once)
{
    CONF_SETUP();
    for (int i = 0; i < 10; i++) {
        char k[16];
        int n = snprintf(k, sizeof k, "pg/%02d", i);
        cr_assert_eq(metakv_put(kv, k, (size_t)n, k, (size_t)n, 0, NULL, &err),
                     QV_OK);
    }
    cr_assert_eq(metakv_put(kv, S("ph"), S("x"), 0, NULL, &err), QV_OK);
    for (size_t limit = 1; limit <= 11; limit++) {
        metakv_kvs out = METAKV_KVS_INIT;
        char last[16] = "";
        size_t last_len = 0, seen = 0, pages = 0;
        for (;;) {
            metakv_range_opts o = {.after = last_len ? last : NULL,
                                   .after_len = last_len,
                                   .limit = limit};
            cr_assert_eq(metakv_range(kv, S("pg/"), &o, &out, &err), QV_OK,
                         "%s", err.msg);
            pages++;
            cr_assert_leq(out.n, limit);
            for (size_t i = 0; i < out.n; i++) {
                char want[16];
                snprintf(want, sizeof want, "pg/%02zu", seen + i);
                cr_assert_eq(out.kvs[i].key_len, 5);
                cr_assert_eq(memcmp(out.kvs[i].key, want, 5), 0,
                             "limit %zu key %zu", limit, seen + i);
            }
            seen += out.n;
            if (out.n) {
                memcpy(last, out.kvs[out.n - 1].key, 5);
                last_len = 5;
            }
            if (!out.more)
                break;
            cr_assert_eq(out.n, limit);
        }
        cr_assert_eq(seen, 10, "limit %zu", limit);
        cr_assert_eq(pages, (10 + limit - 1) / limit, "limit %zu", limit);
        metakv_kvs_release(&out);
    }
    CONF_TEARDOWN();
}

CONF_TEST(txn_create_if_absent_succeeds_once)
{
    CONF_SETUP();
    for (int i = 0; i < 2; i++) {
        metakv_txn *t = metakv_txn_begin(kv);
        metakv_txn_cmp_num(t, S("t/lock"), METAKV_CMP_VERSION, METAKV_EQ, 0);
        metakv_txn_put(t, METAKV_THEN, S("t/lock"), S("owner-1"), 0);
        metakv_txn_put(t, METAKV_ELSE, S("t/lost"), S("x"), 0);
        bool ok = !i;
        int64_t rev = 0;
        cr_assert_eq(metakv_txn_commit(t, &ok, &rev, &err), QV_OK, "%s",
                     err.msg);
        cr_assert_eq(ok, i == 0);
        cr_assert_gt(rev, 0);
    }
    metakv_kvs out = METAKV_KVS_INIT;
    cr_assert_eq(metakv_get(kv, S("t/lock"), &out, &err), QV_OK);
    cr_assert_str_eq((char *)out.kvs[0].value, "owner-1");
    cr_assert_eq(metakv_get(kv, S("t/lost"), &out, &err), QV_OK);
    metakv_kvs_release(&out);
    CONF_TEARDOWN();
}

CONF_TEST(txn_compares_on_value_version_and_revisions)
{
    CONF_SETUP();
    int64_t r1;
    cr_assert_eq(metakv_put(kv, S("c/k"), S("m"), 0, &r1, &err), QV_OK);
    struct {
        metakv_cmp_target target;
        metakv_cmp_op op;
        int64_t n;
        const char *val;
        bool want;
    } cases[] = {
        {METAKV_CMP_VALUE, METAKV_EQ, 0, "m", true},
        {METAKV_CMP_VALUE, METAKV_NE, 0, "m", false},
        {METAKV_CMP_VALUE, METAKV_LT, 0, "n", true},
        {METAKV_CMP_VALUE, METAKV_GT, 0, "l", true},
        {METAKV_CMP_VALUE, METAKV_GT, 0, "mm", false},
        {METAKV_CMP_VERSION, METAKV_EQ, 1, NULL, true},
        {METAKV_CMP_VERSION, METAKV_GT, 0, NULL, true},
        {METAKV_CMP_CREATE_REV, METAKV_EQ, r1, NULL, true},
        {METAKV_CMP_MOD_REV, METAKV_EQ, r1, NULL, true},
        {METAKV_CMP_MOD_REV, METAKV_LT, r1, NULL, false},
        {METAKV_CMP_MOD_REV, METAKV_NE, r1 + 1, NULL, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        metakv_txn *t = metakv_txn_begin(kv);
        if (cases[i].val)
            metakv_txn_cmp_value(t, S("c/k"), cases[i].op, cases[i].val,
                                 strlen(cases[i].val));
        else
            metakv_txn_cmp_num(t, S("c/k"), cases[i].target, cases[i].op,
                               cases[i].n);
        bool ok = !cases[i].want;
        cr_assert_eq(metakv_txn_commit(t, &ok, NULL, &err), QV_OK, "%s",
                     err.msg);
        cr_assert_eq(ok, cases[i].want, "case %zu", i);
    }
    /* A value compare on a missing key is false, even NE. */
    metakv_txn *t = metakv_txn_begin(kv);
    metakv_txn_cmp_value(t, S("c/missing"), METAKV_NE, S("x"));
    bool ok = true;
    cr_assert_eq(metakv_txn_commit(t, &ok, NULL, &err), QV_OK);
    cr_assert_not(ok);
    /* A missing key's mod revision is 0. */
    t = metakv_txn_begin(kv);
    metakv_txn_cmp_num(t, S("c/missing"), METAKV_CMP_MOD_REV, METAKV_EQ, 0);
    cr_assert_eq(metakv_txn_commit(t, &ok, NULL, &err), QV_OK);
    cr_assert(ok);
    CONF_TEARDOWN();
}

CONF_TEST(txn_is_atomic_and_one_revision)
{
    CONF_SETUP();
    cr_assert_eq(metakv_put(kv, S("x/old"), S("1"), 0, NULL, &err), QV_OK);
    int64_t r0, rev = 0;
    cr_assert_eq(metakv_revision(kv, &r0, &err), QV_OK);
    metakv_txn *t = metakv_txn_begin(kv);
    metakv_txn_cmp_value(t, S("x/old"), METAKV_EQ, S("1"));
    metakv_txn_put(t, METAKV_THEN, S("x/a"), S("A"), 0);
    metakv_txn_put(t, METAKV_THEN, S("x/b"), S("B"), 0);
    metakv_txn_delete(t, METAKV_THEN, S("x/old"), false);
    bool ok = false;
    cr_assert_eq(metakv_txn_commit(t, &ok, &rev, &err), QV_OK, "%s", err.msg);
    cr_assert(ok);
    cr_assert_eq(rev, r0 + 1);
    metakv_kvs out = METAKV_KVS_INIT;
    cr_assert_eq(metakv_range(kv, S("x/"), NULL, &out, &err), QV_OK);
    cr_assert_eq(out.n, 2);
    cr_assert_eq(out.kvs[0].mod_rev, rev);
    cr_assert_eq(out.kvs[1].mod_rev, rev);
    metakv_kvs_release(&out);
    /* A txn whose compare fails and has no else branch changes nothing. */
    t = metakv_txn_begin(kv);
    metakv_txn_cmp_value(t, S("x/a"), METAKV_EQ, S("nope"));
    metakv_txn_put(t, METAKV_THEN, S("x/c"), S("C"), 0);
    int64_t r2 = 0;
    cr_assert_eq(metakv_txn_commit(t, &ok, &r2, &err), QV_OK);
    cr_assert_not(ok);
    cr_assert_eq(r2, rev);
    cr_assert_eq(metakv_get(kv, S("x/c"), &out, &err), QV_E_NOT_FOUND);
    /* Aborting a prepared txn runs nothing. */
    t = metakv_txn_begin(kv);
    metakv_txn_put(t, METAKV_THEN, S("x/d"), S("D"), 0);
    metakv_txn_abort(t);
    cr_assert_eq(metakv_get(kv, S("x/d"), &out, &err), QV_E_NOT_FOUND);
    CONF_TEARDOWN();
}

CONF_TEST(txn_argument_errors_are_reported_at_commit)
{
    CONF_SETUP();
    metakv_txn *t = metakv_txn_begin(kv);
    for (unsigned i = 0; i <= METAKV_MAX_TXN_OPS; i++) {
        char k[16];
        int n = snprintf(k, sizeof k, "many/%u", i);
        metakv_txn_put(t, METAKV_THEN, k, (size_t)n, S("v"), 0);
    }
    cr_assert_eq(metakv_txn_commit(t, NULL, NULL, &err), QV_E_INVALID);
    t = metakv_txn_begin(kv);
    metakv_txn_put(t, METAKV_THEN, "", 0, S("v"), 0);
    cr_assert_eq(metakv_txn_commit(t, NULL, NULL, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "txn") != NULL, "%s", err.msg);
    metakv_kvs out = METAKV_KVS_INIT;
    cr_assert_eq(metakv_range(kv, S("many/"), NULL, &out, &err), QV_OK);
    cr_assert_eq(out.n, 0);
    CONF_TEARDOWN();
}

/* ---- concurrent writers ------------------------------------------------- */

struct incr_arg {
    metakv *kv;
    int rounds;
    int conflicts;
    qv_code rc;
};

/* Read-modify-write with a mod_rev compare, retried on conflict. */
static void *incr_main(void *p)
{
    struct incr_arg *a = p;
    for (int i = 0; i < a->rounds && a->rc == QV_OK; i++) {
        for (;;) {
            metakv_kvs cur = METAKV_KVS_INIT;
            qv_err err = {0};
            a->rc = metakv_get(a->kv, S("cnt"), &cur, &err);
            if (a->rc != QV_OK)
                break;
            long v = strtol((char *)cur.kvs[0].value, NULL, 10);
            char buf[32];
            int n = snprintf(buf, sizeof buf, "%ld", v + 1);
            metakv_txn *t = metakv_txn_begin(a->kv);
            metakv_txn_cmp_num(t, S("cnt"), METAKV_CMP_MOD_REV, METAKV_EQ,
                               cur.kvs[0].mod_rev);
            metakv_txn_put(t, METAKV_THEN, S("cnt"), buf, (size_t)n, 0);
            metakv_kvs_release(&cur);
            bool ok = false;
            a->rc = metakv_txn_commit(t, &ok, NULL, &err);
            if (a->rc != QV_OK || ok)
                break;
            a->conflicts++;
        }
    }
    return NULL;
}

CONF_TEST(concurrent_cas_writers_lose_no_update)
{
    CONF_SETUP();
    cr_assert_eq(metakv_put(kv, S("cnt"), S("0"), 0, NULL, &err), QV_OK);
    enum { THREADS = 4, ROUNDS = 40 };
    struct incr_arg args[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (struct incr_arg){.kv = kv, .rounds = ROUNDS};
        cr_assert_eq(pthread_create(&th[i], NULL, incr_main, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(args[i].rc, QV_OK);
    }
    metakv_kvs out = METAKV_KVS_INIT;
    cr_assert_eq(metakv_get(kv, S("cnt"), &out, &err), QV_OK);
    cr_assert_eq(strtol((char *)out.kvs[0].value, NULL, 10), THREADS * ROUNDS);
    cr_assert_eq(out.kvs[0].version, THREADS * ROUNDS + 1);
    metakv_kvs_release(&out);
    CONF_TEARDOWN();
}

CONF_TEST(data_survives_reopen)
{
    CONF_SETUP();
    int64_t rev;
    cr_assert_eq(metakv_put(kv, S("keep/1"), S("one"), 0, NULL, &err), QV_OK);
    cr_assert_eq(metakv_put(kv, S("keep/2"), S("two"), 0, &rev, &err), QV_OK);
    conf_backend_reopen(&b);
    kv = b.kv;
    metakv_kvs out = METAKV_KVS_INIT;
    cr_assert_eq(metakv_range(kv, S("keep/"), NULL, &out, &err), QV_OK);
    cr_assert_eq(out.n, 2);
    cr_assert_str_eq((char *)out.kvs[1].value, "two");
    int64_t now;
    cr_assert_eq(metakv_revision(kv, &now, &err), QV_OK);
    cr_assert_eq(now, rev);
    metakv_kvs_release(&out);
    CONF_TEARDOWN();
}

CONF_TEST(txn_size_is_bounded_the_same_on_every_backend)
{
    CONF_SETUP();
    static uint8_t big[METAKV_MAX_VALUE_LEN];
    memset(big, 'b', sizeof big);
    metakv_txn *t = metakv_txn_begin(kv);
    metakv_txn_put(t, METAKV_THEN, S("tb/1"), big, sizeof big, 0);
    metakv_txn_put(t, METAKV_THEN, S("tb/2"), big, 1024, 0);
    cr_assert_eq(metakv_txn_commit(t, NULL, NULL, &err), QV_OK, "%s", err.msg);
    t = metakv_txn_begin(kv);
    metakv_txn_put(t, METAKV_THEN, S("tb/3"), big, sizeof big, 0);
    metakv_txn_put(t, METAKV_ELSE, S("tb/4"), big, sizeof big / 2, 0);
    cr_assert_eq(metakv_txn_commit(t, NULL, NULL, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "bytes") != NULL, "%s", err.msg);
    metakv_kvs out = METAKV_KVS_INIT;
    cr_assert_eq(metakv_range(kv, S("tb/"), NULL, &out, &err), QV_OK);
    cr_assert_eq(out.n, 2);
    cr_assert_eq(out.kvs[0].value_len, sizeof big);
    metakv_kvs_release(&out);
    CONF_TEARDOWN();
}
