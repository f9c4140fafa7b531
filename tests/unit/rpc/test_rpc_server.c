/* test_rpc_server.c -- the RPC server against the RPC client: unary and
 * streaming calls, metadata, deadlines, unknown methods, big messages,
 * errors, graceful shutdown and a busy port. */
#include <criterion/criterion.h>
#include <grpc/status.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "echo_service.h"

static qv_code say(const char *target, const Qvtest__EchoRequest *rq,
                   const qv_rpc_call_opts *o, qv_arena *a,
                   Qvtest__EchoReply **out, qv_err *err)
{
    qv_rpc_channel *ch;
    qv_code rc = qv_rpc_channel_open(target, &ch, err);
    cr_assert_eq(rc, QV_OK);
    ProtobufCMessage *m = NULL;
    rc = qv_rpc_unary(ch, ECHO_SAY, &rq->base, &qvtest__echo_reply__descriptor,
                      a, &m, o, err);
    qv_rpc_channel_close(ch);
    if (rc == QV_OK)
        *out = (Qvtest__EchoReply *)m;
    return rc;
}

Test(rpc_server, unary_round_trip_with_metadata_peer_and_deadline)
{
    echo_server e;
    echo_start(&e, NULL);
    qv_arena a;
    qv_arena_init(&a, 4096);
    Qvtest__EchoRequest rq = QVTEST__ECHO_REQUEST__INIT;
    rq.text = (char *)"hello";
    rq.md_key = (char *)"dbname";
    qv_rpc_md md[] = {{"dbname", "db1"}, {"authorization", "cm9vdDpNaWx2dXM="}};
    qv_rpc_call_opts o = {.timeout_ms = 3000, .md = md, .n_md = 2};
    Qvtest__EchoReply *r = NULL;
    qv_err err;
    cr_assert_eq(say(e.target, &rq, &o, &a, &r, &err), QV_OK, "%s", err.msg);
    cr_assert_str_eq(r->text, "echo:hello");
    cr_assert_str_eq(r->md_value, "db1");
    cr_assert(strstr(r->peer, "127.0.0.1") != NULL, "peer %s", r->peer);
    cr_assert(r->ms_left > 0 && r->ms_left <= 3000, "ms_left %lld",
              (long long)r->ms_left);

    rq.md_key = (char *)"authorization";
    cr_assert_eq(say(e.target, &rq, &o, &a, &r, &err), QV_OK);
    cr_assert_str_eq(r->md_value, "cm9vdDpNaWx2dXM=");
    rq.md_key = (char *)"identifier";
    cr_assert_eq(say(e.target, &rq, &o, &a, &r, &err), QV_OK);
    cr_assert_str_eq(r->md_value, "<absent>");

    /* Without a deadline the handler sees "no deadline". */
    qv_rpc_call_opts inf = {.timeout_ms = -1};
    cr_assert_eq(say(e.target, &rq, &inf, &a, &r, &err), QV_OK);
    cr_assert_eq(r->ms_left, INT64_MAX);
    qv_arena_release(&a);
    echo_stop(&e);
    cr_assert_eq(atomic_load(&e.stats.calls_done), 4);
    cr_assert_eq(atomic_load(&e.stats.by_status[GRPC_STATUS_OK]), 4);
}

Test(rpc_server, server_stream_delivers_every_message_then_ends)
{
    echo_server e;
    echo_start(&e, NULL);
    qv_rpc_channel *ch;
    qv_err err;
    cr_assert_eq(qv_rpc_channel_open(e.target, &ch, &err), QV_OK);
    Qvtest__EchoRequest rq = QVTEST__ECHO_REQUEST__INIT;
    rq.text = (char *)"s";
    rq.count = 50;
    qv_rpc_stream *s;
    cr_assert_eq(qv_rpc_stream_open(ch, ECHO_STREAM, &rq.base, NULL, &s, &err),
                 QV_OK, "%s", err.msg);
    qv_arena a;
    qv_arena_init(&a, 4096);
    int got = 0;
    for (;;) {
        ProtobufCMessage *m = NULL;
        qv_code rc = qv_rpc_stream_recv(s, &qvtest__echo_reply__descriptor, &a,
                                        &m, 5000, &err);
        cr_assert_eq(rc, QV_OK, "%s", err.msg);
        if (!m)
            break;
        Qvtest__EchoReply *r = (Qvtest__EchoReply *)m;
        cr_assert_eq(r->seq, got);
        cr_assert_str_eq(r->text, "echo:s");
        got++;
        cr_assert_leq(got, 50);
    }
    cr_assert_eq(got, 50);
    qv_rpc_stream_close(s);
    qv_arena_release(&a);
    qv_rpc_channel_close(ch);
    echo_stop(&e);
}

