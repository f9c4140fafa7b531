/* test_rpc_local.c -- in-process calls (rpc_local.c): every case runs over
 * gRPC (shortcut off) and in process (on) and must give the same results;
 * the peer the handler saw proves which path ran. */
#include <criterion/criterion.h>
#include <grpc/status.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "echo_service.h"
#include "proto/pb_arena.h"

static bool is_local_peer(const char *peer)
{
    return strcmp(peer, "local") == 0;
}

/* A Say call; returns rc and fills *r (arena) on success. */
static qv_code say(qv_rpc_channel *ch, Qvtest__EchoRequest *rq, qv_arena *a,
                   const qv_rpc_call_opts *o, Qvtest__EchoReply **r,
                   qv_err *err)
{
    ProtobufCMessage *m = NULL;
    qv_code rc = qv_rpc_unary(ch, ECHO_SAY, &rq->base,
                              &qvtest__echo_reply__descriptor, a, &m, o, err);
    *r = (Qvtest__EchoReply *)m;
    return rc;
}

static void echo_reply_and_metadata(bool local, const char *host)
{
    qv_rpc_local_enable(local);
    echo_server e;
    echo_start(&e, NULL);
    char target[80];
    (void)snprintf(target, sizeof target, "%s:%d", host, e.port);
    qv_rpc_channel *ch;
    qv_err err;
    cr_assert_eq(qv_rpc_channel_open(target, &ch, &err), QV_OK, "%s", err.msg);
    qv_arena a;
    qv_arena_init(&a, 0);
    uint8_t payload[3000];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 7);
    Qvtest__EchoRequest rq = QVTEST__ECHO_REQUEST__INIT;
    rq.text = (char *)"hello";
    rq.md_key = (char *)"dbname";
    rq.payload = (ProtobufCBinaryData){sizeof payload, payload};
    qv_rpc_md md[] = {{"dbname", "db7"}, {"other", "x"}};
    int st = -1;
    qv_rpc_call_opts o = {
        .timeout_ms = 4000, .md = md, .n_md = 2, .status_out = &st};
    Qvtest__EchoReply *r;
    cr_assert_eq(say(ch, &rq, &a, &o, &r, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(st, GRPC_STATUS_OK);
    cr_assert_str_eq(r->text, "echo:hello");
    cr_assert_str_eq(r->md_value, "db7");
    cr_assert_eq(r->payload.len, sizeof payload);
    cr_assert_eq(memcmp(r->payload.data, payload, sizeof payload), 0);
    /* a copy, never the caller's bytes */
    cr_assert_neq(r->payload.data, payload);
    cr_assert(r->ms_left > 3000 && r->ms_left <= 4000, "%lld",
              (long long)r->ms_left);
    cr_assert_eq(is_local_peer(r->peer), local, "peer %s", r->peer);
    /* absent metadata */
    rq.md_key = (char *)"authorization";
    cr_assert_eq(say(ch, &rq, &a, NULL, &r, &err), QV_OK, "%s", err.msg);
    cr_assert_str_eq(r->md_value, "<absent>");
    qv_arena_release(&a);
    qv_rpc_channel_close(ch);
    echo_stop(&e);
    cr_assert_eq(atomic_load(&e.stats.calls_done), 2);
    cr_assert_eq(atomic_load(&e.stats.by_status[GRPC_STATUS_OK]), 2);
    qv_rpc_local_enable(false);
}

Test(rpc_local, reply_metadata_deadline_over_grpc)
{
    echo_reply_and_metadata(false, "127.0.0.1");
}

Test(rpc_local, reply_metadata_deadline_in_process)
{
    echo_reply_and_metadata(true, "127.0.0.1");
}

Test(rpc_local, loopback_names_and_ipv4_prefix_match)
{
    echo_reply_and_metadata(true, "localhost");
    echo_reply_and_metadata(true, "ipv4:127.0.0.1");
}

/* Errors: the same code, status and message text on both paths. */
static void errors(bool local, char msgs[3][256])
{
    qv_rpc_local_enable(local);
    echo_server e;
    echo_start(&e, NULL);
    qv_rpc_channel *ch;
    qv_err err;
    cr_assert_eq(qv_rpc_channel_open(e.target, &ch, &err), QV_OK);
    qv_arena a;
    qv_arena_init(&a, 0);
    Qvtest__EchoRequest rq = QVTEST__ECHO_REQUEST__INIT;
    rq.text = (char *)"t1";
    Qvtest__EchoReply *r = NULL;
    int st = -1;
    qv_rpc_call_opts o = {.timeout_ms = 4000, .status_out = &st};
    /* a handler error */
    rq.fail_code = QV_E_NOT_FOUND;
    cr_assert_eq(say(ch, &rq, &a, &o, &r, &err), QV_E_NOT_FOUND, "%s", err.msg);
    cr_assert_eq(st, GRPC_STATUS_NOT_FOUND);
    cr_assert(strstr(err.msg, "thing 't1' failed"), "%s", err.msg);
    cr_assert(strstr(err.msg, e.target), "%s", err.msg);
    (void)snprintf(msgs[0], 256, "%s", err.msg);
    /* the handler runs out of time: DEADLINE_EXCEEDED / QV_E_TIMEOUT */
    rq.fail_code = 0;
    rq.sleep_ms = 3000;
    o.timeout_ms = 300;
    int64_t t0 = test_now_ms();
    cr_assert_eq(say(ch, &rq, &a, &o, &r, &err), QV_E_TIMEOUT, "%s", err.msg);
    cr_assert_eq(st, GRPC_STATUS_DEADLINE_EXCEEDED);
    int64_t took = test_now_ms() - t0;
    cr_assert(took >= 250 && took < 2500, "took %lld ms", (long long)took);
    (void)snprintf(msgs[1], 256, "%s", "timeout");
    /* a method the server does not have: UNIMPLEMENTED over gRPC (the
     * shortcut only takes registered methods) */
    rq.sleep_ms = 0;
    o.timeout_ms = 4000;
    ProtobufCMessage *m = NULL;
    cr_assert_neq(qv_rpc_unary(ch, "/qvtest.Echo/Nope", &rq.base,
                               &qvtest__echo_reply__descriptor, &a, &m, &o,
                               &err),
                  QV_OK);
    cr_assert_eq(st, GRPC_STATUS_UNIMPLEMENTED);
    (void)snprintf(msgs[2], 256, "%s", err.msg);
    qv_arena_release(&a);
    qv_rpc_channel_close(ch);
    /* the server saw the expired handler stop early on both paths */
    int64_t until = test_now_ms() + 5000;
    while (atomic_load(&e.stats.handler_saw_expiry) < 1 &&
           test_now_ms() < until)
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    cr_assert_eq(atomic_load(&e.stats.handler_saw_expiry), 1);
    echo_stop(&e);
    cr_assert_eq(atomic_load(&e.stats.by_status[GRPC_STATUS_NOT_FOUND]), 1);
    cr_assert_eq(atomic_load(&e.stats.by_status[GRPC_STATUS_DEADLINE_EXCEEDED]),
                 1);
    qv_rpc_local_enable(false);
}

Test(rpc_local, errors_are_the_same_on_both_paths)
{
    char g[3][256], l[3][256];
    errors(false, g);
    errors(true, l);
    /* the target differs (each run has its own port): compare the tails */
    const char *tg = strstr(g[0], "NOT_FOUND"), *tl = strstr(l[0], "NOT_FOUND");
    cr_assert(tg && tl, "%s | %s", g[0], l[0]);
    cr_assert_str_eq(tg, tl);
    cr_assert(strstr(l[2], "UNIMPLEMENTED"), "%s", l[2]);
}

Test(rpc_local, tls_channels_and_streams_keep_grpc)
{
    qv_rpc_local_enable(true);
    echo_server e;
    echo_start(&e, NULL);
    qv_rpc_channel *ch;
    qv_err err;
    cr_assert_eq(qv_rpc_channel_open(e.target, &ch, &err), QV_OK);
    Qvtest__EchoRequest rq = QVTEST__ECHO_REQUEST__INIT;
    rq.text = (char *)"s";
    rq.count = 2;
    qv_rpc_stream *s;
    cr_assert_eq(qv_rpc_stream_open(ch, ECHO_STREAM, &rq.base, NULL, &s, &err),
                 QV_OK, "%s", err.msg);
    qv_arena a;
    qv_arena_init(&a, 0);
    int got = 0;
    for (;;) {
        ProtobufCMessage *m = NULL;
        cr_assert_eq(qv_rpc_stream_recv(s, &qvtest__echo_reply__descriptor, &a,
                                        &m, -1, &err),
                     QV_OK, "%s", err.msg);
        if (!m)
            break;
        cr_assert_not(is_local_peer(((Qvtest__EchoReply *)m)->peer));
        got++;
    }
    cr_assert_eq(got, 2);
    qv_rpc_stream_close(s);
    qv_arena_release(&a);
    qv_rpc_channel_close(ch);
    echo_stop(&e);
    qv_rpc_local_enable(false);
}

/* After shutdown the shortcut no longer finds the server: the call goes
 * to gRPC and fails as unreachable. */
Test(rpc_local, stopped_server_is_unreachable)
{
    qv_rpc_local_enable(true);
    echo_server e;
    echo_start(&e, NULL);
    char target[64];
    (void)snprintf(target, sizeof target, "%s", e.target);
    echo_stop(&e);
    qv_rpc_channel *ch;
    qv_err err;
    cr_assert_eq(qv_rpc_channel_open(target, &ch, &err), QV_OK);
    Qvtest__EchoRequest rq = QVTEST__ECHO_REQUEST__INIT;
    rq.text = (char *)"x";
    Qvtest__EchoReply *r;
    qv_rpc_call_opts o = {.timeout_ms = 2000, .flags = QV_RPC_FAIL_FAST};
    cr_assert_eq(say(ch, &rq, NULL, &o, &r, &err), QV_E_UNAVAILABLE, "%s",
                 err.msg);
    qv_rpc_channel_close(ch);
    qv_rpc_local_enable(false);
}

typedef struct runner {
    const char *target;
    int n_ok;
    qv_code last;
} runner;

static void *hammer(void *arg)
{
    runner *r = arg;
    qv_rpc_channel *ch;
    qv_err err;
    if (qv_rpc_channel_open(r->target, &ch, &err) != QV_OK)
        return NULL;
    for (int i = 0; i < 200; i++) {
        qv_arena a;
        qv_arena_init(&a, 0);
        char text[32];
        (void)snprintf(text, sizeof text, "m%d", i);
        Qvtest__EchoRequest rq = QVTEST__ECHO_REQUEST__INIT;
        rq.text = text;
        Qvtest__EchoReply *rep;
        r->last = say(ch, &rq, &a, NULL, &rep, &err);
        char want[40];
        (void)snprintf(want, sizeof want, "echo:%s", text);
        if (r->last == QV_OK && strcmp(rep->text, want) == 0 &&
            is_local_peer(rep->peer))
            r->n_ok++;
        qv_arena_release(&a);
    }
    qv_rpc_channel_close(ch);
    return NULL;
}

Test(rpc_local, many_threads_at_once)
{
    qv_rpc_local_enable(true);
    echo_server e;
    echo_start(&e, NULL);
    pthread_t th[4];
    runner rs[4];
    for (int i = 0; i < 4; i++) {
        rs[i] = (runner){.target = e.target};
        pthread_create(&th[i], NULL, hammer, &rs[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(rs[i].n_ok, 200, "thread %d: %d ok, last %d", i,
                     rs[i].n_ok, rs[i].last);
    }
    echo_stop(&e);
    cr_assert_eq(atomic_load(&e.stats.by_status[GRPC_STATUS_OK]), 800);
    qv_rpc_local_enable(false);
}

typedef struct slow_call {
    const char *target;
    qv_code rc;
    char text[64];
} slow_call;

static void *slow_main(void *arg)
{
    slow_call *c = arg;
    qv_rpc_channel *ch;
    qv_err err;
    if (qv_rpc_channel_open(c->target, &ch, &err) != QV_OK)
        return NULL;
    qv_arena a;
    qv_arena_init(&a, 0);
    Qvtest__EchoRequest rq = QVTEST__ECHO_REQUEST__INIT;
    rq.text = (char *)"slow";
    rq.sleep_ms = 400;
    Qvtest__EchoReply *r;
    c->rc = say(ch, &rq, &a, NULL, &r, &err);
    if (c->rc == QV_OK)
        (void)snprintf(c->text, sizeof c->text, "%s", r->text);
    qv_arena_release(&a);
    qv_rpc_channel_close(ch);
    return NULL;
}

/* Shutdown waits for a running in-process call (inside the grace period),
 * which completes normally. */
Test(rpc_local, shutdown_waits_for_running_local_calls)
{
    qv_rpc_local_enable(true);
    echo_server e;
    echo_start(&e, NULL);
    slow_call c = {.target = e.target, .rc = QV_E_INTERNAL};
    pthread_t th;
    pthread_create(&th, NULL, slow_main, &c);
    nanosleep(&(struct timespec){0, 100000000}, NULL);
    int64_t t0 = test_now_ms();
    echo_stop(&e);
    int64_t took = test_now_ms() - t0;
    pthread_join(th, NULL);
    cr_assert_eq(c.rc, QV_OK);
    cr_assert_str_eq(c.text, "echo:slow");
    cr_assert(took >= 200, "shutdown took %lld ms", (long long)took);
    qv_rpc_local_enable(false);
}
