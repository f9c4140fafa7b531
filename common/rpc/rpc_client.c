/* rpc_client.c -- the channel cache and unary calls with retries.
 *
 * Each call uses its own pluck completion queue, so calls from many
 * threads never wait on each other; every started batch is plucked before
 * the queue is destroyed.
 */
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/rpc/rpc_internal.h"
#include "proto/rpc_status.h"

#define DEFAULT_ATTEMPTS 5
#define BACKOFF_FIRST_MS 50
#define BACKOFF_MAX_MS   2000
/* Extra time to pluck a batch after its call's deadline: gRPC itself ends
 * the call at the deadline, this only guards against a lost event. */
#define PLUCK_MARGIN_MS 5000

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static qv_rpc_channel *cache_head;

static grpc_channel *make_channel(const char *target,
                                  grpc_channel_credentials *cc,
                                  const char *server_name, bool own)
{
    grpc_arg a[9];
    memset(a, 0, sizeof a);
    const char *keys[7] = {GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
                           GRPC_ARG_MAX_SEND_MESSAGE_LENGTH,
                           GRPC_ARG_KEEPALIVE_TIME_MS,
                           GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS,
                           GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
                           GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
                           GRPC_ARG_DNS_MIN_TIME_BETWEEN_RESOLUTIONS_MS};
    int vals[7] = {-1, -1, 30000, 1, 100, 2000, 1000};
    size_t n = 0;
    for (; n < 7; n++) {
        a[n].type = GRPC_ARG_INTEGER;
        a[n].key = (char *)keys[n];
        a[n].value.integer = vals[n];
    }
    if (server_name) {
        a[n].type = GRPC_ARG_STRING;
        a[n].key = (char *)GRPC_SSL_TARGET_NAME_OVERRIDE_ARG;
        a[n].value.string = (char *)server_name;
        n++;
    }
    if (own) { /* a connection of its own, not gRPC's shared subchannel */
        a[n].type = GRPC_ARG_INTEGER;
        a[n].key = (char *)GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL;
        a[n].value.integer = 1;
        n++;
    }
    grpc_channel_args args = {.num_args = n, .args = a};
    return grpc_channel_create(target, cc, &args);
}

static bool bad_target(const char *target)
{
    return !target || !*target || !strchr(target, ':');
}

/* Finds the cached channel for key or creates it (TLS when tls). */
static qv_code channel_get(const char *target, const char *key,
                           const qv_rpc_tls *tls, bool own,
                           qv_rpc_channel **out, qv_err *err)
{
    pthread_mutex_lock(&cache_mu);
    for (qv_rpc_channel *c = cache_head; c; c = c->next) {
        if (strcmp(c->key, key) == 0) {
            c->refs++;
            pthread_mutex_unlock(&cache_mu);
            *out = c;
            return QV_OK;
        }
    }
    grpc_channel_credentials *cc = NULL;
    qv_code rc = tls ? qv_rpc__channel_creds(tls, &cc, err) : QV_OK;
    if (rc != QV_OK) {
        pthread_mutex_unlock(&cache_mu);
        return qv_err_prefix(err, "channel to '%s'", target);
    }
    qv_rpc__grpc_init();
    if (!cc)
        cc = grpc_insecure_credentials_create();
    grpc_channel *gc =
        make_channel(target, cc, tls ? tls->server_name : NULL, own);
    grpc_channel_credentials_release(cc);
    if (!gc) {
        pthread_mutex_unlock(&cache_mu);
        grpc_shutdown();
        return qv_fail(err, QV_E_INVALID, "cannot create a channel to '%s'",
                       target);
    }
    qv_rpc_channel *c = QV_NEW(qv_rpc_channel);
    pthread_mutex_init(&c->cq_mu, NULL);
    c->target = qv_xstrdup(target);
    c->key = qv_xstrdup(key);
    c->ch = gc;
    c->refs = 1;
    c->next = cache_head;
    cache_head = c;
    pthread_mutex_unlock(&cache_mu);
    *out = c;
    return QV_OK;
}