Test(rpc_server, stream_failure_after_messages_reports_the_status)
{
    echo_server e;
    echo_start(&e, NULL);
    qv_rpc_channel *ch;
    qv_err err;
    cr_assert_eq(qv_rpc_channel_open(e.target, &ch, &err), QV_OK);
    Qvtest__EchoRequest rq = QVTEST__ECHO_REQUEST__INIT;
    rq.text = (char *)"x";
    rq.count = 2;
    rq.fail_code = QV_E_NOT_FOUND;
    qv_rpc_stream *s;
    cr_assert_eq(qv_rpc_stream_open(ch, ECHO_STREAM, &rq.base, NULL, &s, &err),
                 QV_OK);
    ProtobufCMessage *m = NULL;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(qv_rpc_stream_recv(s, &qvtest__echo_reply__descriptor,
                                        NULL, &m, 5000, &err),
                     QV_OK);
        cr_assert_not_null(m);
        protobuf_c_message_free_unpacked(m, NULL);
    }
    m = NULL;
    qv_code rc = qv_rpc_stream_recv(s, &qvtest__echo_reply__descriptor, NULL,
                                    &m, 5000, &err);
    cr_assert_eq(rc, QV_E_NOT_FOUND, "%s", err.msg);
    cr_assert_null(m);
    cr_assert(strstr(err.msg, "stream 'x' failed") != NULL, "%s", err.msg);
    qv_rpc_stream_close(s);
    qv_rpc_channel_close(ch);
    echo_stop(&e);
}

Test(rpc_server, deadline_exceeded_is_reported_and_seen_by_the_handler)
{
    echo_server e;
    echo_start(&e, NULL);
    Qvtest__EchoRequest rq = QVTEST__ECHO_REQUEST__INIT;
    rq.text = (char *)"slow";
    rq.sleep_ms = 5000;
    qv_rpc_call_opts o = {.timeout_ms = 200};
    Qvtest__EchoReply *r = NULL;
    qv_err err;
    int64_t t0 = test_now_ms();
    qv_code rc = say(e.target, &rq, &o, NULL, &r, &err);
    int64_t took = test_now_ms() - t0;
    cr_assert_eq(rc, QV_E_TIMEOUT, "%s: %s", qv_code_name(rc), err.msg);
    cr_assert(strstr(err.msg, ECHO_SAY) && strstr(err.msg, e.target), "%s",
              err.msg);
    cr_assert_lt(took, 2000);
    /* The handler noticed the expiry and stopped early. */
    for (int i = 0; i < 200 && !atomic_load(&e.stats.handlers_finished); i++)
        nanosleep(&(struct timespec){0, 10L * 1000000}, NULL);
    cr_assert_eq(atomic_load(&e.stats.handler_saw_expiry), 1);
    echo_stop(&e);
    cr_assert_eq(atomic_load(&e.stats.by_status[GRPC_STATUS_DEADLINE_EXCEEDED]),
                 1);
}

Test(rpc_server, unknown_method_is_unimplemented_at_once)
{
    echo_server e;
    echo_start(&e, NULL);
    qv_rpc_channel *ch;
    qv_err err;
    cr_assert_eq(qv_rpc_channel_open(e.target, &ch, &err), QV_OK);
    Qvtest__EchoRequest rq = QVTEST__ECHO_REQUEST__INIT;
    int st = -1;
    qv_rpc_call_opts o = {.timeout_ms = 5000, .status_out = &st};
    ProtobufCMessage *m = NULL;
    int64_t t0 = test_now_ms();
    qv_code rc =
        qv_rpc_unary(ch, "/qvtest.Echo/Nope", &rq.base,
                     &qvtest__echo_reply__descriptor, NULL, &m, &o, &err);
    cr_assert_lt(test_now_ms() - t0, 2000, "waited for the deadline");
    cr_assert_eq(rc, QV_E_UNSUPPORTED, "%s", err.msg);
    cr_assert_eq(st, GRPC_STATUS_UNIMPLEMENTED);
    cr_assert(strstr(err.msg, "UNIMPLEMENTED") &&
                  strstr(err.msg, "/qvtest.Echo/Nope"),
              "%s", err.msg);
    cr_assert_null(m);
    qv_rpc_channel_close(ch);
    echo_stop(&e);
    cr_assert_eq(atomic_load(&e.stats.unknown_calls), 1);
    cr_assert_eq(atomic_load(&e.stats.by_status[GRPC_STATUS_UNIMPLEMENTED]), 1);
}

