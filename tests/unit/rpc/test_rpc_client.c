/* test_rpc_client.c -- the RPC client: channel cache, retries with
 * backoff, unreachable targets, bidi streams and receive waits. */
#include <criterion/criterion.h>
#include <grpc/status.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "echo_service.h"

static void sleep_ms(int64_t ms)
{
    nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000}, NULL);
}

/* A port with nothing listening: bound by a server that is then stopped. */
static int dead_port(void)
{
    echo_server e;
    echo_start(&e, NULL);
    int p = e.port;
    echo_stop(&e);
    return p;
}

Test(rpc_client, channels_are_shared_by_target)
{
    qv_rpc_channel *a, *b, *c;
    qv_err err;
    cr_assert_eq(qv_rpc_channel_open("127.0.0.1:1", &a, &err), QV_OK);
    cr_assert_eq(qv_rpc_channel_open("127.0.0.1:1", &b, &err), QV_OK);
    cr_assert_eq(qv_rpc_channel_open("127.0.0.1:2", &c, &err), QV_OK);
    cr_assert_eq(a, b);
    cr_assert_neq(a, c);
    cr_assert_str_eq(qv_rpc_channel_target(c), "127.0.0.1:2");
    qv_rpc_channel_close(a);
    qv_rpc_channel_close(b);
    qv_rpc_channel_close(c);
    cr_assert_eq(qv_rpc_channel_open("no-port", &a, &err), QV_E_INVALID);
    cr_assert(strstr(err.msg, "no-port"), "%s", err.msg);
}

Test(rpc_client, unreachable_target_fails_with_unavailable_after_retries)
{
    char target[64];
    (void)snprintf(target, sizeof target, "127.0.0.1:%d", dead_port());
    qv_rpc_channel *ch;
    qv_err err;
    cr_assert_eq(qv_rpc_channel_open(target, &ch, &err), QV_OK);
    Qvtest__EchoRequest rq = QVTEST__ECHO_REQUEST__INIT;
    int st = -1;
    qv_rpc_call_opts o = {.timeout_ms = 3000,
                          .flags = QV_RPC_IDEMPOTENT | QV_RPC_FAIL_FAST,
                          .max_attempts = 3,
                          .status_out = &st};
    ProtobufCMessage *m = NULL;
    int64_t t0 = test_now_ms();
    qv_code rc =
        qv_rpc_unary(ch, ECHO_SAY, &rq.base, &qvtest__echo_reply__descriptor,
                     NULL, &m, &o, &err);
    int64_t took = test_now_ms() - t0;
    cr_assert_eq(rc, QV_E_UNAVAILABLE, "%s", err.msg);
    cr_assert_eq(st, GRPC_STATUS_UNAVAILABLE);
    cr_assert(strstr(err.msg, ECHO_SAY) && strstr(err.msg, target), "%s",
              err.msg);
    /* Two backoffs of 25-50 and 50-100 ms happened, far below the
     * deadline. */
    cr_assert_geq(took, 70, "took %lld", (long long)took);
    cr_assert_lt(took, 2500, "took %lld", (long long)took);

    /* Waiting for the channel (the default) ends at the deadline, still
     * reported as unavailable. */
    qv_rpc_call_opts w = {.timeout_ms = 300};
    rc = qv_rpc_unary(ch, ECHO_SAY, &rq.base, &qvtest__echo_reply__descriptor,
                      NULL, &m, &w, &err);
    cr_assert_eq(rc, QV_E_UNAVAILABLE, "%s", err.msg);
    cr_assert(strstr(err.msg, "not reachable"), "%s", err.msg);
    qv_rpc_channel_close(ch);
}

typedef struct late_server {
    int port;
    echo_server e;
} late_server;

static void *start_late(void *arg)
{
    late_server *ls = arg;
    sleep_ms(300);
    qv_rpc_server_opts o = {
        .host = "127.0.0.1", .port = ls->port, .workers = 2};
    echo_start(&ls->e, &o);
    return NULL;
}

Test(rpc_client, idempotent_call_rides_out_a_server_that_starts_late)
{
    late_server ls = {.port = dead_port()};
    char target[64];
    (void)snprintf(target, sizeof target, "127.0.0.1:%d", ls.port);
    pthread_t t;
    pthread_create(&t, NULL, start_late, &ls);
    qv_rpc_channel *ch;
    qv_err err;
    cr_assert_eq(qv_rpc_channel_open(target, &ch, &err), QV_OK);
    Qvtest__EchoRequest rq = QVTEST__ECHO_REQUEST__INIT;
    rq.text = (char *)"late";
    qv_rpc_call_opts o = {.timeout_ms = 8000,
                          .flags = QV_RPC_IDEMPOTENT | QV_RPC_FAIL_FAST,
                          .max_attempts = 50};
    ProtobufCMessage *m = NULL;
    qv_code rc =
        qv_rpc_unary(ch, ECHO_SAY, &rq.base, &qvtest__echo_reply__descriptor,
                     NULL, &m, &o, &err);
    pthread_join(t, NULL);
    cr_assert_eq(rc, QV_OK, "%s", err.msg);
    cr_assert_str_eq(((Qvtest__EchoReply *)m)->text, "echo:late");
    protobuf_c_message_free_unpacked(m, NULL);
    qv_rpc_channel_close(ch);
    echo_stop(&ls.e);
}