qv_code qv_rpc_channel_open(const char *target, qv_rpc_channel **out,
                            qv_err *err)
{
    if (bad_target(target))
        return qv_fail(err, QV_E_INVALID,
                       "bad rpc target '%s': want 'host:port'",
                       target ? target : "(null)");
    return channel_get(target, target, NULL, false, out, err);
}

qv_code qv_rpc_channel_open_own(const char *target, qv_rpc_channel **out,
                                qv_err *err)
{
    static atomic_ulong seq;
    if (bad_target(target))
        return qv_fail(err, QV_E_INVALID,
                       "bad rpc target '%s': want 'host:port'",
                       target ? target : "(null)");
    char key[300];
    (void)snprintf(key, sizeof key, "own|%lu|%s",
                   (unsigned long)atomic_fetch_add(&seq, 1), target);
    return channel_get(target, key, NULL, true, out, err);
}

qv_code qv_rpc_channel_open_tls(const char *target, const qv_rpc_tls *tls,
                                qv_rpc_channel **out, qv_err *err)
{
    if (bad_target(target))
        return qv_fail(err, QV_E_INVALID,
                       "bad rpc target '%s': want 'host:port'",
                       target ? target : "(null)");
    if (!tls)
        return qv_rpc_channel_open(target, out, err);
#define S(x) ((x) ? (x) : "")
    char *key =
        qv_xasprintf("tls|%s|%s|%s|%s|%s", S(tls->ca_file), S(tls->cert_file),
                     S(tls->key_file), S(tls->server_name), target);
#undef S
    qv_code rc = channel_get(target, key, tls, false, out, err);
    free(key);
    return rc;
}

void qv_rpc__channel_ref(qv_rpc_channel *ch)
{
    pthread_mutex_lock(&cache_mu);
    ch->refs++;
    pthread_mutex_unlock(&cache_mu);
}

void qv_rpc_channel_close(qv_rpc_channel *ch)
{
    if (!ch)
        return;
    pthread_mutex_lock(&cache_mu);
    if (--ch->refs > 0) {
        pthread_mutex_unlock(&cache_mu);
        return;
    }
    for (qv_rpc_channel **p = &cache_head; *p; p = &(*p)->next) {
        if (*p == ch) {
            *p = ch->next;
            break;
        }
    }
    pthread_mutex_unlock(&cache_mu);
    for (int i = 0; i < ch->n_idle_cq; i++)
        qv_rpc__cq_destroy(ch->idle_cq[i]);
    pthread_mutex_destroy(&ch->cq_mu);
    grpc_channel_destroy(ch->ch);
    free(ch->target);
    free(ch->key);
    free(ch);
    grpc_shutdown();
}

const char *qv_rpc_channel_target(const qv_rpc_channel *ch)
{
    return ch->target;
}

size_t qv_rpc__md_fill(const qv_rpc_call_opts *opts, grpc_metadata *md)
{
    size_t n = 0;
    if (!opts || !opts->md)
        return 0;
    for (size_t i = 0; i < opts->n_md && n < QV_RPC_MAX_MD; i++) {
        if (!opts->md[i].key || !opts->md[i].value)
            continue;
        memset(&md[n], 0, sizeof md[n]);
        md[n].key = grpc_slice_from_static_string(opts->md[i].key);
        md[n].value = grpc_slice_from_static_string(opts->md[i].value);
        n++;
    }
    return n;
}

uint32_t qv_rpc__md_flags(const qv_rpc_call_opts *opts)
{
    if (opts && (opts->flags & QV_RPC_FAIL_FAST))
        return 0;
    return GRPC_INITIAL_METADATA_WAIT_FOR_READY |
           GRPC_INITIAL_METADATA_WAIT_FOR_READY_EXPLICITLY_SET;
}