Test(rpc_server, messages_over_4_mib_pass_both_ways)
{
    echo_server e;
    echo_start(&e, NULL);
    size_t n = 6u << 20;
    uint8_t *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (uint8_t)(i * 31 + 7);
    Qvtest__EchoRequest rq = QVTEST__ECHO_REQUEST__INIT;
    rq.text = (char *)"big";
    rq.payload.data = big;
    rq.payload.len = n;
    qv_arena a;
    qv_arena_init(&a, 4096);
    Qvtest__EchoReply *r = NULL;
    qv_err err;
    cr_assert_eq(say(e.target, &rq, NULL, &a, &r, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(r->payload.len, n);
    cr_assert_eq(memcmp(r->payload.data, big, n), 0);
    qv_arena_release(&a);
    free(big);
    echo_stop(&e);
}

Test(rpc_server, receive_limit_is_enforced)
{
    echo_server e;
    qv_rpc_server_opts o = {
        .host = "127.0.0.1", .workers = 2, .max_recv_bytes = 1 << 20};
    echo_start(&e, &o);
    size_t n = 2u << 20;
    uint8_t *big = calloc(1, n);
    Qvtest__EchoRequest rq = QVTEST__ECHO_REQUEST__INIT;
    rq.payload.data = big;
    rq.payload.len = n;
    Qvtest__EchoReply *r = NULL;
    qv_err err;
    qv_code rc = say(e.target, &rq, NULL, NULL, &r, &err);
    cr_assert_eq(rc, QV_E_RANGE, "%s: %s", qv_code_name(rc), err.msg);
    cr_assert(strstr(err.msg, "RESOURCE_EXHAUSTED"), "%s", err.msg);
    free(big);
    echo_stop(&e);
}

Test(rpc_server, handler_errors_map_to_grpc_status_with_the_message)
{
    echo_server e;
    echo_start(&e, NULL);
    const qv_code codes[] = {QV_E_NOT_FOUND, QV_E_INVALID, QV_E_PERMISSION,
                             QV_E_INTERNAL, QV_E_EXISTS};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        Qvtest__EchoRequest rq = QVTEST__ECHO_REQUEST__INIT;
        rq.text = (char *)"t1";
        rq.fail_code = codes[i];
        Qvtest__EchoReply *r = NULL;
        qv_err err;
        qv_code rc = say(e.target, &rq, NULL, NULL, &r, &err);
        cr_assert_eq(rc, codes[i], "want %s got %s: %s", qv_code_name(codes[i]),
                     qv_code_name(rc), err.msg);
        cr_assert(strstr(err.msg, "thing 't1' failed"), "%s", err.msg);
    }
    echo_stop(&e);
}

Test(rpc_server, unparsable_request_is_invalid_argument)
{
    echo_server e;
    echo_start(&e, NULL);
    qv_rpc_channel *ch;
    qv_err err;
    cr_assert_eq(qv_rpc_channel_open(e.target, &ch, &err), QV_OK);
    Qvtest__BadRequest bad = QVTEST__BAD_REQUEST__INIT;
    bad.text = 42;
    ProtobufCMessage *m = NULL;
    qv_code rc =
        qv_rpc_unary(ch, ECHO_SAY, &bad.base, &qvtest__echo_reply__descriptor,
                     NULL, &m, NULL, &err);
    cr_assert_eq(rc, QV_E_INVALID, "%s", err.msg);
    cr_assert(strstr(err.msg, "qvtest.EchoRequest"), "%s", err.msg);
    qv_rpc_channel_close(ch);
    echo_stop(&e);
}

typedef struct slow_call {
    const char *target;
    int64_t sleep_ms;
    qv_code rc;
    char msg[256];
} slow_call;

static void *run_slow(void *arg)
{
    slow_call *sc = arg;
    Qvtest__EchoRequest rq = QVTEST__ECHO_REQUEST__INIT;
    rq.text = (char *)"slow";
    rq.sleep_ms = sc->sleep_ms;
    qv_rpc_call_opts o = {.timeout_ms = 10000};
    Qvtest__EchoReply *r = NULL;
    qv_err err;
    qv_err_clear(&err);
    qv_arena a;
    qv_arena_init(&a, 1024);
    sc->rc = say(sc->target, &rq, &o, &a, &r, &err);
    (void)snprintf(sc->msg, sizeof sc->msg, "%s", err.msg);
    qv_arena_release(&a);
    return NULL;
}

static void wait_inflight(echo_server *e)
{
    (void)e;
    nanosleep(&(struct timespec){0, 150L * 1000000}, NULL);
}

Test(rpc_server, shutdown_lets_in_flight_calls_finish)
{
    echo_server e;
    echo_start(&e, NULL);
    slow_call sc = {.target = e.target, .sleep_ms = 400};
    pthread_t t;
    pthread_create(&t, NULL, run_slow, &sc);
    wait_inflight(&e);
    int64_t t0 = test_now_ms();
    qv_rpc_server_shutdown(e.srv);
    int64_t took = test_now_ms() - t0;
    pthread_join(t, NULL);
    cr_assert_eq(sc.rc, QV_OK, "%s", sc.msg);
    cr_assert_lt(took, 3000);
    /* New calls are refused once stopped. */
    Qvtest__EchoRequest rq = QVTEST__ECHO_REQUEST__INIT;
    qv_rpc_call_opts o = {.timeout_ms = 1000, .flags = QV_RPC_FAIL_FAST};
    Qvtest__EchoReply *r = NULL;
    qv_err err;
    qv_code rc = say(e.target, &rq, &o, NULL, &r, &err);
    cr_assert_eq(rc, QV_E_UNAVAILABLE, "%s: %s", qv_code_name(rc), err.msg);
    echo_stop(&e);
    cr_assert_eq(atomic_load(&e.stats.by_status[GRPC_STATUS_OK]), 1);
}

Test(rpc_server, shutdown_cancels_calls_after_the_grace_period)
{
    echo_server e;
    qv_rpc_server_opts o = {
        .host = "127.0.0.1", .workers = 2, .shutdown_grace_ms = 200};
    echo_start(&e, &o);
    slow_call sc = {.target = e.target, .sleep_ms = 8000};
    pthread_t t;
    pthread_create(&t, NULL, run_slow, &sc);
    wait_inflight(&e);
    int64_t t0 = test_now_ms();
    qv_rpc_server_shutdown(e.srv);
    int64_t took = test_now_ms() - t0;
    pthread_join(t, NULL);
    cr_assert_neq(sc.rc, QV_OK);
    cr_assert_lt(took, 3000, "shutdown took %lld ms", (long long)took);
    cr_assert_geq(took, 150, "shutdown took %lld ms", (long long)took);
    cr_assert_eq(atomic_load(&e.stats.handler_saw_expiry), 1);
    echo_stop(&e);
}

Test(rpc_server, busy_port_fails_with_the_address)
{
    echo_server e;
    echo_start(&e, NULL);
    qv_rpc_server_opts o = {.host = "127.0.0.1", .port = e.port};
    qv_rpc_server *s2;
    qv_err err;
    cr_assert_eq(qv_rpc_server_create(&o, &s2, &err), QV_OK);
    qv_code rc = qv_rpc_server_start(s2, &err);
    cr_assert_eq(rc, QV_E_UNAVAILABLE, "%s", err.msg);
    cr_assert(strstr(err.msg, e.target), "%s", err.msg);
    cr_assert(strstr(err.msg, "in use"), "%s", err.msg);
    cr_assert_eq(qv_rpc_server_port(s2), 0);
    qv_rpc_server_destroy(s2);
    /* The first server still answers. */
    Qvtest__EchoRequest rq = QVTEST__ECHO_REQUEST__INIT;
    rq.text = (char *)"still";
    qv_arena a;
    qv_arena_init(&a, 1024);
    Qvtest__EchoReply *r = NULL;
    cr_assert_eq(say(e.target, &rq, NULL, &a, &r, &err), QV_OK, "%s", err.msg);
    cr_assert_str_eq(r->text, "echo:still");
    qv_arena_release(&a);
    echo_stop(&e);
}

static qv_code noop(qv_rpc_call *c, const ProtobufCMessage *rq,
                    ProtobufCMessage **out, void *ud, qv_err *err)
{
    (void)c, (void)rq, (void)out, (void)ud;
    return qv_fail(err, QV_E_INTERNAL, "unused");
}

Test(rpc_server, register_rejects_bad_and_duplicate_methods)
{
    qv_rpc_server_opts o = {.host = "127.0.0.1"};
    qv_rpc_server *s;
    qv_err err;
    cr_assert_eq(qv_rpc_server_create(&o, &s, &err), QV_OK);
    qv_rpc_method m = {.name = "/a.B/C",
                       .kind = QV_RPC_UNARY,
                       .req_desc = &qvtest__echo_request__descriptor,
                       .unary = noop};
    cr_assert_eq(qv_rpc_server_register(s, &m, &err), QV_OK);
    cr_assert_eq(qv_rpc_server_register(s, &m, &err), QV_E_EXISTS);
    m.name = "no-slash";
    cr_assert_eq(qv_rpc_server_register(s, &m, &err), QV_E_INVALID);
    m.name = "/a.B/D";
    m.kind = QV_RPC_SERVER_STREAM;
    cr_assert_eq(qv_rpc_server_register(s, &m, &err), QV_E_INVALID);
    qv_rpc_server_destroy(s);
    qv_rpc_server_opts bad = {.port = 70000};
    cr_assert_eq(qv_rpc_server_create(&bad, &s, &err), QV_E_INVALID);
}

Test(rpc_server, full_worker_queue_answers_busy_instead_of_waiting)
{
    echo_server e;
    qv_rpc_server_opts o = {.host = "127.0.0.1", .workers = 1, .queue_cap = 1};
    echo_start(&e, &o);
    enum { N = 4 };
    slow_call sc[N];
    pthread_t t[N];
    for (int i = 0; i < N; i++) {
        sc[i] = (slow_call){.target = e.target, .sleep_ms = 1500};
        pthread_create(&t[i], NULL, run_slow, &sc[i]);
    }
    int ok = 0, busy = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        if (sc[i].rc == QV_OK)
            ok++;
        else if (sc[i].rc == QV_E_RANGE && strstr(sc[i].msg, "server busy"))
            busy++;
    }
    /* One runs, one waits in the queue, the rest are refused at once. */
    cr_assert_geq(ok, 1);
    cr_assert_geq(busy, 1);
    cr_assert_eq(ok + busy, N);
    echo_stop(&e);
    cr_assert_eq(
        atomic_load(&e.stats.by_status[GRPC_STATUS_RESOURCE_EXHAUSTED]), busy);
}

