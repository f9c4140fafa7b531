/* rpc_call.c -- the server's per-call state machine and handler API.
 *
 *   request_call --TAG_NEW--> RECV_CLOSE (TAG_CLOSE, held until the end)
 *                             unknown method: status UNIMPLEMENTED
 *                             else RECV_MESSAGE --TAG_READ--> worker pool
 *   worker: unpack, run handler (streams: SEND_MESSAGE, waits TAG_SEND),
 *           then one batch {initial metadata if not sent yet, reply,
 *           status} --TAG_FINAL-->
 *   last reference dropped: on_call_done, free.
 *
 * Initial metadata always goes out with (or before) the status: without
 * it clients wait until their deadline instead of seeing the status.
 */
#include <grpc/support/alloc.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/rpc/rpc_server_int.h"
#include "proto/rpc_status.h"

#define CALL_ARENA_BLOCK ((size_t)16 * 1024)

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void call_free(qv_rpc_call *c)
{
    if (c->call)
        grpc_call_unref(c->call);
    grpc_call_details_destroy(&c->details);
    grpc_metadata_array_destroy(&c->md);
    if (c->in)
        grpc_byte_buffer_destroy(c->in);
    qv_arena_release(&c->arena);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}

/* A client whose own deadline fires cancels the call a little before the
 * server's copy of the deadline (which starts when the request arrives):
 * cancellations this close to the deadline count as deadline exceeded. */
#define DEADLINE_SLACK_MS 100

/* The status the client saw, for on_call_done. */
static int seen_status(qv_rpc_call *c)
{
    if (atomic_load(&c->client_cancelled) || !atomic_load(&c->final_ok)) {
        if (qv_rpc__ms_until(c->details.deadline) < DEADLINE_SLACK_MS)
            return GRPC_STATUS_DEADLINE_EXCEEDED;
        return GRPC_STATUS_CANCELLED;
    }
    return atomic_load(&c->status_sent);
}

static void call_unref(qv_rpc_call *c)
{
    if (atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    qv_rpc_server *s = c->srv;
    if (s->opts.on_call_done)
        s->opts.on_call_done(c->m ? c->m->name : "unknown", seen_status(c),
                             now_ns() - c->start_ns, s->opts.on_call_done_data);
    call_free(c);
    atomic_fetch_sub(&s->inflight, 1);
}

/* Starts a batch holding one reference.  The caller always holds a
 * reference of its own, so a failed start only gives the batch's back
 * (never the last one). */
static bool start_batch(qv_rpc_call *c, const grpc_op *ops, size_t n,
                        call_tag *t)
{
    atomic_fetch_add(&c->refs, 1);
    grpc_call_error e = grpc_call_start_batch(c->call, ops, n, t, NULL);
    if (e == GRPC_CALL_OK)
        return true;
    QV_LOG(QV_LOG_ERROR, "rpc", "cannot start batch on '%s': call error %d",
           c->m ? c->m->name : "unknown", (int)e);
    grpc_call_cancel(c->call, NULL);
    atomic_fetch_sub(&c->refs, 1);
    return false;
}

/* The final batch: initial metadata if not sent, the reply if any, the
 * status. */
static void send_final(qv_rpc_call *c, grpc_byte_buffer *reply, int status,
                       const char *details)
{
    grpc_op ops[3];
    size_t n = 0;
    memset(ops, 0, sizeof(ops));
    if (!c->md_sent) {
        ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
        ops[n].data.send_initial_metadata.count = 0;
        n++;
        c->md_sent = true;
    }
    if (reply) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n].data.send_message.send_message = reply;
        n++;
    }
    grpc_slice d = grpc_slice_from_copied_string(details ? details : "");
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.trailing_metadata_count = 0;
    ops[n].data.send_status_from_server.status = (grpc_status_code)status;
    ops[n].data.send_status_from_server.status_details = &d;
    n++;
    atomic_store(&c->status_sent, status);
    start_batch(c, ops, n, &c->t_final);
    grpc_slice_unref(d);
    if (reply)
        grpc_byte_buffer_destroy(reply);
}

/* Worker: unpack, run the handler, send the final batch.  Owns one
 * reference, released after the final batch has been started. */
