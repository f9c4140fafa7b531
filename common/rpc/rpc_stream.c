/* rpc_stream.c -- client streams: server streaming and bidi.
 *
 * One pluck queue per stream; the send side and the receive side use
 * different tags, so two threads can drive them at once.  A receive that
 * times out leaves its batch pending and the next receive plucks the same
 * tag.  The first receive batch also asks for the initial metadata (gRPC
 * never completes a receive without it).
 */
#include <grpc/support/alloc.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/rpc/rpc_internal.h"

#define OPEN_WAIT_MS   QV_RPC_DEFAULT_TIMEOUT_MS
#define STATUS_WAIT_MS 10000

struct qv_rpc_stream {
    qv_rpc_channel *ch; /* holds a reference */
    char *method;
    grpc_completion_queue *cq;
    grpc_call *call;
    gpr_timespec deadline;
    bool bidi;
    /* receive side (one thread at a time) */
    grpc_metadata_array imd;
    bool asked_imd;
    bool recv_pending;
    grpc_byte_buffer *recv_bb;
    int recv_tag;
    bool finished; /* status received */
    grpc_status_code status;
    grpc_slice details;
    const char *error_string;
    grpc_metadata_array tmd;
    int status_tag;
    /* send side */
    int send_tag;
    bool send_closed;
    atomic_bool cancelled;
};

static gpr_timespec pluck_until(const qv_rpc_stream *s, int64_t wait_ms)
{
    int64_t left = qv_rpc__ms_until(s->deadline);
    if (left != INT64_MAX)
        left += 1000; /* gRPC ends the call at the deadline itself */
    if (wait_ms >= 0 && wait_ms < left)
        left = wait_ms;
    return left == INT64_MAX ? gpr_inf_future(GPR_CLOCK_REALTIME)
                             : qv_rpc__deadline_in(left < 0 ? 0 : left);
}

/* Plucks tag; on timeout cancels the call and plucks it for sure. */
static bool pluck_or_cancel(qv_rpc_stream *s, void *tag, gpr_timespec until)
{
    grpc_event ev = grpc_completion_queue_pluck(s->cq, tag, until, NULL);
    if (ev.type == GRPC_OP_COMPLETE)
        return ev.success != 0;
    grpc_call_cancel(s->call, NULL);
    (void)grpc_completion_queue_pluck(s->cq, tag,
                                      gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    return false;
}

static qv_rpc_stream *stream_new(qv_rpc_channel *ch, const char *method,
                                 const qv_rpc_call_opts *opts, bool bidi)
{
    qv_rpc_stream *s = QV_NEW(qv_rpc_stream);
    qv_rpc__channel_ref(ch);
    s->ch = ch;
    s->method = qv_xstrdup(method);
    s->bidi = bidi;
    int64_t t = opts ? opts->timeout_ms : 0;
    s->deadline = qv_rpc__deadline_in(t == 0 ? -1 : t);
    s->cq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_slice m = grpc_slice_from_copied_string(method);
    s->call = grpc_channel_create_call(ch->ch, NULL, GRPC_PROPAGATE_DEFAULTS,
                                       s->cq, m, NULL, s->deadline, NULL);
    grpc_slice_unref(m);
    grpc_metadata_array_init(&s->imd);
    grpc_metadata_array_init(&s->tmd);
    s->details = grpc_empty_slice();
    return s;
}

/* Receives the final status (after the message stream ended). */
static qv_code finish(qv_rpc_stream *s, qv_err *err)
{
    if (!s->finished) {
        grpc_op op;
        memset(&op, 0, sizeof op);
        op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
        op.data.recv_status_on_client.trailing_metadata = &s->tmd;
        op.data.recv_status_on_client.status = &s->status;
        op.data.recv_status_on_client.status_details = &s->details;
        op.data.recv_status_on_client.error_string = &s->error_string;
        s->status = GRPC_STATUS_UNKNOWN;
        if (grpc_call_start_batch(s->call, &op, 1, &s->status_tag, NULL) ==
            GRPC_CALL_OK)
            (void)pluck_or_cancel(s, &s->status_tag,
                                  qv_rpc__deadline_in(STATUS_WAIT_MS));
        s->finished = true;
    }
    if (s->status == GRPC_STATUS_OK)
        return QV_OK;
    if (atomic_load(&s->cancelled))
        return qv_fail(err, QV_E_CANCELLED, "rpc '%s' to '%s': cancelled",
                       s->method, s->ch->target);
    return qv_rpc__status_fail(s->ch, s->method, s->status, s->details,
                               s->error_string, err);
}

/* Starts the first send batch (initial metadata, and for server streams
 * the request and half-close) and waits for it, bounded. */
static qv_code open_send(qv_rpc_stream *s, grpc_byte_buffer *req,
                         const qv_rpc_call_opts *opts, qv_err *err)
{
    grpc_metadata md[QV_RPC_MAX_MD];
    grpc_op ops[3];
    size_t n = 0;
    memset(ops, 0, sizeof ops);
    ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[n].data.send_initial_metadata.count = qv_rpc__md_fill(opts, md);
    ops[n].data.send_initial_metadata.metadata = md;
    ops[n].flags = qv_rpc__md_flags(opts);
    n++;
    if (req) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n].data.send_message.send_message = req;
        n++;
        ops[n].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
        n++;
        s->send_closed = true;
    }
    if (grpc_call_start_batch(s->call, ops, n, &s->send_tag, NULL) !=
        GRPC_CALL_OK)
        return qv_fail(err, QV_E_INTERNAL, "rpc '%s' to '%s': cannot start",
                       s->method, s->ch->target);
    gpr_timespec until = pluck_until(s, OPEN_WAIT_MS);
    grpc_event ev =
        grpc_completion_queue_pluck(s->cq, &s->send_tag, until, NULL);
    if (ev.type != GRPC_OP_COMPLETE) {
        grpc_call_cancel(s->call, NULL);
        (void)grpc_completion_queue_pluck(
            s->cq, &s->send_tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        (void)finish(s, err);
        return qv_fail(err, QV_E_UNAVAILABLE,
                       "rpc '%s' to '%s': cannot open the stream within "
                       "%d ms (target not reachable)",
                       s->method, s->ch->target, OPEN_WAIT_MS);
    }
    if (!ev.success) {
        qv_code rc = finish(s, err);
        return rc != QV_OK ? rc
                           : qv_fail(err, QV_E_UNAVAILABLE,
                                     "rpc '%s' to '%s': the stream closed "
                                     "while opening",
                                     s->method, s->ch->target);
    }
    return QV_OK;
}