typedef struct stream_reader {
    const char *target;
    int got;
    qv_code rc;
} stream_reader;

static void *read_stream(void *arg)
{
    stream_reader *r = arg;
    qv_rpc_channel *ch;
    qv_err err;
    r->rc = qv_rpc_channel_open(r->target, &ch, &err);
    if (r->rc != QV_OK)
        return NULL;
    Qvtest__EchoRequest rq = QVTEST__ECHO_REQUEST__INIT;
    rq.count = 10;
    rq.gap_ms = 30;
    qv_rpc_stream *s;
    r->rc = qv_rpc_stream_open(ch, ECHO_STREAM, &rq.base, NULL, &s, &err);
    if (r->rc == QV_OK) {
        ProtobufCMessage *m;
        while ((r->rc = qv_rpc_stream_recv(s, &qvtest__echo_reply__descriptor,
                                           NULL, &m, 5000, &err)) == QV_OK &&
               m) {
            protobuf_c_message_free_unpacked(m, NULL);
            r->got++;
        }
        qv_rpc_stream_close(s);
    }
    qv_rpc_channel_close(ch);
    return NULL;
}

Test(rpc_server, shutdown_lets_a_running_stream_finish)
{
    echo_server e;
    echo_start(&e, NULL);
    stream_reader r = {.target = e.target};
    pthread_t t;
    pthread_create(&t, NULL, read_stream, &r);
    wait_inflight(&e);
    qv_rpc_server_shutdown(e.srv);
    pthread_join(t, NULL);
    cr_assert_eq(r.rc, QV_OK);
    cr_assert_eq(r.got, 10);
    echo_stop(&e);
}
