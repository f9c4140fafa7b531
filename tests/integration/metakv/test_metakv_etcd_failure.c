/* Failure tests of the etcd meta KV against a real etcd on 127.0.0.1:
 * stop or kill etcd mid-use (calls fail with clear errors within their
 * timeouts, nothing crashes), restart it (calls work again, no acknowledged
 * write is lost, watches resume without missing or repeating events),
 * endpoint failover, and username/password auth with token renewal. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/metakv/metakv.h"
#include "tests/lib/etcd_server.h"

#define S(x)       (x), strlen(x)
#define TIMEOUT_MS 1000

static qv_etcd_server srv;

static void stop_server(void)
{
    qv_etcd_server_destroy(&srv);
}

TestSuite(metakv_etcd_failure, .fini = stop_server, .timeout = 120);

static metakv *open_etcd(const char *endpoints, const char *user,
                         const char *pw)
{
    metakv_config cfg = {.endpoints = endpoints,
                         .timeout_ms = TIMEOUT_MS,
                         .username = user,
                         .password = pw};
    metakv *kv = NULL;
    qv_err err = {0};
    cr_assert_eq(metakv_open("etcd", &cfg, &kv, &err), QV_OK, "%s", err.msg);
    return kv;
}

static uint64_t now_ms(void)
{
    return qv_mono_ms(qv_clock_system());
}

/* Asserts a failure that says etcd is unreachable, names the endpoint and
 * the operation, and came within the timeout (plus slack). */
static void assert_down(qv_code rc, const qv_err *err, uint64_t t0,
                        const char *op)
{
    uint64_t took = now_ms() - t0;
    cr_assert(rc == QV_E_UNAVAILABLE || rc == QV_E_TIMEOUT, "%s: %s (%s)", op,
              qv_code_name(rc), err->msg);
    cr_assert(strstr(err->msg, srv.endpoint) != NULL, "%s", err->msg);
    cr_assert(strstr(err->msg, op) != NULL, "%s", err->msg);
    cr_assert_lt(took, TIMEOUT_MS + 2000, "%s took %llu ms", op,
                 (unsigned long long)took);
}

/* Waits (bounded) until a get succeeds again after a restart. */
static void wait_back(metakv *kv)
{
    uint64_t end = now_ms() + 15000;
    qv_code rc;
    qv_err err = {0};
    do {
        metakv_kvs out = METAKV_KVS_INIT;
        rc = metakv_range(kv, S("acked/"), NULL, &out, &err);
        metakv_kvs_release(&out);
    } while (rc != QV_OK && now_ms() < end);
    cr_assert_eq(rc, QV_OK, "not back after restart: %s", err.msg);
}

static void stop_and_restart(bool crash)
{
    metakv *kv;
    qv_err err = {0};
    cr_assert_eq(qv_etcd_server_start(&srv, NULL, &err), QV_OK, "%s", err.msg);
    kv = open_etcd(srv.endpoint, NULL, NULL);
    int acked = 0;
    for (int i = 0; i < 50; i++) {
        char k[32];
        int n = snprintf(k, sizeof k, "acked/%03d", i);
        if (metakv_put(kv, k, (size_t)n, k, (size_t)n, 0, NULL, &err) == QV_OK)
            acked++;
    }
    cr_assert_eq(acked, 50);
    if (crash)
        qv_etcd_server_kill(&srv);
    else
        cr_assert_eq(qv_etcd_server_stop(&srv, &err), QV_OK, "%s", err.msg);

    uint64_t t0 = now_ms();
    metakv_kvs out = METAKV_KVS_INIT;
    assert_down(metakv_get(kv, S("acked/000"), &out, &err), &err, t0, "get");
    t0 = now_ms();
    assert_down(metakv_put(kv, S("x"), S("y"), 0, NULL, &err), &err, t0, "put");
    t0 = now_ms();
    metakv_txn *t = metakv_txn_begin(kv);
    metakv_txn_put(t, METAKV_THEN, S("x"), S("y"), 0);
    assert_down(metakv_txn_commit(t, NULL, NULL, &err), &err, t0, "txn");
    t0 = now_ms();
    int64_t id;
    assert_down(metakv_lease_grant(kv, 5, &id, &err), &err, t0, "lease grant");
    t0 = now_ms();
    assert_down(metakv_range(kv, S("acked/"), NULL, &out, &err), &err, t0,
                "range");

    cr_assert_eq(qv_etcd_server_restart(&srv, &err), QV_OK, "%s", err.msg);
    wait_back(kv);
    cr_assert_eq(metakv_range(kv, S("acked/"), NULL, &out, &err), QV_OK);
    cr_assert_eq(out.n, 50, "acknowledged writes lost: %zu of 50", out.n);
    for (size_t i = 0; i < out.n; i++)
        cr_assert_eq(memcmp(out.kvs[i].key, out.kvs[i].value, 9), 0);
    t = metakv_txn_begin(kv);
    metakv_txn_cmp_num(t, S("new"), METAKV_CMP_VERSION, METAKV_EQ, 0);
    metakv_txn_put(t, METAKV_THEN, S("new"), S("1"), 0);
    bool ok = false;
    cr_assert_eq(metakv_txn_commit(t, &ok, NULL, &err), QV_OK, "%s", err.msg);
    cr_assert(ok);
    metakv_kvs_release(&out);
    metakv_close(kv);
}