static qv_code stream_open(qv_rpc_channel *ch, const char *method,
                           const ProtobufCMessage *req,
                           const qv_rpc_call_opts *opts, qv_rpc_stream **out,
                           qv_err *err)
{
    grpc_byte_buffer *bb = NULL;
    if (req && !(bb = qv_rpc__pack(req)))
        return qv_fail(err, QV_E_NOMEM,
                       "rpc '%s' to '%s': cannot pack the "
                       "request",
                       method, ch->target);
    qv_rpc_stream *s = stream_new(ch, method, opts, req == NULL);
    qv_code rc = open_send(s, bb, opts, err);
    if (bb)
        grpc_byte_buffer_destroy(bb);
    if (rc != QV_OK) {
        qv_rpc_stream_close(s);
        return rc;
    }
    *out = s;
    return QV_OK;
}

qv_code qv_rpc_stream_open(qv_rpc_channel *ch, const char *method,
                           const ProtobufCMessage *req,
                           const qv_rpc_call_opts *opts, qv_rpc_stream **out,
                           qv_err *err)
{
    if (!req)
        return qv_fail(err, QV_E_INVALID, "rpc '%s': a request is needed",
                       method);
    return stream_open(ch, method, req, opts, out, err);
}

qv_code qv_rpc_bidi_open(qv_rpc_channel *ch, const char *method,
                         const qv_rpc_call_opts *opts, qv_rpc_stream **out,
                         qv_err *err)
{
    return stream_open(ch, method, NULL, opts, out, err);
}

qv_code qv_rpc_stream_send(qv_rpc_stream *s, const ProtobufCMessage *msg,
                           qv_err *err)
{
    if (!s->bidi || s->send_closed)
        return qv_fail(err, QV_E_INVALID,
                       "rpc '%s' to '%s': the send side is closed", s->method,
                       s->ch->target);
    if (atomic_load(&s->cancelled))
        return qv_fail(err, QV_E_CANCELLED, "rpc '%s' to '%s': cancelled",
                       s->method, s->ch->target);
    grpc_byte_buffer *bb = qv_rpc__pack(msg);
    if (!bb)
        return qv_fail(err, QV_E_NOMEM,
                       "rpc '%s' to '%s': cannot pack a "
                       "message",
                       s->method, s->ch->target);
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_SEND_MESSAGE;
    op.data.send_message.send_message = bb;
    bool ok = false;
    if (grpc_call_start_batch(s->call, &op, 1, &s->send_tag, NULL) ==
        GRPC_CALL_OK)
        ok = pluck_or_cancel(s, &s->send_tag, pluck_until(s, -1));
    grpc_byte_buffer_destroy(bb);
    if (!ok)
        return qv_fail(
            err, atomic_load(&s->cancelled) ? QV_E_CANCELLED : QV_E_UNAVAILABLE,
            "rpc '%s' to '%s': cannot send: the stream is over "
            "(receive gives its status)",
            s->method, s->ch->target);
    return QV_OK;
}

