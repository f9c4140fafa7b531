/* Tests of common/session on the LMDB meta KV (real clock, short TTLs). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/session/session.h"

static char dir[64];
static metakv *kv;

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/qv-sess-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    metakv_config cfg = {.dir = dir};
    qv_err err = {0};
    cr_assert_eq(metakv_open("local", &cfg, &kv, &err), QV_OK, "%s", err.msg);
}

static void teardown(void)
{
    metakv_close(kv);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(session, .init = setup, .fini = teardown, .timeout = 30);

static bool key_exists(const char *key)
{
    metakv_kvs r = METAKV_KVS_INIT;
    qv_code rc = metakv_get(kv, key, strlen(key), &r, NULL);
    metakv_kvs_release(&r);
    return rc == QV_OK;
}

Test(session, register_writes_a_leased_key_and_close_removes_it)
{
    qv_session_options o = {.role = "proxy",
                            .server_id = 12,
                            .address = "127.0.0.1:19530",
                            .ttl_s = 2};
    qv_session *s;
    qv_err err = {0};
    cr_assert_eq(qv_session_register(kv, &o, &s, &err), QV_OK, "%s", err.msg);
    cr_assert_str_eq(qv_session_key(s), "quiver/session/proxy-12");
    metakv_kvs r = METAKV_KVS_INIT;
    cr_assert_eq(metakv_get(kv, "quiver/session/proxy-12", 23, &r, NULL),
                 QV_OK);
    cr_assert_eq(r.kvs[0].lease, qv_session_lease(s));
    cr_assert(strstr((char *)r.kvs[0].value, "\"role\":\"proxy\",\"id\":12,"
                                             "\"address\":\"127.0.0.1:19530\""),
              "%s", (char *)r.kvs[0].value);
    metakv_kvs_release(&r);

    qv_session *dup;
    cr_assert_eq(qv_session_register(kv, &o, &dup, &err), QV_E_EXISTS);
    cr_assert(strstr(err.msg, "proxy-12"), "%s", err.msg);

    qv_session_close(s);
    cr_assert(!key_exists("quiver/session/proxy-12"));
}

Test(session, keepalive_holds_the_key_past_its_ttl)
{
    qv_session_options o = {.role = "datanode", .server_id = 1, .ttl_s = 2};
    qv_session *s;
    cr_assert_eq(qv_session_register(kv, &o, &s, NULL), QV_OK);
    qv_sleep_ms(4500); /* more than twice the TTL */
    cr_assert(key_exists("quiver/session/datanode-1"));
    cr_assert(!qv_session_lost(s));
    qv_session_close(s);
}

static int lost_calls;

static void on_lost(void *ud)
{
    (void)ud;
    __atomic_add_fetch(&lost_calls, 1, __ATOMIC_RELAXED);
}

Test(session, a_revoked_lease_reports_the_session_lost_once)
{
    qv_session_options o = {
        .role = "querynode", .server_id = 3, .ttl_s = 1, .on_lost = on_lost};
    qv_session *s;
    cr_assert_eq(qv_session_register(kv, &o, &s, NULL), QV_OK);
    cr_assert_eq(metakv_lease_revoke(kv, qv_session_lease(s), NULL), QV_OK);
    for (int i = 0; i < 40 && !qv_session_lost(s); i++)
        qv_sleep_ms(100);
    cr_assert(qv_session_lost(s));
    cr_assert_eq(__atomic_load_n(&lost_calls, __ATOMIC_RELAXED), 1);
    cr_assert(!key_exists("quiver/session/querynode-3"));
    bool won = true;
    qv_err err = {0};
    cr_assert_eq(qv_session_campaign(s, "coord", &won, &err), QV_E_UNAVAILABLE);
    qv_session_close(s);
}

Test(session, bad_roles_are_rejected)
{
    qv_session_options o = {.role = "a/b", .server_id = 1};
    qv_session *s;
    qv_err err = {0};
    cr_assert_eq(qv_session_register(kv, &o, &s, &err), QV_E_INVALID);
    o.role = "";
    cr_assert_eq(qv_session_register(kv, &o, &s, &err), QV_E_INVALID);
}

typedef struct standby {
    qv_session *s;
    qv_code rc;
    uint64_t won_at_ms;
} standby;

static void *standby_main(void *arg)
{
    standby *sb = arg;
    sb->rc = qv_session_campaign_wait(sb->s, "coord", 10000, NULL, NULL);
    sb->won_at_ms = qv_mono_ms(qv_clock_system());
    return NULL;
}