static void run_handler(void *arg)
{
    qv_rpc_call *c = arg;
    const qv_rpc_method *m = &c->m->m;
    qv_err err;
    qv_err_clear(&err);
    grpc_byte_buffer *reply = NULL;
    ProtobufCMessage *req = NULL;
    int status = GRPC_STATUS_OK;
    qv_code rc;

    if (qv_rpc_call_ms_left(c) < 0) {
        status = GRPC_STATUS_DEADLINE_EXCEEDED;
        qv_fail(&err, QV_E_TIMEOUT, "deadline exceeded before '%s' ran",
                c->m->name);
    } else if (qv_rpc__unpack(m->req_desc, c->in, &c->arena, &req, &err) !=
               QV_OK) {
        status = GRPC_STATUS_INVALID_ARGUMENT;
        (void)qv_err_prefix(&err, "bad request to '%s'", c->m->name);
    } else if (m->kind == QV_RPC_UNARY) {
        ProtobufCMessage *resp = NULL;
        rc = m->unary(c, req, &resp, m->user_data, &err);
        if (rc == QV_OK && !resp)
            rc = qv_fail(&err, QV_E_INTERNAL, "'%s' returned no reply",
                         c->m->name);
        if (rc == QV_OK && !(reply = qv_rpc__pack(resp)))
            rc = qv_fail(&err, QV_E_NOMEM, "cannot pack the reply of '%s'",
                         c->m->name);
        status = qv_rpc_status_to_grpc(rc);
    } else {
        rc = m->stream(c, req, m->user_data, &err);
        status = qv_rpc_status_to_grpc(rc);
    }
    send_final(c, reply, status, status == GRPC_STATUS_OK ? "" : err.msg);
    call_unref(c);
}