qv_code qv_rpc_stream_close_send(qv_rpc_stream *s, qv_err *err)
{
    if (!s->bidi || s->send_closed)
        return QV_OK;
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    s->send_closed = true;
    if (grpc_call_start_batch(s->call, &op, 1, &s->send_tag, NULL) !=
            GRPC_CALL_OK ||
        !pluck_or_cancel(s, &s->send_tag, pluck_until(s, -1)))
        return qv_fail(err, QV_E_UNAVAILABLE,
                       "rpc '%s' to '%s': cannot half-close: the stream is "
                       "over",
                       s->method, s->ch->target);
    return QV_OK;
}

qv_code qv_rpc_stream_recv(qv_rpc_stream *s,
                           const ProtobufCMessageDescriptor *desc,
                           qv_arena *arena, ProtobufCMessage **msg,
                           int64_t wait_ms, qv_err *err)
{
    if (s->finished) {
        qv_code rc = finish(s, err);
        if (rc == QV_OK)
            *msg = NULL;
        return rc;
    }
    if (!s->recv_pending) {
        grpc_op ops[2];
        size_t n = 0;
        memset(ops, 0, sizeof ops);
        if (!s->asked_imd) {
            ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
            ops[n].data.recv_initial_metadata.recv_initial_metadata = &s->imd;
            n++;
            s->asked_imd = true;
        }
        ops[n].op = GRPC_OP_RECV_MESSAGE;
        ops[n].data.recv_message.recv_message = &s->recv_bb;
        n++;
        s->recv_bb = NULL;
        if (grpc_call_start_batch(s->call, ops, n, &s->recv_tag, NULL) !=
            GRPC_CALL_OK)
            return qv_fail(err, QV_E_INTERNAL,
                           "rpc '%s' to '%s': cannot start a receive",
                           s->method, s->ch->target);
        s->recv_pending = true;
    }
    grpc_event ev = grpc_completion_queue_pluck(s->cq, &s->recv_tag,
                                                pluck_until(s, wait_ms), NULL);
    if (ev.type != GRPC_OP_COMPLETE) {
        if (qv_rpc__ms_until(s->deadline) >= 0 && wait_ms >= 0)
            return qv_fail(err, QV_E_TIMEOUT,
                           "rpc '%s' to '%s': no message within the %lld ms "
                           "wait",
                           s->method, s->ch->target, (long long)wait_ms);
        grpc_call_cancel(s->call, NULL);
        (void)grpc_completion_queue_pluck(
            s->cq, &s->recv_tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    }
    s->recv_pending = false;
    if (s->recv_bb) {
        grpc_byte_buffer *bb = s->recv_bb;
        s->recv_bb = NULL;
        qv_code rc = qv_rpc__unpack(desc, bb, arena, msg, err);
        grpc_byte_buffer_destroy(bb);
        if (rc != QV_OK)
            return qv_err_prefix(err, "rpc '%s' to '%s': bad message",
                                 s->method, s->ch->target);
        return QV_OK;
    }
    qv_code rc = finish(s, err);
    if (rc == QV_OK)
        *msg = NULL;
    return rc;
}

void qv_rpc_stream_cancel(qv_rpc_stream *s)
{
    if (!atomic_exchange(&s->cancelled, true))
        grpc_call_cancel(s->call, NULL);
}

void qv_rpc_stream_close(qv_rpc_stream *s)
{
    if (!s)
        return;
    if (!s->finished)
        grpc_call_cancel(s->call, NULL);
    if (s->recv_pending)
        (void)grpc_completion_queue_pluck(
            s->cq, &s->recv_tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (s->recv_bb)
        grpc_byte_buffer_destroy(s->recv_bb);
    grpc_metadata_array_destroy(&s->imd);
    grpc_metadata_array_destroy(&s->tmd);
    grpc_slice_unref(s->details);
    gpr_free((void *)s->error_string);
    grpc_call_unref(s->call);
    qv_rpc__cq_destroy(s->cq);
    qv_rpc_channel_close(s->ch);
    free(s->method);
    free(s);
}