qv_code qv_rpc__status_fail(qv_rpc_channel *ch, const char *method,
                            grpc_status_code st, grpc_slice details,
                            const char *error_string, qv_err *err)
{
    char *d = grpc_slice_to_c_string(details);
    qv_code rc = qv_rpc_status_from_grpc((int)st);
    grpc_connectivity_state cs =
        grpc_channel_check_connectivity_state(ch->ch, 0);
    const char *extra = "";
    if (st == GRPC_STATUS_DEADLINE_EXCEEDED && cs != GRPC_CHANNEL_READY) {
        rc = QV_E_UNAVAILABLE;
        extra = " (target not reachable)";
    }
    qv_fail(err, rc, "rpc '%s' to '%s': %s%s%s%s%s", method, ch->target,
            qv_rpc_status_grpc_name((int)st), extra, *d ? ": " : "", d,
            (error_string && !*d) ? error_string : "");
    gpr_free(d);
    return rc;
}

void qv_rpc__cq_destroy(grpc_completion_queue *cq)
{
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL,
                                       gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
               .type != GRPC_QUEUE_SHUTDOWN) {
    }
    grpc_completion_queue_destroy(cq);
}

/* A pluck queue for one unary call on ch: an idle one, or a new one. */
static grpc_completion_queue *cq_take(qv_rpc_channel *ch)
{
    grpc_completion_queue *cq = NULL;
    pthread_mutex_lock(&ch->cq_mu);
    if (ch->n_idle_cq > 0)
        cq = ch->idle_cq[--ch->n_idle_cq];
    pthread_mutex_unlock(&ch->cq_mu);
    return cq ? cq : grpc_completion_queue_create_for_pluck(NULL);
}

/* Returns a queue whose tags were all plucked. */
static void cq_give(qv_rpc_channel *ch, grpc_completion_queue *cq)
{
    pthread_mutex_lock(&ch->cq_mu);
    if (ch->n_idle_cq < QV_RPC_IDLE_CQS) {
        ch->idle_cq[ch->n_idle_cq++] = cq;
        cq = NULL;
    }
    pthread_mutex_unlock(&ch->cq_mu);
    if (cq)
        qv_rpc__cq_destroy(cq);
}

