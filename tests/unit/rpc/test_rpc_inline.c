/* test_rpc_inline.c -- servers with inline_unary: unary handlers run on
 * the completion-queue threads (as many as workers), streams on the pool. */
#include <criterion/criterion.h>
#include <grpc/status.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "echo_service.h"

typedef struct sleeper {
    const char *target;
    int64_t sleep_ms;
    qv_code rc;
    char text[64];
} sleeper;

static void *sleeper_main(void *arg)
{
    sleeper *s = arg;
    qv_rpc_channel *ch;
    qv_err err;
    s->rc = qv_rpc_channel_open(s->target, &ch, &err);
    if (s->rc)
        return NULL;
    qv_arena a;
    qv_arena_init(&a, 0);
    Qvtest__EchoRequest rq = QVTEST__ECHO_REQUEST__INIT;
    rq.text = (char *)"zz";
    rq.sleep_ms = s->sleep_ms;
    ProtobufCMessage *m = NULL;
    qv_rpc_call_opts o = {.timeout_ms = 5000};
    s->rc = qv_rpc_unary(ch, ECHO_SAY, &rq.base,
                         &qvtest__echo_reply__descriptor, &a, &m, &o, &err);
    if (s->rc == QV_OK)
        (void)snprintf(s->text, sizeof s->text, "%s",
                       ((Qvtest__EchoReply *)m)->text);
    qv_arena_release(&a);
    qv_rpc_channel_close(ch);
    return NULL;
}

/* n concurrent calls sleeping ms each; returns the wall time. */
static int64_t run_sleepers(const char *target, int n, int64_t ms)
{
    pthread_t th[8];
    sleeper s[8];
    int64_t t0 = test_now_ms();
    for (int i = 0; i < n; i++) {
        s[i] = (sleeper){.target = target, .sleep_ms = ms, .rc = -1};
        cr_assert_eq(pthread_create(&th[i], NULL, sleeper_main, &s[i]), 0);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(s[i].rc, QV_OK, "call %d: %d", i, s[i].rc);
        cr_assert_str_eq(s[i].text, "echo:zz");
    }
    return test_now_ms() - t0;
}

Test(rpc_inline, handlers_run_in_parallel_on_the_queue_threads)
{
    qv_rpc_server_opts o = {
        .host = "127.0.0.1", .workers = 4, .inline_unary = true};
    echo_server e;
    echo_start(&e, &o);
    int64_t took = run_sleepers(e.target, 4, 300);
    /* four threads: about one sleep, not four */
    cr_assert(took >= 280 && took < 900, "took %lld ms", (long long)took);
    echo_stop(&e);
    cr_assert_eq(atomic_load(&e.stats.by_status[GRPC_STATUS_OK]), 4);
}

/* No RESOURCE_EXHAUSTED queue: with one thread the calls wait their turn
 * in gRPC and all succeed (a pool of one worker and a queue of one refuses
 * some, test_rpc_server.c).  Also checks the process-wide default. */
Test(rpc_inline, one_thread_serialises_instead_of_refusing)
{
    qv_rpc_server_inline_default(true);
    qv_rpc_server_opts o = {.host = "127.0.0.1", .workers = 1, .queue_cap = 1};
    echo_server e;
    echo_start(&e, &o);
    qv_rpc_server_inline_default(false);
    int64_t took = run_sleepers(e.target, 3, 200);
    cr_assert(took >= 550, "took %lld ms: not serialised", (long long)took);
    echo_stop(&e);
    cr_assert_eq(atomic_load(&e.stats.by_status[GRPC_STATUS_OK]), 3);
    cr_assert_eq(
        atomic_load(&e.stats.by_status[GRPC_STATUS_RESOURCE_EXHAUSTED]), 0);
}

Test(rpc_inline, streams_still_work_beside_unary_calls)
{
    qv_rpc_server_opts o = {
        .host = "127.0.0.1", .workers = 2, .inline_unary = true};
    echo_server e;
    echo_start(&e, &o);
    qv_rpc_channel *ch;
    qv_err err;
    cr_assert_eq(qv_rpc_channel_open(e.target, &ch, &err), QV_OK);
    Qvtest__EchoRequest rq = QVTEST__ECHO_REQUEST__INIT;
    rq.text = (char *)"st";
    rq.count = 5;
    rq.gap_ms = 20;
    qv_rpc_stream *s;
    cr_assert_eq(qv_rpc_stream_open(ch, ECHO_STREAM, &rq.base, NULL, &s, &err),
                 QV_OK, "%s", err.msg);
    /* a unary call while the stream runs */
    cr_assert_geq(run_sleepers(e.target, 1, 50), 40);
    qv_arena a;
    qv_arena_init(&a, 0);
    int got = 0;
    for (;;) {
        ProtobufCMessage *m = NULL;
        cr_assert_eq(qv_rpc_stream_recv(s, &qvtest__echo_reply__descriptor, &a,
                                        &m, 5000, &err),
                     QV_OK, "%s", err.msg);
        if (!m)
            break;
        cr_assert_eq(((Qvtest__EchoReply *)m)->seq, got);
        got++;
    }
    cr_assert_eq(got, 5);
    qv_rpc_stream_close(s);
    qv_arena_release(&a);
    qv_rpc_channel_close(ch);
    echo_stop(&e);
}

/* A handler still running when the grace period ends sees its call
 * expire; shutdown then completes. */
