/* rpc_local.c -- in-process calls: a unary call whose target is a server
 * of this process runs the server's handler on the calling thread.
 *
 * Off by default; qv_rpc_local_enable() turns it on (quiver standalone).
 * The request is packed and unpacked into the call's own arena, the reply
 * packed and unpacked into the caller's, exactly what crosses the wire, so
 * no memory is shared between caller and handler.  Status, error text,
 * deadlines, metadata, message limits and on_call_done follow the gRPC
 * path; what differs: the peer is "local", the handler does not use one of
 * the server's workers, and a caller waits for its handler to return even
 * past the deadline (handlers are bounded: they check
 * qv_rpc_call_expired()), then reports DEADLINE_EXCEEDED.
 *
 * Registry: started servers without TLS, matched by port and host (any
 * loopback name matches a loopback or wildcard server).  A lookup pins the
 * server (local_calls) under the registry lock; shutdown unlists the server
 * and waits for its local calls before gRPC is torn down.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/rpc/rpc_server_int.h"
#include "proto/pb_arena.h"
#include "proto/rpc_status.h"

#define LOCAL_MAX_SERVERS 64
#define CALL_ARENA_BLOCK  ((size_t)16 * 1024)
#define DEFAULT_MSG_LIMIT (512LL << 20)

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reg_cv = PTHREAD_COND_INITIALIZER;
static qv_rpc_server *reg[LOCAL_MAX_SERVERS];
static size_t n_reg;
static atomic_bool enabled;

void qv_rpc_local_enable(bool on)
{
    const char *e = getenv("QV_RPC_LOCAL");
    if (on && e && (strcmp(e, "0") == 0 || strcmp(e, "off") == 0))
        on = false;
    atomic_store(&enabled, on);
}

bool qv_rpc_local_enabled(void)
{
    return atomic_load(&enabled);
}

void qv_rpc__local_add(qv_rpc_server *s)
{
    if (s->opts.tls_cert_file || s->opts.tls_key_file)
        return;
    pthread_mutex_lock(&reg_mu);
    if (n_reg < LOCAL_MAX_SERVERS) {
        reg[n_reg++] = s;
        s->local_listed = true;
    }
    pthread_mutex_unlock(&reg_mu);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void qv_rpc__local_remove(qv_rpc_server *s)
{
    pthread_mutex_lock(&reg_mu);
    for (size_t i = 0; i < n_reg; i++)
        if (reg[i] == s) {
            reg[i] = reg[--n_reg];
            break;
        }
    s->local_listed = false;
    int64_t grace_end = mono_ms() + s->opts.shutdown_grace_ms;
    while (s->local_calls > 0) {
        if (mono_ms() >= grace_end)
            atomic_store(&s->cancel_all, true); /* handlers see expired */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 20L * 1000000;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&reg_cv, &reg_mu, &until);
    }
    pthread_mutex_unlock(&reg_mu);
}

static bool loopback(const char *h, size_t n)
{
    static const char *const names[] = {"127.0.0.1", "localhost", "::1",
                                        "[::1]"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i]) == n && memcmp(names[i], h, n) == 0)
            return true;
    return false;
}

static bool wildcard(const char *h)
{
    return strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0 ||
           strcmp(h, "[::]") == 0;
}

/* Splits target ("[ipv4:|ipv6:|dns:///]host:port") into host and port. */
static bool split_target(const char *t, const char **host, size_t *hlen,
                         int *port)
{
    static const char *const prefixes[] = {"ipv4:", "ipv6:", "dns:///"};
    for (size_t i = 0; i < 3; i++)
        if (strncmp(t, prefixes[i], strlen(prefixes[i])) == 0) {
            t += strlen(prefixes[i]);
            break;
        }
    const char *colon = strrchr(t, ':');
    if (!colon || colon == t)
        return false;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (*end || p <= 0 || p > 65535)
        return false;
    *host = t;
    *hlen = (size_t)(colon - t);
    *port = (int)p;
    return true;
}

static bool host_matches(const qv_rpc_server *s, const char *h, size_t n)
{
    if (strlen(s->host) == n && memcmp(s->host, h, n) == 0)
        return true;
    return loopback(h, n) &&
           (loopback(s->host, strlen(s->host)) || wildcard(s->host));
}

/* The listed server behind target that has method as a unary handler,
 * pinned (local_calls raised), or NULL. */
static qv_rpc_server *local_find(const char *target, const char *method,
                                 const reg_method **m)
{
    const char *h;
    size_t hl;
    int port;
    if (!split_target(target, &h, &hl, &port))
        return NULL;
    qv_rpc_server *found = NULL;
    pthread_mutex_lock(&reg_mu);
    for (size_t i = 0; i < n_reg && !found; i++) {
        qv_rpc_server *s = reg[i];
        if (s->port != port || !host_matches(s, h, hl) ||
            atomic_load(&s->stop_requested))
            continue;
        const reg_method *r = qv_rpc__find_method(s, method, strlen(method));
        if (r && r->m.kind == QV_RPC_UNARY) {
            found = s;
            *m = r;
            s->local_calls++;
        }
    }
    pthread_mutex_unlock(&reg_mu);
    return found;
}

static void local_unpin(qv_rpc_server *s)
{
    pthread_mutex_lock(&reg_mu);
    if (--s->local_calls == 0)
        pthread_cond_broadcast(&reg_cv);
    pthread_mutex_unlock(&reg_mu);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t msg_limit(int64_t v)
{
    return v == 0 ? DEFAULT_MSG_LIMIT : v < 0 ? INT64_MAX : v;
}

/* Packs m with malloc; NULL when it cannot. */
static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *b = malloc(*len ? *len : 1);
    if (b && protobuf_c_message_pack(m, b) != *len) {
        free(b);
        b = NULL;
    }
    return b;
}