Test(rpc_client, bidi_stream_sends_half_closes_and_receives)
{
    echo_server e;
    echo_start(&e, NULL);
    qv_rpc_channel *ch;
    qv_err err;
    cr_assert_eq(qv_rpc_channel_open(e.target, &ch, &err), QV_OK);
    qv_rpc_stream *s;
    qv_rpc_md md[] = {{"dbname", "d7"}};
    qv_rpc_call_opts o = {.md = md, .n_md = 1};
    cr_assert_eq(qv_rpc_bidi_open(ch, ECHO_STREAM, &o, &s, &err), QV_OK, "%s",
                 err.msg);
    Qvtest__EchoRequest rq = QVTEST__ECHO_REQUEST__INIT;
    rq.text = (char *)"b";
    rq.count = 3;
    rq.md_key = (char *)"dbname";
    cr_assert_eq(qv_rpc_stream_send(s, &rq.base, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_rpc_stream_close_send(s, &err), QV_OK, "%s", err.msg);
    cr_assert_eq(qv_rpc_stream_send(s, &rq.base, &err), QV_E_INVALID);
    qv_arena a;
    qv_arena_init(&a, 1024);
    int got = 0;
    ProtobufCMessage *m;
    while (qv_rpc_stream_recv(s, &qvtest__echo_reply__descriptor, &a, &m, 5000,
                              &err) == QV_OK &&
           m) {
        cr_assert_str_eq(((Qvtest__EchoReply *)m)->md_value, "d7");
        got++;
    }
    cr_assert_eq(got, 3, "%s", err.msg);
    qv_rpc_stream_close(s);
    qv_arena_release(&a);
    qv_rpc_channel_close(ch);
    echo_stop(&e);
}

Test(rpc_client, recv_wait_times_out_and_the_stream_stays_usable)
{
    echo_server e;
    echo_start(&e, NULL);
    qv_rpc_channel *ch;
    qv_err err;
    cr_assert_eq(qv_rpc_channel_open(e.target, &ch, &err), QV_OK);
    Qvtest__EchoRequest rq = QVTEST__ECHO_REQUEST__INIT;
    rq.text = (char *)"gap";
    rq.count = 2;
    rq.gap_ms = 400;
    qv_rpc_stream *s;
    cr_assert_eq(qv_rpc_stream_open(ch, ECHO_STREAM, &rq.base, NULL, &s, &err),
                 QV_OK);
    ProtobufCMessage *m = NULL;
    cr_assert_eq(qv_rpc_stream_recv(s, &qvtest__echo_reply__descriptor, NULL,
                                    &m, 5000, &err),
                 QV_OK);
    cr_assert_not_null(m);
    protobuf_c_message_free_unpacked(m, NULL);
    m = NULL;
    qv_code rc = qv_rpc_stream_recv(s, &qvtest__echo_reply__descriptor, NULL,
                                    &m, 50, &err);
    cr_assert_eq(rc, QV_E_TIMEOUT, "%s", err.msg);
    cr_assert(strstr(err.msg, "wait"), "%s", err.msg);
    rc = qv_rpc_stream_recv(s, &qvtest__echo_reply__descriptor, NULL, &m, 5000,
                            &err);
    cr_assert_eq(rc, QV_OK, "%s", err.msg);
    cr_assert_not_null(m);
    cr_assert_eq(((Qvtest__EchoReply *)m)->seq, 1);
    protobuf_c_message_free_unpacked(m, NULL);
    m = NULL;
    cr_assert_eq(qv_rpc_stream_recv(s, &qvtest__echo_reply__descriptor, NULL,
                                    &m, 5000, &err),
                 QV_OK);
    cr_assert_null(m);
    qv_rpc_stream_close(s);
    qv_rpc_channel_close(ch);
    echo_stop(&e);
}

Test(rpc_client, cancel_ends_a_stream_and_the_server_sees_it)
{
    echo_server e;
    echo_start(&e, NULL);
    qv_rpc_channel *ch;
    qv_err err;
    cr_assert_eq(qv_rpc_channel_open(e.target, &ch, &err), QV_OK);
    Qvtest__EchoRequest rq = QVTEST__ECHO_REQUEST__INIT;
    rq.count = 1000;
    rq.gap_ms = 50;
    qv_rpc_stream *s;
    cr_assert_eq(qv_rpc_stream_open(ch, ECHO_STREAM, &rq.base, NULL, &s, &err),
                 QV_OK);
    ProtobufCMessage *m = NULL;
    cr_assert_eq(qv_rpc_stream_recv(s, &qvtest__echo_reply__descriptor, NULL,
                                    &m, 5000, &err),
                 QV_OK);
    protobuf_c_message_free_unpacked(m, NULL);
    qv_rpc_stream_cancel(s);
    qv_code rc;
    do {
        m = NULL;
        rc = qv_rpc_stream_recv(s, &qvtest__echo_reply__descriptor, NULL, &m,
                                5000, &err);
        if (m)
            protobuf_c_message_free_unpacked(m, NULL);
    } while (rc == QV_OK && m);
    cr_assert_eq(rc, QV_E_CANCELLED, "%s", err.msg);
    qv_rpc_stream_close(s);
    qv_rpc_channel_close(ch);
    for (int i = 0; i < 300 && !atomic_load(&e.stats.handler_saw_expiry); i++)
        sleep_ms(10);
    cr_assert_eq(atomic_load(&e.stats.handler_saw_expiry), 1);
    echo_stop(&e);
    cr_assert_eq(atomic_load(&e.stats.by_status[GRPC_STATUS_CANCELLED]), 1);
}