Test(rpc_inline, shutdown_cancels_a_running_handler_after_the_grace)
{
    qv_rpc_server_opts o = {.host = "127.0.0.1",
                            .workers = 2,
                            .inline_unary = true,
                            .shutdown_grace_ms = 200};
    echo_server e;
    echo_start(&e, &o);
    pthread_t th;
    sleeper s = {.target = e.target, .sleep_ms = 4000, .rc = -1};
    cr_assert_eq(pthread_create(&th, NULL, sleeper_main, &s), 0);
    nanosleep(&(struct timespec){0, 150000000}, NULL);
    int64_t t0 = test_now_ms();
    echo_stop(&e);
    int64_t took = test_now_ms() - t0;
    pthread_join(th, NULL);
    cr_assert(took >= 150 && took < 2500, "shutdown took %lld ms",
              (long long)took);
    cr_assert_neq(s.rc, QV_OK);
    cr_assert_eq(atomic_load(&e.stats.handler_saw_expiry), 1);
}

/* The peer ("ipv4:127.0.0.1:PORT") one call on ch reports. */
static void peer_of(qv_rpc_channel *ch, char *out, size_t cap)
{
    qv_arena a;
    qv_arena_init(&a, 0);
    Qvtest__EchoRequest rq = QVTEST__ECHO_REQUEST__INIT;
    rq.text = (char *)"p";
    ProtobufCMessage *m = NULL;
    qv_err err;
    qv_rpc_call_opts o = {.timeout_ms = 5000};
    cr_assert_eq(qv_rpc_unary(ch, ECHO_SAY, &rq.base,
                              &qvtest__echo_reply__descriptor, &a, &m, &o,
                              &err),
                 QV_OK, "%s", err.msg);
    (void)snprintf(out, cap, "%s", ((Qvtest__EchoReply *)m)->peer);
    qv_arena_release(&a);
}

/* Channels opened with qv_rpc_channel_open_own each have a connection of
 * their own (the server sees different peers); cached ones share one. */
Test(rpc_inline, own_channels_have_their_own_connections)
{
    qv_rpc_server_opts o = {
        .host = "127.0.0.1", .workers = 2, .inline_unary = true};
    echo_server e;
    echo_start(&e, &o);
    qv_rpc_channel *own1, *own2, *sh1, *sh2;
    qv_err err;
    cr_assert_eq(qv_rpc_channel_open_own(e.target, &own1, &err), QV_OK);
    cr_assert_eq(qv_rpc_channel_open_own(e.target, &own2, &err), QV_OK);
    cr_assert_eq(qv_rpc_channel_open(e.target, &sh1, &err), QV_OK);
    cr_assert_eq(qv_rpc_channel_open(e.target, &sh2, &err), QV_OK);
    cr_assert(own1 != own2 && own1 != sh1);
    cr_assert(sh1 == sh2, "cached channels are shared");
    char p1[128], p2[128], p3[128], p4[128];
    peer_of(own1, p1, sizeof p1);
    peer_of(own2, p2, sizeof p2);
    peer_of(sh1, p3, sizeof p3);
    peer_of(sh2, p4, sizeof p4);
    cr_assert_str_neq(p1, p2);
    cr_assert_str_neq(p1, p3);
    cr_assert_str_neq(p2, p3);
    cr_assert_str_eq(p3, p4);
    cr_assert_eq(qv_rpc_channel_open_own("nocolon", &own1, &err), QV_E_INVALID);
    qv_rpc_channel_close(own1);
    qv_rpc_channel_close(own2);
    qv_rpc_channel_close(sh1);
    qv_rpc_channel_close(sh2);
    echo_stop(&e);
}

/* Many short calls from several connections at once, on a server with
 * fewer threads than connections: every call is answered (no queue is left
 * without a pending request). */
static void *many_calls(void *arg)
{
    const char *target = arg;
    qv_rpc_channel *ch;
    qv_err err;
    if (qv_rpc_channel_open_own(target, &ch, &err) != QV_OK)
        return (void *)1;
    long bad = 0;
    for (int i = 0; i < 300; i++) {
        qv_arena a;
        qv_arena_init(&a, 0);
        Qvtest__EchoRequest rq = QVTEST__ECHO_REQUEST__INIT;
        rq.text = (char *)"m";
        ProtobufCMessage *m = NULL;
        qv_rpc_call_opts o = {.timeout_ms = 5000};
        if (qv_rpc_unary(ch, ECHO_SAY, &rq.base,
                         &qvtest__echo_reply__descriptor, &a, &m, &o,
                         &err) != QV_OK)
            bad++;
        qv_arena_release(&a);
    }
    qv_rpc_channel_close(ch);
    return (void *)bad;
}

Test(rpc_inline, many_connections_many_calls_all_answered)
{
    qv_rpc_server_opts o = {
        .host = "127.0.0.1", .workers = 2, .inline_unary = true};
    echo_server e;
    echo_start(&e, &o);
    pthread_t th[5];
    for (int i = 0; i < 5; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, many_calls, e.target), 0);
    for (int i = 0; i < 5; i++) {
        void *bad;
        pthread_join(th[i], &bad);
        cr_assert_eq((long)bad, 0, "thread %d: %ld calls failed", i, (long)bad);
    }
    echo_stop(&e);
    cr_assert_eq(atomic_load(&e.stats.by_status[GRPC_STATUS_OK]), 1500);
}