Test(session, standby_takes_over_when_the_active_session_ends)
{
    qv_session_options oa = {.role = "coord", .server_id = 1, .ttl_s = 1};
    qv_session_options ob = {.role = "coord", .server_id = 2, .ttl_s = 1};
    qv_session *a, *b;
    cr_assert_eq(qv_session_register(kv, &oa, &a, NULL), QV_OK);
    cr_assert_eq(qv_session_register(kv, &ob, &b, NULL), QV_OK);
    bool won = false;
    cr_assert_eq(qv_session_campaign(a, "coord", &won, NULL), QV_OK);
    cr_assert(won);
    cr_assert_eq(qv_session_campaign(a, "coord", &won, NULL), QV_OK);
    cr_assert(won, "re-campaigning by the holder keeps leadership");
    cr_assert_eq(qv_session_campaign(b, "coord", &won, NULL), QV_OK);
    cr_assert(!won);

    standby sb = {.s = b};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, standby_main, &sb), 0);
    qv_sleep_ms(300);
    uint64_t closed_at = qv_mono_ms(qv_clock_system());
    qv_session_close(a); /* the active coord goes away */
    pthread_join(th, NULL);
    cr_assert_eq(sb.rc, QV_OK);
    cr_assert_lt(sb.won_at_ms - closed_at, 5000);
    metakv_kvs r = METAKV_KVS_INIT;
    cr_assert_eq(metakv_get(kv, "quiver/session/coord-active", 27, &r, NULL),
                 QV_OK);
    cr_assert_str_eq((char *)r.kvs[0].value, "quiver/session/coord-2");
    metakv_kvs_release(&r);
    qv_session_close(b);
}

Test(session, campaign_wait_gives_up_on_stop_and_timeout)
{
    qv_session_options oa = {.role = "coord", .server_id = 1, .ttl_s = 5};
    qv_session_options ob = {.role = "coord", .server_id = 2, .ttl_s = 5};
    qv_session *a, *b;
    cr_assert_eq(qv_session_register(kv, &oa, &a, NULL), QV_OK);
    cr_assert_eq(qv_session_register(kv, &ob, &b, NULL), QV_OK);
    bool won;
    cr_assert_eq(qv_session_campaign(a, "coord", &won, NULL), QV_OK);
    qv_err err = {0};
    cr_assert_eq(qv_session_campaign_wait(b, "coord", 500, NULL, &err),
                 QV_E_TIMEOUT);
    volatile bool stop = true;
    cr_assert_eq(qv_session_campaign_wait(b, "coord", 0, &stop, &err),
                 QV_E_CANCELLED);
    qv_session_close(b);
    qv_session_close(a);
}

/* ---- kept sessions (common/session/kept_session.h) ----------------------- */

#include "common/session/kept_session.h"

static int64_t lease_of(const char *key)
{
    metakv_kvs r = METAKV_KVS_INIT;
    qv_code rc = metakv_get(kv, key, strlen(key), &r, NULL);
    cr_assert(rc == QV_OK || qv_code_primary(rc) == QV_E_NOT_FOUND, "%s",
              qv_code_name(rc));
    int64_t lease = rc == QV_OK && r.n == 1 ? r.kvs[0].lease : 0;
    metakv_kvs_release(&r);
    return lease;
}

Test(session, a_kept_session_is_replaced_when_lost_and_removed_at_stop)
{
    qv_kept_session_options o = {
        .kv = kv, .role = "datanode", .address = "10.0.0.9:19533", .ttl_s = 1};
    qv_kept_session *k;
    qv_err err = {0};
    cr_assert_eq(qv_kept_session_start(&o, &k, &err), QV_OK, "%s", err.msg);
    char k1[256], k2[256];
    qv_kept_session_key(k, k1, sizeof k1);
    cr_assert(strncmp(k1, "quiver/session/datanode-", 24) == 0, "%s", k1);
    int64_t lease = lease_of(k1);
    cr_assert_neq(lease, 0, "the key is under a lease");
    /* lose it: the lease goes, the checker registers a new session */
    cr_assert_eq(metakv_lease_revoke(kv, lease, NULL), QV_OK);
    k2[0] = '\0';
    for (int i = 0; i < 100; i++) {
        qv_kept_session_key(k, k2, sizeof k2);
        if (strcmp(k1, k2) != 0)
            break;
        qv_sleep_ms(50);
    }
    cr_assert_str_neq(k1, k2, "a lost session is replaced");
    cr_assert_eq(lease_of(k1), 0, "the old key is gone");
    cr_assert_neq(lease_of(k2), 0, "the new key is registered");
    qv_kept_session_stop(k);
    cr_assert_eq(lease_of(k2), 0, "stop removes the key");
}

Test(session, random_server_ids_are_positive_and_differ)
{
    int64_t a = qv_session_random_id(), b = qv_session_random_id();
    cr_assert(a >= 1 && a <= (1ll << 40), "%lld", (long long)a);
    cr_assert(b >= 1 && b <= (1ll << 40), "%lld", (long long)b);
    cr_assert_neq(a, b);
}