static ProtobufCMessage *unpack(const ProtobufCMessageDescriptor *d,
                                const uint8_t *b, size_t len, qv_arena *a)
{
    ProtobufCAllocator alloc = qv_pb_arena_allocator(a);
    return protobuf_c_message_unpack(d, a ? &alloc : NULL, len, b);
}

/* Runs the handler on this thread: fills *reply (malloc'd bytes) on OK and
 * returns the gRPC status, with details in herr. */
static int run_local(qv_rpc_call *c, const ProtobufCMessage *req,
                     uint8_t **reply, size_t *rlen, qv_err *herr)
{
    const reg_method *rm = c->m;
    size_t qlen;
    uint8_t *q = pack(req, &qlen);
    if (!q) {
        qv_fail(herr, QV_E_NOMEM, "cannot pack the request");
        return GRPC_STATUS_INTERNAL;
    }
    if ((int64_t)qlen > msg_limit(c->srv->opts.max_recv_bytes)) {
        free(q);
        qv_fail(herr, QV_E_INVALID,
                "received message larger than max (%zu bytes)", qlen);
        return GRPC_STATUS_RESOURCE_EXHAUSTED;
    }
    ProtobufCMessage *in = unpack(rm->m.req_desc, q, qlen, &c->arena);
    free(q);
    if (qv_rpc_call_ms_left(c) < 0) {
        qv_fail(herr, QV_E_TIMEOUT, "deadline exceeded before '%s' ran",
                rm->name);
        return GRPC_STATUS_DEADLINE_EXCEEDED;
    }
    if (!in) {
        qv_fail(herr, QV_E_INVALID,
                "bad request to '%s': cannot parse %zu "
                "bytes as message '%s'",
                rm->name, qlen, rm->m.req_desc->name);
        return GRPC_STATUS_INVALID_ARGUMENT;
    }
    ProtobufCMessage *resp = NULL;
    qv_code rc = rm->m.unary(c, in, &resp, rm->m.user_data, herr);
    if (rc == QV_OK && !resp)
        rc = qv_fail(herr, QV_E_INTERNAL, "'%s' returned no reply", rm->name);
    if (rc == QV_OK && !(*reply = pack(resp, rlen)))
        rc = qv_fail(herr, QV_E_NOMEM, "cannot pack the reply of '%s'",
                     rm->name);
    int st = qv_rpc_status_to_grpc(rc);
    if (st == GRPC_STATUS_OK &&
        (int64_t)*rlen > msg_limit(c->srv->opts.max_send_bytes)) {
        qv_fail(herr, QV_E_INVALID, "sent message larger than max (%zu bytes)",
                *rlen);
        st = GRPC_STATUS_RESOURCE_EXHAUSTED;
    }
    /* the caller's gRPC deadline would have fired meanwhile */
    if (qv_rpc_call_ms_left(c) < 0 && st != GRPC_STATUS_DEADLINE_EXCEEDED) {
        qv_fail(herr, QV_E_TIMEOUT, "Deadline Exceeded");
        st = GRPC_STATUS_DEADLINE_EXCEEDED;
    }
    if (st != GRPC_STATUS_OK) {
        free(*reply);
        *reply = NULL;
    }
    return st;
}

bool qv_rpc__local_unary(qv_rpc_channel *ch, const char *method,
                         const ProtobufCMessage *req,
                         const ProtobufCMessageDescriptor *resp_desc,
                         qv_arena *arena, ProtobufCMessage **resp,
                         const qv_rpc_call_opts *opts, qv_code *rc, qv_err *err)
{
    if (!atomic_load(&enabled) || strcmp(ch->key, ch->target) != 0)
        return false; /* off, or a TLS channel */
    const reg_method *rm = NULL;
    qv_rpc_server *s = local_find(ch->target, method, &rm);
    if (!s)
        return false;
    int64_t timeout = opts ? opts->timeout_ms : 0;
    if (timeout == 0)
        timeout = QV_RPC_DEFAULT_TIMEOUT_MS;
    qv_rpc_call c;
    memset(&c, 0, sizeof c);
    c.srv = s;
    c.local = true;
    c.m = rm;
    c.lmd = opts ? opts->md : NULL;
    c.n_lmd = opts && opts->md ? opts->n_md : 0;
    c.details.deadline = qv_rpc__deadline_in(timeout);
    c.start_ns = now_ns();
    qv_arena_init(&c.arena, CALL_ARENA_BLOCK);
    qv_err herr;
    qv_err_clear(&herr);
    uint8_t *reply = NULL;
    size_t rlen = 0;
    int st = run_local(&c, req, &reply, &rlen, &herr);
    if (s->opts.on_call_done)
        s->opts.on_call_done(rm->name, st, now_ns() - c.start_ns,
                             s->opts.on_call_done_data);
    qv_arena_release(&c.arena);
    local_unpin(s);
    if (opts && opts->status_out)
        *opts->status_out = st;
    if (st != GRPC_STATUS_OK) {
        *rc = qv_fail(err, qv_rpc_status_from_grpc(st),
                      "rpc '%s' to '%s': %s%s%s", method, ch->target,
                      qv_rpc_status_grpc_name(st), herr.msg[0] ? ": " : "",
                      herr.msg);
        return true;
    }
    ProtobufCMessage *m = unpack(resp_desc, reply, rlen, arena);
    if (!m)
        *rc = qv_fail(err, QV_E_INVALID,
                      "rpc '%s' to '%s': bad reply: cannot parse %zu bytes as "
                      "message '%s'",
                      method, ch->target, rlen, resp_desc->name);
    else {
        *resp = m;
        *rc = QV_OK;
    }
    free(reply);
    return true;
}