Test(metakv_etcd_failure, stopped_etcd_fails_clearly_and_recovers)
{
    stop_and_restart(false);
}

Test(metakv_etcd_failure, killed_etcd_keeps_acknowledged_writes)
{
    stop_and_restart(true);
}

Test(metakv_etcd_failure, watch_survives_an_etcd_restart)
{
    qv_err err = {0};
    cr_assert_eq(qv_etcd_server_start(&srv, NULL, &err), QV_OK, "%s", err.msg);
    metakv *kv = open_etcd(srv.endpoint, NULL, NULL);
    metakv_watch *w = NULL;
    cr_assert_eq(metakv_watch_open(kv, S("w/"), 0, &w, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_eq(metakv_put(kv, S("w/a"), S("1"), 0, NULL, &err), QV_OK);
    cr_assert_eq(metakv_put(kv, S("w/b"), S("2"), 0, NULL, &err), QV_OK);
    metakv_events ev = METAKV_EVENTS_INIT;
    for (int i = 0; i < 50 && ev.n < 2; i++)
        cr_assert_eq(metakv_watch_next(w, 100, &ev, &err), QV_OK, "%s",
                     err.msg);
    cr_assert_eq(ev.n, 2);
    metakv_events_release(&ev);

    cr_assert_eq(qv_etcd_server_stop(&srv, &err), QV_OK, "%s", err.msg);
    uint64_t t0 = now_ms();
    qv_code rc = metakv_watch_next(w, 500, &ev, &err);
    cr_assert(rc == QV_OK || rc == QV_E_UNAVAILABLE || rc == QV_E_TIMEOUT, "%s",
              err.msg);
    cr_assert_lt(now_ms() - t0, 3000);
    cr_assert_eq(ev.n, 0);
    if (rc != QV_OK)
        cr_assert(strstr(err.msg, "watch") != NULL, "%s", err.msg);

    cr_assert_eq(qv_etcd_server_restart(&srv, &err), QV_OK, "%s", err.msg);
    /* Changes made before the watcher notices the restart still arrive,
     * exactly once and in order. */
    uint64_t end = now_ms() + 15000;
    while (metakv_put(kv, S("w/c"), S("3"), 0, NULL, &err) != QV_OK &&
           now_ms() < end)
        ;
    cr_assert_eq(metakv_put(kv, S("w/d"), S("4"), 0, NULL, &err), QV_OK, "%s",
                 err.msg);
    int64_t d;
    cr_assert_eq(metakv_delete(kv, S("w/a"), false, &d, &err), QV_OK);
    end = now_ms() + 15000;
    while (ev.n < 3 && now_ms() < end) {
        rc = metakv_watch_next(w, 200, &ev, &err);
        cr_assert(rc == QV_OK || rc == QV_E_UNAVAILABLE, "%s", err.msg);
    }
    cr_assert_eq(ev.n, 3, "events after restart: %zu", ev.n);
    cr_assert_str_eq((char *)ev.ev[0].kv.value, "3");
    cr_assert_str_eq((char *)ev.ev[1].kv.value, "4");
    cr_assert_eq(ev.ev[2].type, METAKV_EV_DELETE);
    cr_assert_eq(ev.ev[0].kv.mod_rev + 1, ev.ev[1].kv.mod_rev);
    metakv_events_release(&ev);
    cr_assert_eq(metakv_watch_next(w, 200, &ev, &err), QV_OK);
    cr_assert_eq(ev.n, 0, "no event is repeated");
    metakv_watch_close(w);
    metakv_close(kv);
}

Test(metakv_etcd_failure, dead_endpoint_fails_over_to_a_live_one)
{
    qv_err err = {0};
    cr_assert_eq(qv_etcd_server_start(&srv, NULL, &err), QV_OK, "%s", err.msg);
    int dead = qv_test_free_port();
    char eps[128];
    snprintf(eps, sizeof eps, "127.0.0.1:%d,%s", dead, srv.endpoint);
    metakv *kv = open_etcd(eps, NULL, NULL);
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(metakv_put(kv, S("fo"), S("v"), 0, NULL, &err), QV_OK,
                     "%s", err.msg);
        metakv_txn *t = metakv_txn_begin(kv);
        metakv_txn_put(t, METAKV_THEN, S("fo2"), S("v"), 0);
        cr_assert_eq(metakv_txn_commit(t, NULL, NULL, &err), QV_OK, "%s",
                     err.msg);
    }
    metakv_close(kv);
    /* Only dead endpoints: open fails clearly within the timeout. */
    snprintf(eps, sizeof eps, "127.0.0.1:%d", dead);
    metakv_config cfg = {.endpoints = eps, .timeout_ms = TIMEOUT_MS};
    uint64_t t0 = now_ms();
    cr_assert_eq(metakv_open("etcd", &cfg, &kv, &err), QV_E_UNAVAILABLE, "%s",
                 err.msg);
    cr_assert(strstr(err.msg, eps) != NULL, "%s", err.msg);
    cr_assert_lt(now_ms() - t0, TIMEOUT_MS + 2000);
}

Test(metakv_etcd_failure, auth_needs_the_password_and_renews_its_token)
{
    qv_err err = {0};
    qv_etcd_server_opts o = {.user = "root", .password = "s3cret"};
    cr_assert_eq(qv_etcd_server_start(&srv, &o, &err), QV_OK, "%s", err.msg);
    metakv_config cfg = {.endpoints = srv.endpoint,
                         .timeout_ms = TIMEOUT_MS,
                         .username = "root",
                         .password = "wrong"};
    metakv *kv = NULL;
    cr_assert_eq(metakv_open("etcd", &cfg, &kv, &err), QV_E_PERMISSION, "%s",
                 err.msg);
    cfg.username = NULL;
    cr_assert_eq(metakv_open("etcd", &cfg, &kv, &err), QV_E_PERMISSION, "%s",
                 err.msg);
    kv = open_etcd(srv.endpoint, "root", "s3cret");
    cr_assert_eq(metakv_put(kv, S("sec"), S("1"), 0, NULL, &err), QV_OK, "%s",
                 err.msg);
    /* etcd forgets simple tokens on restart: the client re-authenticates. */
    cr_assert_eq(qv_etcd_server_restart(&srv, &err), QV_OK, "%s", err.msg);
    uint64_t end = now_ms() + 15000;
    qv_code rc;
    do {
        rc = metakv_put(kv, S("sec"), S("2"), 0, NULL, &err);
    } while (rc != QV_OK && now_ms() < end);
    cr_assert_eq(rc, QV_OK, "%s", err.msg);
    metakv_watch *w = NULL;
    cr_assert_eq(metakv_watch_open(kv, S("sec"), 1, &w, &err), QV_OK, "%s",
                 err.msg);
    metakv_events ev = METAKV_EVENTS_INIT;
    for (int i = 0; i < 20 && ev.n < 2; i++)
        cr_assert_eq(metakv_watch_next(w, 100, &ev, &err), QV_OK, "%s",
                     err.msg);
    cr_assert_eq(ev.n, 2);
    metakv_events_release(&ev);
    metakv_watch_close(w);
    metakv_close(kv);
}

/* An idle watch asks etcd for progress (WatchProgressRequest), so
 * compacting history it has no events in does not fail it, even across a
 * restart (etcd's own progress interval is 10 min). */
Test(metakv_etcd_failure, idle_watch_survives_compaction_and_restart)
{
    qv_err err = {0};
    qv_etcd_server_opts o = {0}; /* progress comes from our requests */
    cr_assert_eq(qv_etcd_server_start(&srv, &o, &err), QV_OK, "%s", err.msg);
    metakv *kv = open_etcd(srv.endpoint, NULL, NULL);
    metakv_watch *w = NULL;
    cr_assert_eq(metakv_watch_open(kv, S("idle/"), 0, &w, &err), QV_OK);
    int64_t start = metakv_watch_next_rev(w), rev = 0;
    for (int i = 0; i < 10; i++)
        cr_assert_eq(metakv_put(kv, S("busy"), S("x"), 0, &rev, &err), QV_OK);
    metakv_events ev = METAKV_EVENTS_INIT;
    uint64_t end = now_ms() + 5000;
    while (metakv_watch_next_rev(w) <= rev && now_ms() < end)
        cr_assert_eq(metakv_watch_next(w, 100, &ev, &err), QV_OK, "%s",
                     err.msg);
    cr_assert_eq(ev.n, 0);
    cr_assert_gt(metakv_watch_next_rev(w), rev, "start %lld", (long long)start);
    cr_assert_eq(metakv_compact(kv, rev, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_etcd_server_restart(&srv, &err), QV_OK, "%s", err.msg);
    end = now_ms() + 15000;
    while (metakv_put(kv, S("idle/k"), S("v"), 0, NULL, &err) != QV_OK &&
           now_ms() < end)
        ;
    end = now_ms() + 10000;
    while (ev.n == 0 && now_ms() < end) {
        qv_code rc = metakv_watch_next(w, 200, &ev, &err);
        cr_assert(rc == QV_OK || rc == QV_E_UNAVAILABLE, "%s: %s",
                  qv_code_name(rc), err.msg);
    }
    cr_assert_eq(ev.n, 1);
    cr_assert_str_eq((char *)ev.ev[0].kv.value, "v");
    metakv_events_release(&ev);
    metakv_watch_close(w);
    metakv_close(kv);
}

/* TLS: the server's certificate must verify; auth works over it. */
Test(metakv_etcd_failure, tls_with_the_right_ca_only)
{
    qv_err err = {0};
    qv_etcd_server_opts o = {.user = "root", .password = "pw", .tls = true};
    cr_assert_eq(qv_etcd_server_start(&srv, &o, &err), QV_OK, "%s", err.msg);
    metakv_config cfg = {.endpoints = srv.endpoint,
                         .timeout_ms = TIMEOUT_MS,
                         .username = "root",
                         .password = "pw",
                         .tls = true,
                         .ca_file = srv.ca_file};
    metakv *kv = NULL;
    cr_assert_eq(metakv_open("etcd", &cfg, &kv, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(metakv_put(kv, S("t/k"), S("v"), 0, NULL, &err), QV_OK, "%s",
                 err.msg);
    metakv_watch *w = NULL;
    cr_assert_eq(metakv_watch_open(kv, S("t/"), 1, &w, &err), QV_OK, "%s",
                 err.msg);
    metakv_events ev = METAKV_EVENTS_INIT;
    for (int i = 0; i < 20 && ev.n == 0; i++)
        cr_assert_eq(metakv_watch_next(w, 100, &ev, &err), QV_OK, "%s",
                     err.msg);
    cr_assert_eq(ev.n, 1);
    metakv_events_release(&ev);
    metakv_watch_close(w);
    metakv_close(kv);

    /* "https://" selects TLS too. */
    char url[96];
    snprintf(url, sizeof url, "https://%s", srv.endpoint);
    cfg.endpoints = url;
    cfg.tls = false;
    cr_assert_eq(metakv_open("etcd", &cfg, &kv, &err), QV_OK, "%s", err.msg);
    metakv_close(kv);

    /* Plaintext to a TLS server, or a CA that did not sign it: clear,
     * bounded failures. */
    cfg.endpoints = srv.endpoint;
    uint64_t t0 = now_ms();
    cr_assert_neq(metakv_open("etcd", &cfg, &kv, &err), QV_OK);
    cr_assert(strstr(err.msg, srv.endpoint) != NULL, "%s", err.msg);
    cr_assert_lt(now_ms() - t0, TIMEOUT_MS + 2000);
    cfg.tls = true;
    cfg.ca_file = NULL; /* system roots do not know the test CA */
    t0 = now_ms();
    cr_assert_neq(metakv_open("etcd", &cfg, &kv, &err), QV_OK);
    cr_assert(strstr(err.msg, srv.endpoint) != NULL, "%s", err.msg);
    cr_assert_lt(now_ms() - t0, TIMEOUT_MS + 2000);
    cfg.ca_file = "/nonexistent/ca.pem";
    cr_assert_eq(metakv_open("etcd", &cfg, &kv, &err), QV_E_IO, "%s", err.msg);
    cr_assert(strstr(err.msg, "/nonexistent/ca.pem") != NULL, "%s", err.msg);
}

/* Waits (bounded) until every thread of pid is stopped by SIGSTOP: the
 * signal is asynchronous, and a request already in flight may still be
 * answered. */
static void wait_stopped(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    for (int tries = 0; tries < 200; tries++) {
        DIR *d = opendir(path);
        bool all = d != NULL;
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char st[384], buf[256];
            snprintf(st, sizeof st, "%s/%s/stat", path, e->d_name);
            FILE *f = fopen(st, "r");
            size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
            if (f)
                fclose(f);
            buf[n] = '\0';
            char *rp = strrchr(buf, ')');
            if (!rp || (rp[2] != 'T' && rp[2] != 't'))
                all = false;
        }
        if (d)
            closedir(d);
        if (all)
            return;
        qv_sleep_ms(5);
    }
    cr_assert_fail("etcd did not stop");
}

/* A frozen etcd (SIGSTOP: connections stay open, nothing answers) must not
 * hang callers: calls time out, watches return after their wait, and all
 * works again once it runs (SIGCONT). */
Test(metakv_etcd_failure, frozen_etcd_times_out_without_hanging)
{
    qv_err err = {0};
    cr_assert_eq(qv_etcd_server_start(&srv, NULL, &err), QV_OK, "%s", err.msg);
    metakv *kv = open_etcd(srv.endpoint, NULL, NULL);
    metakv_watch *w = NULL;
    cr_assert_eq(metakv_watch_open(kv, S("fz/"), 0, &w, &err), QV_OK);
    cr_assert_eq(metakv_put(kv, S("fz/a"), S("1"), 0, NULL, &err), QV_OK);
    qv_proc_signal(&srv.proc, SIGSTOP);
    wait_stopped(srv.proc.pid);
    uint64_t t0 = now_ms();
    assert_down(metakv_put(kv, S("fz/b"), S("2"), 0, NULL, &err), &err, t0,
                "put");
    t0 = now_ms();
    metakv_txn *t = metakv_txn_begin(kv);
    metakv_txn_put(t, METAKV_THEN, S("fz/c"), S("3"), 0);
    assert_down(metakv_txn_commit(t, NULL, NULL, &err), &err, t0, "txn");
    t0 = now_ms();
    assert_down(metakv_lease_keepalive(kv, 12345, NULL, &err), &err, t0,
                "lease keepalive");
    metakv_events ev = METAKV_EVENTS_INIT;
    t0 = now_ms();
    qv_code rc = metakv_watch_next(w, 300, &ev, &err);
    cr_assert(rc == QV_OK || rc == QV_E_UNAVAILABLE || rc == QV_E_TIMEOUT, "%s",
              err.msg);
    cr_assert_lt(now_ms() - t0, 2500);
    qv_proc_signal(&srv.proc, SIGCONT);
    uint64_t end = now_ms() + 15000;
    while (metakv_put(kv, S("fz/d"), S("4"), 0, NULL, &err) != QV_OK &&
           now_ms() < end)
        ;
    end = now_ms() + 10000;
    while (now_ms() < end &&
           (ev.n == 0 || !(ev.ev[ev.n - 1].kv.value[0] == '4')))
        rc = metakv_watch_next(w, 200, &ev, &err);
    cr_assert_geq(ev.n, 2);
    cr_assert_str_eq((char *)ev.ev[0].kv.value, "1");
    cr_assert_str_eq((char *)ev.ev[ev.n - 1].kv.value, "4");
    metakv_events_release(&ev);
    metakv_watch_close(w);
    metakv_close(kv);
}

/* A 3-member etcd cluster: losing the member the client talks to (and
 * later another one) costs no acknowledged write and no watch event. */
Test(metakv_etcd_failure, cluster_member_loss_fails_over)
{
    static qv_etcd_server m[3];
    qv_err err = {0};
    cr_assert_eq(qv_etcd_cluster_start(m, 3, &err), QV_OK, "%s", err.msg);
    char *eps = qv_etcd_cluster_endpoints(m, 3);
    metakv *kv = open_etcd(eps, NULL, NULL);
    metakv_watch *w = NULL;
    cr_assert_eq(metakv_watch_open(kv, S("cl/"), 0, &w, &err), QV_OK);
    int acked = 0;
    char k[32];
    for (int round = 0; round < 3; round++) {
        if (round == 1)
            qv_etcd_server_kill(&m[0]); /* the first endpoint */
        if (round == 2) {
            cr_assert_eq(qv_etcd_server_restart(&m[0], &err), QV_OK, "%s",
                         err.msg);
            cr_assert_eq(qv_etcd_server_stop(&m[1], &err), QV_OK);
        }
        for (int i = 0; i < 20; i++) {
            int n = snprintf(k, sizeof k, "cl/%03d", acked);
            uint64_t end = now_ms() + 10000;
            qv_code rc;
            do {
                rc = metakv_put(kv, k, (size_t)n, k, (size_t)n, 0, NULL, &err);
            } while (rc != QV_OK && now_ms() < end);
            cr_assert_eq(rc, QV_OK, "round %d: %s", round, err.msg);
            acked++;
        }
        metakv_txn *t = metakv_txn_begin(kv);
        metakv_txn_cmp_num(t, k, strlen(k), METAKV_CMP_VERSION, METAKV_EQ, 1);
        metakv_txn_put(t, METAKV_THEN, S("cl-txn"), S("ok"), 0);
        bool ok = false;
        cr_assert_eq(metakv_txn_commit(t, &ok, NULL, &err), QV_OK, "%s",
                     err.msg);
        cr_assert(ok);
    }
    metakv_kvs out = METAKV_KVS_INIT;
    cr_assert_eq(metakv_range(kv, S("cl/"), NULL, &out, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_eq((int)out.n, acked);
    metakv_kvs_release(&out);
    metakv_events ev = METAKV_EVENTS_INIT;
    uint64_t end = now_ms() + 15000;
    while ((int)ev.n < acked && now_ms() < end) {
        qv_code rc = metakv_watch_next(w, 200, &ev, &err);
        cr_assert(rc == QV_OK || rc == QV_E_UNAVAILABLE, "%s", err.msg);
    }
    cr_assert_eq((int)ev.n, acked, "watch events %zu of %d", ev.n, acked);
    for (size_t i = 0; i < ev.n; i++) {
        char want[32];
        snprintf(want, sizeof want, "cl/%03zu", i);
        cr_assert_str_eq((char *)ev.ev[i].kv.value, want);
    }
    metakv_events_release(&ev);
    metakv_watch_close(w);
    metakv_close(kv);
    free(eps);
    qv_etcd_cluster_destroy(m, 3);
}

/* A user allowed only under "app/" can open the store, read, write, run
 * txns and watch there; elsewhere it gets a clear permission error. */
Test(metakv_etcd_failure, restricted_user_works_inside_its_prefix)
{
    qv_err err = {0};
    qv_etcd_server_opts o = {
        .user = "app", .password = "pw", .user_prefix = "app/"};
    cr_assert_eq(qv_etcd_server_start(&srv, &o, &err), QV_OK, "%s", err.msg);
    metakv *kv = open_etcd(srv.endpoint, "app", "pw");
    cr_assert_eq(metakv_put(kv, S("app/a"), S("1"), 0, NULL, &err), QV_OK, "%s",
                 err.msg);
    cr_assert_eq(metakv_put(kv, S("other"), S("1"), 0, NULL, &err),
                 QV_E_PERMISSION);
    cr_assert(strstr(err.msg, "permission") != NULL, "%s", err.msg);
    metakv_watch *w = NULL;
    cr_assert_eq(metakv_watch_open(kv, S("app/"), 0, &w, &err), QV_OK, "%s",
                 err.msg);
    metakv_txn *t = metakv_txn_begin(kv);
    metakv_txn_cmp_value(t, S("app/a"), METAKV_EQ, S("1"));
    metakv_txn_put(t, METAKV_THEN, S("app/b"), S("2"), 0);
    bool ok = false;
    cr_assert_eq(metakv_txn_commit(t, &ok, NULL, &err), QV_OK, "%s", err.msg);
    cr_assert(ok);
    metakv_events ev = METAKV_EVENTS_INIT;
    for (int i = 0; i < 20 && ev.n == 0; i++)
        cr_assert_eq(metakv_watch_next(w, 100, &ev, &err), QV_OK, "%s",
                     err.msg);
    cr_assert_eq(ev.n, 1);
    cr_assert_str_eq((char *)ev.ev[0].kv.value, "2");
    metakv_events_release(&ev);
    metakv_watch_close(w);
    metakv_close(kv);
}