const reg_method *qv_rpc__find_method(const qv_rpc_server *s, const char *p,
                                      size_t len)
{
    size_t lo = 0, hi = s->n_methods;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *k = s->methods[mid].name;
        size_t klen = strlen(k);
        int cmp = memcmp(p, k, len < klen ? len : klen);
        if (cmp == 0)
            cmp = (len > klen) - (len < klen);
        if (cmp == 0)
            return &s->methods[mid];
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

static const reg_method *find_method(qv_rpc_server *s, grpc_slice name)
{
    return qv_rpc__find_method(s, (const char *)GRPC_SLICE_START_PTR(name),
                               GRPC_SLICE_LENGTH(name));
}

void qv_rpc__call_request_new(qv_rpc_server *s, grpc_completion_queue *cq)
{
    qv_rpc_call *c = QV_NEW(qv_rpc_call);
    c->srv = s;
    c->cq = cq;
    grpc_call_details_init(&c->details);
    grpc_metadata_array_init(&c->md);
    qv_arena_init(&c->arena, CALL_ARENA_BLOCK);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->t_new = (call_tag){TAG_NEW, c};
    c->t_read = (call_tag){TAG_READ, c};
    c->t_send = (call_tag){TAG_SEND, c};
    c->t_final = (call_tag){TAG_FINAL, c};
    c->t_close = (call_tag){TAG_CLOSE, c};
    grpc_call_error e = grpc_server_request_call(
        s->server, &c->call, &c->details, &c->md, cq, cq, &c->t_new);
    if (e != GRPC_CALL_OK) {
        QV_LOG(QV_LOG_ERROR, "rpc", "cannot request a call: call error %d",
               (int)e);
        call_free(c);
    }
}

static void on_new(qv_rpc_call *c, bool ok)
{
    qv_rpc_server *s = c->srv;
    if (!ok) { /* the server is shutting down */
        call_free(c);
        return;
    }
    atomic_fetch_add(&s->inflight, 1);
    c->start_ns = now_ns();
    atomic_store(&c->refs, 1); /* held by this function */
    c->m = find_method(s, c->details.method);
    /* A unary call this thread will run keeps its queue without a pending
     * request until the handler is done (on_read), so the next call goes to
     * an idle thread's queue, or waits in gRPC for the first thread free:
     * calls of one connection are not queued behind a busy thread. */
    c->defer_request =
        s->opts.inline_unary && c->m && c->m->m.kind == QV_RPC_UNARY;
    if (!c->defer_request && !atomic_load(&s->stop_requested))
        qv_rpc__call_request_new(s, c->cq);

    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    op.data.recv_close_on_server.cancelled = &c->close_cancelled;
    start_batch(c, &op, 1, &c->t_close);

    if (!c->m) {
        char *name = grpc_slice_to_c_string(c->details.method);
        char msg[512];
        (void)snprintf(msg, sizeof(msg), "unknown method '%s'", name);
        gpr_free(name);
        send_final(c, NULL, GRPC_STATUS_UNIMPLEMENTED, msg);
    } else {
        memset(&op, 0, sizeof(op));
        op.op = GRPC_OP_RECV_MESSAGE;
        op.data.recv_message.recv_message = &c->in;
        if (!start_batch(c, &op, 1, &c->t_read) && c->defer_request &&
            !atomic_load(&s->stop_requested))
            qv_rpc__call_request_new(s, c->cq); /* no on_read will */
    }
    call_unref(c);
}

static void on_read(qv_rpc_call *c, bool ok)
{
    qv_rpc_server *s = c->srv;
    /* c may be freed below: keep what the deferred request needs */
    bool rerequest = c->defer_request;
    grpc_completion_queue *cq = c->cq;
    if (!ok || !c->in) {
        send_final(c, NULL, GRPC_STATUS_INVALID_ARGUMENT,
                   "the request message is missing");
    } else {
        atomic_fetch_add(&c->refs, 1); /* owned by the worker */
        if (s->opts.inline_unary && c->m->m.kind == QV_RPC_UNARY)
            run_handler(c); /* this completion-queue thread is the worker */
        else if (qv_pool_submit(s->pool, run_handler, c, QV_POOL_NOWAIT) !=
                 QV_OK) {
            send_final(c, NULL, GRPC_STATUS_RESOURCE_EXHAUSTED,
                       "server busy: too many calls waiting for a worker");
            atomic_fetch_sub(&c->refs, 1); /* not the last: read ref held */
        }
    }
    call_unref(c); /* the read batch's reference */
    if (rerequest && !atomic_load(&s->stop_requested))
        qv_rpc__call_request_new(s, cq);
}

void qv_rpc__call_on_event(call_tag *t, bool ok)
{
    qv_rpc_call *c = t->call;
    switch (t->kind) {
    case TAG_NEW:
        on_new(c, ok);
        break;
    case TAG_READ:
        on_read(c, ok);
        break;
    case TAG_SEND:
        pthread_mutex_lock(&c->mu);
        c->send_done = true;
        c->send_ok = ok;
        pthread_cond_signal(&c->cv);
        pthread_mutex_unlock(&c->mu);
        call_unref(c);
        break;
    case TAG_FINAL:
        atomic_store(&c->final_ok, ok);
        call_unref(c);
        break;
    case TAG_CLOSE:
        if (c->close_cancelled)
            atomic_store(&c->client_cancelled, true);
        call_unref(c);
        break;
    }
}

/* ---- handler API ---- */

const char *qv_rpc_call_metadata(qv_rpc_call *c, const char *key)
{
    if (c->local) {
        for (size_t i = 0; i < c->n_lmd; i++)
            if (c->lmd[i].key && c->lmd[i].value &&
                strcmp(c->lmd[i].key, key) == 0)
                return qv_arena_strdup(&c->arena, c->lmd[i].value);
        return NULL;
    }
    for (size_t i = 0; i < c->md.count; i++) {
        if (grpc_slice_str_cmp(c->md.metadata[i].key, key) == 0)
            return qv_rpc__slice_dup(&c->arena, c->md.metadata[i].value);
    }
    return NULL;
}

const char *qv_rpc_call_peer(qv_rpc_call *c)
{
    if (!c->peer && c->local)
        c->peer = (char *)"local";
    if (!c->peer) {
        char *p = grpc_call_get_peer(c->call);
        c->peer = qv_arena_strdup(&c->arena, p ? p : "unknown");
        gpr_free(p);
    }
    return c->peer;
}

const char *qv_rpc_call_method(const qv_rpc_call *c)
{
    return c->m ? c->m->name : "unknown";
}

qv_arena *qv_rpc_call_arena(qv_rpc_call *c)
{
    return &c->arena;
}

int64_t qv_rpc_call_ms_left(const qv_rpc_call *c)
{
    return qv_rpc__ms_until(c->details.deadline);
}

bool qv_rpc_call_expired(const qv_rpc_call *c)
{
    return qv_rpc_call_ms_left(c) < 0 || atomic_load(&c->client_cancelled) ||
           atomic_load(&c->srv->cancel_all);
}

qv_code qv_rpc_call_send(qv_rpc_call *c, const ProtobufCMessage *msg,
                         qv_err *err)
{
    if (!c->m || c->m->m.kind != QV_RPC_SERVER_STREAM)
        return qv_fail(err, QV_E_INVALID,
                       "qv_rpc_call_send on non-streaming method '%s'",
                       qv_rpc_call_method(c));
    if (qv_rpc_call_expired(c))
        return qv_fail(err, QV_E_CANCELLED, "call '%s' from '%s' is over",
                       c->m->name, qv_rpc_call_peer(c));
    grpc_byte_buffer *bb = qv_rpc__pack(msg);
    if (!bb)
        return qv_fail(err, QV_E_NOMEM, "cannot pack a reply of '%s'",
                       c->m->name);
    grpc_op ops[2];
    size_t n = 0;
    memset(ops, 0, sizeof(ops));
    if (!c->md_sent) {
        ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
        n++;
        c->md_sent = true;
    }
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n].data.send_message.send_message = bb;
    n++;
    pthread_mutex_lock(&c->mu);
    c->send_done = false;
    pthread_mutex_unlock(&c->mu);
    bool started = start_batch(c, ops, n, &c->t_send);
    bool ok = false;
    if (started) {
        pthread_mutex_lock(&c->mu);
        while (!c->send_done)
            pthread_cond_wait(&c->cv, &c->mu);
        ok = c->send_ok;
        pthread_mutex_unlock(&c->mu);
    }
    grpc_byte_buffer_destroy(bb);
    if (!ok)
        return qv_fail(err, QV_E_CANCELLED,
                       "cannot stream a reply of '%s' to '%s': the call is "
                       "over",
                       c->m->name, qv_rpc_call_peer(c));
    return QV_OK;
}