/* One attempt; on success *reply is the reply buffer (caller destroys). */
static qv_code unary_attempt(qv_rpc_channel *ch, const char *method,
                             grpc_byte_buffer *req, gpr_timespec deadline,
                             const qv_rpc_call_opts *opts,
                             grpc_byte_buffer **reply, int *status, qv_err *err)
{
    grpc_completion_queue *cq = cq_take(ch);
    grpc_slice m = grpc_slice_from_copied_string(method);
    grpc_call *call = grpc_channel_create_call(
        ch->ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq, m, NULL, deadline, NULL);
    grpc_slice_unref(m);
    grpc_metadata md[QV_RPC_MAX_MD];
    grpc_metadata_array imd, tmd;
    grpc_metadata_array_init(&imd);
    grpc_metadata_array_init(&tmd);
    grpc_byte_buffer *in = NULL;
    grpc_status_code st = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();
    const char *error_string = NULL;
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = qv_rpc__md_fill(opts, md);
    ops[0].data.send_initial_metadata.metadata = md;
    ops[0].flags = qv_rpc__md_flags(opts);
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = req;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &imd;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &in;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &tmd;
    ops[5].data.recv_status_on_client.status = &st;
    ops[5].data.recv_status_on_client.status_details = &details;
    ops[5].data.recv_status_on_client.error_string = &error_string;
    int tag = 0;
    qv_code rc;
    grpc_call_error ce = grpc_call_start_batch(call, ops, 6, &tag, NULL);
    if (ce != GRPC_CALL_OK) {
        rc = qv_fail(err, QV_E_INTERNAL,
                     "rpc '%s' to '%s': cannot start the call (error %d)",
                     method, ch->target, (int)ce);
        *status = GRPC_STATUS_INTERNAL;
    } else {
        gpr_timespec until = gpr_time_add(
            deadline, gpr_time_from_millis(PLUCK_MARGIN_MS, GPR_TIMESPAN));
        grpc_event ev = grpc_completion_queue_pluck(cq, &tag, until, NULL);
        if (ev.type != GRPC_OP_COMPLETE) {
            grpc_call_cancel(call, NULL);
            (void)grpc_completion_queue_pluck(
                cq, &tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        }
        *status = (int)st;
        if (st == GRPC_STATUS_OK && in) {
            *reply = in;
            in = NULL;
            rc = QV_OK;
        } else if (st == GRPC_STATUS_OK) {
            rc = qv_fail(err, QV_E_INTERNAL,
                         "rpc '%s' to '%s': OK status without a reply", method,
                         ch->target);
        } else {
            rc =
                qv_rpc__status_fail(ch, method, st, details, error_string, err);
        }
    }
    if (in)
        grpc_byte_buffer_destroy(in);
    grpc_slice_unref(details);
    gpr_free((void *)error_string);
    grpc_metadata_array_destroy(&imd);
    grpc_metadata_array_destroy(&tmd);
    grpc_call_unref(call);
    cq_give(ch, cq);
    return rc;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* Backoff before attempt `n` (n >= 1 retries done), with 50-100% jitter. */
static int64_t backoff_ms(int n)
{
    int64_t b = BACKOFF_FIRST_MS;
    for (int i = 1; i < n && b < BACKOFF_MAX_MS; i++)
        b *= 2;
    if (b > BACKOFF_MAX_MS)
        b = BACKOFF_MAX_MS;
    static _Thread_local unsigned seed;
    if (!seed)
        seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)&seed;
    return b / 2 + (int64_t)(rand_r(&seed) % (unsigned)(b / 2 + 1));
}

qv_code qv_rpc_unary(qv_rpc_channel *ch, const char *method,
                     const ProtobufCMessage *req,
                     const ProtobufCMessageDescriptor *resp_desc,
                     qv_arena *arena, ProtobufCMessage **resp,
                     const qv_rpc_call_opts *opts, qv_err *err)
{
    qv_code lrc;
    if (qv_rpc__local_unary(ch, method, req, resp_desc, arena, resp, opts, &lrc,
                            err))
        return lrc;
    int64_t timeout = opts ? opts->timeout_ms : 0;
    if (timeout == 0)
        timeout = QV_RPC_DEFAULT_TIMEOUT_MS;
    gpr_timespec deadline = qv_rpc__deadline_in(timeout);
    bool idem = opts && (opts->flags & QV_RPC_IDEMPOTENT);
    int max =
        idem ? (opts->max_attempts > 0 ? opts->max_attempts : DEFAULT_ATTEMPTS)
             : 1;
    grpc_byte_buffer *bb = qv_rpc__pack(req);
    if (!bb)
        return qv_fail(err, QV_E_NOMEM,
                       "rpc '%s' to '%s': cannot pack the "
                       "request",
                       method, ch->target);
    grpc_byte_buffer *reply = NULL;
    int status = GRPC_STATUS_UNKNOWN;
    qv_code rc = QV_E_INTERNAL;
    for (int attempt = 1; attempt <= max; attempt++) {
        /* gRPC consumes a sent buffer's contents: send a copy. */
        grpc_byte_buffer *copy = grpc_byte_buffer_copy(bb);
        rc = unary_attempt(ch, method, copy, deadline, opts, &reply, &status,
                           err);
        grpc_byte_buffer_destroy(copy);
        if (rc == QV_OK || status != GRPC_STATUS_UNAVAILABLE || attempt == max)
            break;
        int64_t wait = backoff_ms(attempt);
        if (qv_rpc__ms_until(deadline) <= wait)
            break;
        sleep_ms(wait);
    }
    grpc_byte_buffer_destroy(bb);
    if (opts && opts->status_out)
        *opts->status_out = status;
    if (rc != QV_OK)
        return rc;
    rc = qv_rpc__unpack(resp_desc, reply, arena, resp, err);
    grpc_byte_buffer_destroy(reply);
    if (rc != QV_OK)
        return qv_err_prefix(err, "rpc '%s' to '%s': bad reply", method,
                             ch->target);
    return QV_OK;
}
