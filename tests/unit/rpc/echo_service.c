/* echo_service.c -- handlers of the Echo test service. */
#include "echo_service.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps up to ms, in small steps, stopping early when the call expires.
 * Returns true if the call expired. */
static bool nap(qv_rpc_call *call, int64_t ms, echo_stats *st)
{
    int64_t end = test_now_ms() + ms;
    while (test_now_ms() < end) {
        if (qv_rpc_call_expired(call)) {
            atomic_fetch_add(&st->handler_saw_expiry, 1);
            return true;
        }
        struct timespec ts = {0, 5L * 1000000};
        nanosleep(&ts, NULL);
    }
    return false;
}

static Qvtest__EchoReply *make_reply(qv_rpc_call *call,
                                     const Qvtest__EchoRequest *rq, int seq)
{
    qv_arena *a = qv_rpc_call_arena(call);
    Qvtest__EchoReply *r = qv_arena_alloc(a, sizeof *r);
    qvtest__echo_reply__init(r);
    size_t n = strlen(rq->text) + 8;
    r->text = qv_arena_alloc(a, n);
    (void)snprintf(r->text, n, "echo:%s", rq->text);
    r->seq = seq;
    r->payload = rq->payload;
    if (*rq->md_key) {
        const char *v = qv_rpc_call_metadata(call, rq->md_key);
        r->md_value = (char *)(v ? v : "<absent>");
    }
    r->peer = (char *)qv_rpc_call_peer(call);
    r->ms_left = qv_rpc_call_ms_left(call);
    return r;
}

static qv_code say(qv_rpc_call *call, const ProtobufCMessage *req,
                   ProtobufCMessage **resp, void *ud, qv_err *err)
{
    echo_stats *st = ud;
    const Qvtest__EchoRequest *rq = (const Qvtest__EchoRequest *)req;
    bool expired = rq->sleep_ms > 0 && nap(call, rq->sleep_ms, st);
    atomic_fetch_add(&st->handlers_finished, 1);
    if (rq->fail_code)
        return qv_fail(err, (qv_code)rq->fail_code, "thing '%s' failed",
                       rq->text);
    if (expired)
        return qv_fail(err, QV_E_TIMEOUT, "gave up");
    Qvtest__EchoReply *r = make_reply(call, rq, 0);
    *resp = &r->base;
    return QV_OK;
}

static qv_code say_stream(qv_rpc_call *call, const ProtobufCMessage *req,
                          void *ud, qv_err *err)
{
    echo_stats *st = ud;
    const Qvtest__EchoRequest *rq = (const Qvtest__EchoRequest *)req;
    if (rq->sleep_ms > 0 && nap(call, rq->sleep_ms, st))
        return qv_fail(err, QV_E_TIMEOUT, "gave up");
    for (int i = 0; i < rq->count; i++) {
        if (i > 0 && rq->gap_ms > 0 && nap(call, rq->gap_ms, st))
            return qv_fail(err, QV_E_TIMEOUT, "gave up");
        Qvtest__EchoReply *r = make_reply(call, rq, i);
        qv_code rc = qv_rpc_call_send(call, &r->base, err);
        if (rc != QV_OK)
            return rc;
    }
    atomic_fetch_add(&st->handlers_finished, 1);
    if (rq->fail_code)
        return qv_fail(err, (qv_code)rq->fail_code, "stream '%s' failed",
                       rq->text);
    return QV_OK;
}

static void on_done(const char *method, int status, int64_t ns, void *ud)
{
    echo_stats *st = ud;
    (void)ns;
    if (strcmp(method, "unknown") == 0)
        atomic_fetch_add(&st->unknown_calls, 1);
    if (status >= 0 && status < 17)
        atomic_fetch_add(&st->by_status[status], 1);
    atomic_fetch_add(&st->calls_done, 1);
}

void echo_start(echo_server *e, const qv_rpc_server_opts *opts)
{
    memset(e, 0, sizeof *e);
    qv_rpc_server_opts o = {.host = "127.0.0.1", .workers = 4};
    if (opts)
        o = *opts;
    o.on_call_done = on_done;
    o.on_call_done_data = &e->stats;
    qv_err err;
    cr_assert_eq(qv_rpc_server_create(&o, &e->srv, &err), QV_OK, "%s", err.msg);
    qv_rpc_method say_m = {.name = ECHO_SAY,
                           .kind = QV_RPC_UNARY,
                           .req_desc = &qvtest__echo_request__descriptor,
                           .unary = say,
                           .user_data = &e->stats};
    qv_rpc_method stream_m = {.name = ECHO_STREAM,
                              .kind = QV_RPC_SERVER_STREAM,
                              .req_desc = &qvtest__echo_request__descriptor,
                              .stream = say_stream,
                              .user_data = &e->stats};
    cr_assert_eq(qv_rpc_server_register(e->srv, &say_m, &err), QV_OK);
    cr_assert_eq(qv_rpc_server_register(e->srv, &stream_m, &err), QV_OK);
    cr_assert_eq(qv_rpc_server_start(e->srv, &err), QV_OK, "%s", err.msg);
    e->port = qv_rpc_server_port(e->srv);
    cr_assert_gt(e->port, 0);
    (void)snprintf(e->target, sizeof e->target, "127.0.0.1:%d", e->port);
}

void echo_stop(echo_server *e)
{
    qv_rpc_server_destroy(e->srv);
    e->srv = NULL;
}
