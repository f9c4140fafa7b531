/* rpc_server.c -- server lifecycle: create, register, bind, the
 * completion-queue thread, graceful shutdown.  Per-call work is in
 * rpc_call.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <grpc/grpc_security.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/log.h"
#include "common/rpc/rpc_server_int.h"

#define DEFAULT_MSG_LIMIT (512LL << 20)
#define DEFAULT_QUEUE_CAP 1024
#define DEFAULT_GRACE_MS  5000
#define PENDING_ACCEPTS   8
#define CQ_POLL_MS        50

static int64_t limit_or_default(int64_t v)
{
    if (v == 0)
        return DEFAULT_MSG_LIMIT;
    if (v < 0 || v > INT32_MAX)
        return -1; /* gRPC core: -1 is unlimited */
    return v;
}

static atomic_bool inline_default;

void qv_rpc_server_inline_default(bool on)
{
    const char *e = getenv("QV_RPC_INLINE");
    if (on && e && (strcmp(e, "0") == 0 || strcmp(e, "off") == 0))
        on = false;
    atomic_store(&inline_default, on);
}

static char *dup_or_null(const char *v)
{
    return v && *v ? qv_xstrdup(v) : NULL;
}

qv_code qv_rpc_server_create(const qv_rpc_server_opts *opts,
                             qv_rpc_server **out, qv_err *err)
{
    if (!opts || opts->port < 0 || opts->port > 65535)
        return qv_fail(err, QV_E_INVALID, "rpc server: bad port %d",
                       opts ? opts->port : -1);
    qv_rpc_server *s = QV_NEW(qv_rpc_server);
    s->opts = *opts;
    s->host = qv_xstrdup(opts->host && *opts->host ? opts->host : "127.0.0.1");
    s->opts.host = s->host;
    s->opts.tls_cert_file = s->tls_cert = dup_or_null(opts->tls_cert_file);
    s->opts.tls_key_file = s->tls_key = dup_or_null(opts->tls_key_file);
    s->opts.tls_client_ca_file = s->tls_ca =
        dup_or_null(opts->tls_client_ca_file);
    if (!s->opts.queue_cap)
        s->opts.queue_cap = DEFAULT_QUEUE_CAP;
    if (atomic_load(&inline_default))
        s->opts.inline_unary = true;
    if (s->opts.shutdown_grace_ms <= 0)
        s->opts.shutdown_grace_ms = DEFAULT_GRACE_MS;
    pthread_mutex_init(&s->life_mu, NULL);
    pthread_mutex_init(&s->stop_mu, NULL);
    pthread_cond_init(&s->stop_cv, NULL);
    *out = s;
    return QV_OK;
}

qv_code qv_rpc_server_register_unary(qv_rpc_server *s,
                                     const qv_rpc_unary_def *defs, size_t n,
                                     void *ud, qv_err *err)
{
    qv_code rc = QV_OK;
    for (size_t i = 0; !rc && i < n; i++) {
        qv_rpc_method m = {.name = defs[i].name,
                           .kind = QV_RPC_UNARY,
                           .req_desc = defs[i].req_desc,
                           .unary = defs[i].fn,
                           .user_data = ud};
        rc = qv_rpc_server_register(s, &m, err);
    }
    return rc;
}

qv_code qv_rpc_server_register(qv_rpc_server *s, const qv_rpc_method *m,
                               qv_err *err)
{
    if (s->started)
        return qv_fail(err, QV_E_INVALID,
                       "cannot register '%s': the server is started",
                       m && m->name ? m->name : "?");
    if (!m || !m->name || m->name[0] != '/' || !strchr(m->name + 1, '/') ||
        !m->req_desc)
        return qv_fail(err, QV_E_INVALID,
                       "cannot register method '%s': need a full name "
                       "'/pkg.Service/Method' and a request descriptor",
                       m && m->name ? m->name : "(null)");
    if ((m->kind == QV_RPC_UNARY && !m->unary) ||
        (m->kind == QV_RPC_SERVER_STREAM && !m->stream) ||
        (m->kind != QV_RPC_UNARY && m->kind != QV_RPC_SERVER_STREAM))
        return qv_fail(err, QV_E_INVALID,
                       "cannot register '%s': handler missing for its kind",
                       m->name);
    for (size_t i = 0; i < s->n_methods; i++) {
        if (strcmp(s->methods[i].name, m->name) == 0)
            return qv_fail(err, QV_E_EXISTS,
                           "cannot register '%s': already registered", m->name);
    }
    if (s->n_methods == s->cap_methods) {
        s->cap_methods = s->cap_methods ? 2 * s->cap_methods : 16;
        s->methods =
            qv_xrealloc(s->methods, s->cap_methods * sizeof(*s->methods));
    }
    reg_method *r = &s->methods[s->n_methods++];
    r->name = qv_xstrdup(m->name);
    r->m = *m;
    r->m.name = r->name;
    return QV_OK;
}

static int cmp_method(const void *a, const void *b)
{
    return strcmp(((const reg_method *)a)->name, ((const reg_method *)b)->name);
}

/* Checks that host:port can be bound, to report errno (gRPC only says it
 * failed).  Port 0 is always free. */
static qv_code probe_bind(const char *host, int port, const char *addr,
                          qv_err *err)
{
    if (port == 0)
        return QV_OK;
    char h[256];
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']' && hl - 2 < sizeof h) {
        memcpy(h, host + 1, hl - 2);
        h[hl - 2] = '\0';
    } else {
        (void)snprintf(h, sizeof h, "%s", host);
    }
    char ps[16];
    (void)snprintf(ps, sizeof ps, "%d", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(h, ps, &hints, &res);
    if (gai != 0)
        return qv_fail(err, QV_E_INVALID, "cannot listen on '%s': %s", addr,
                       gai_strerror(gai));
    qv_code rc = QV_OK;
    for (struct addrinfo *ai = res; ai && rc == QV_OK; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0)
            continue;
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0)
            rc = qv_fail(err, errno == EADDRINUSE ? QV_E_UNAVAILABLE : QV_E_IO,
                         "cannot listen on '%s': %s", addr, strerror(errno));
        close(fd);
    }
    freeaddrinfo(res);
    return rc;
}

static void *cq_thread_main(void *arg);

static void request_stop(qv_rpc_server *s)
{
    pthread_mutex_lock(&s->stop_mu);
    atomic_store(&s->stop_requested, true);
    pthread_cond_broadcast(&s->stop_cv);
    pthread_mutex_unlock(&s->stop_mu);
}

/* inline_unary: thread i drains cqs[i] and runs the unary handlers of the
 * calls requested there; the main thread then only supervises (runs the
 * shutdown sequence), so a long handler can never hold up the grace period
 * and the cancellation. */
typedef struct cq_drainer {
    qv_rpc_server *s;
    grpc_completion_queue *cq;
} cq_drainer;

static void *cq_extra_main(void *arg)
{
    cq_drainer *d = arg;
    qv_rpc_server *s = d->s;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(
            d->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        if (ev.tag == &s->shutdown_tag)
            atomic_store(&s->notified, true);
        else
            qv_rpc__call_on_event(ev.tag, ev.success != 0);
    }
    return NULL;
}

/* How many queues (and draining threads) the server uses. */
static size_t queue_count(const qv_rpc_server *s)
{
    if (!s->opts.inline_unary)
        return 1;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    size_t n =
        s->opts.workers ? s->opts.workers : (ncpu > 0 ? (size_t)ncpu : 1);
    return n > 64 ? 64 : n;
}

static void start_extra_threads(qv_rpc_server *s)
{
    if (!s->opts.inline_unary)
        return;
    s->extra_threads = QV_NEW_ARRAY(pthread_t, s->n_cqs);
    s->drainers = QV_NEW_ARRAY(cq_drainer, s->n_cqs);
    for (size_t i = 0; i < s->n_cqs; i++) {
        s->drainers[i] = (cq_drainer){s, s->cqs[i]};
        if (pthread_create(&s->extra_threads[s->n_extra], NULL, cq_extra_main,
                           &s->drainers[i]) != 0)
            break;
        s->n_extra++;
    }
}

/* Shuts every queue down and drains it (none has a thread any more). */
static void drain_queues(qv_rpc_server *s, size_t from)
{
    for (size_t i = from; i < s->n_cqs; i++) {
        grpc_completion_queue_shutdown(s->cqs[i]);
        grpc_event ev;
        while ((ev = grpc_completion_queue_next(
                    s->cqs[i], gpr_inf_future(GPR_CLOCK_REALTIME), NULL))
                   .type != GRPC_QUEUE_SHUTDOWN) {
            if (ev.type == GRPC_OP_COMPLETE && ev.tag != &s->shutdown_tag)
                qv_rpc__call_on_event(ev.tag, ev.success != 0);
        }
    }
}

static void destroy_queues(qv_rpc_server *s)
{
    for (size_t i = 0; i < s->n_cqs; i++)
        grpc_completion_queue_destroy(s->cqs[i]);
    free(s->cqs);
    s->cqs = NULL;
    s->n_cqs = 0;
    s->cq = NULL;
}

static grpc_server *make_grpc_server(const qv_rpc_server_opts *o)
{
    grpc_arg a[6];
    memset(a, 0, sizeof a);
    const char *keys[6] = {
        GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
        GRPC_ARG_MAX_SEND_MESSAGE_LENGTH,
        GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS,
        GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
        GRPC_ARG_ALLOW_REUSEPORT,
        GRPC_ARG_HTTP2_MAX_PING_STRIKES};
    int vals[6] = {(int)limit_or_default(o->max_recv_bytes),
                   (int)limit_or_default(o->max_send_bytes),
                   1,
                   5000,
                   0,
                   0};
    for (int i = 0; i < 6; i++) {
        a[i].type = GRPC_ARG_INTEGER;
        a[i].key = (char *)keys[i];
        a[i].value.integer = vals[i];
    }
    grpc_channel_args args = {.num_args = 6, .args = a};
    return grpc_server_create(&args, NULL);
}

qv_code qv_rpc_server_start(qv_rpc_server *s, qv_err *err)
{
    if (s->started)
        return qv_fail(err, QV_E_INVALID,
                       "rpc server on '%s' already "
                       "started",
                       s->addr);
    bool v6 = strchr(s->host, ':') && s->host[0] != '[';
    (void)snprintf(s->addr, sizeof s->addr, v6 ? "[%s]:%d" : "%s:%d", s->host,
                   s->opts.port);
    qv_code rc = probe_bind(s->host, s->opts.port, s->addr, err);
    if (rc != QV_OK)
        return rc;
    rc = qv_pool_create(s->opts.workers, s->opts.queue_cap, "rpc", &s->pool,
                        err);
    if (rc != QV_OK)
        return qv_err_prefix(err, "rpc server on '%s'", s->addr);
    qv_rpc__grpc_init();
    s->server = make_grpc_server(&s->opts);
    s->n_cqs = queue_count(s);
    s->cqs = QV_NEW_ARRAY(grpc_completion_queue *, s->n_cqs);
    for (size_t i = 0; i < s->n_cqs; i++) {
        s->cqs[i] = grpc_completion_queue_create_for_next(NULL);
        grpc_server_register_completion_queue(s->server, s->cqs[i], NULL);
    }
    s->cq = s->cqs[0];
    grpc_server_credentials *sc = NULL;
    rc = qv_rpc__server_creds(&s->opts, &sc, err);
    s->port =
        rc == QV_OK ? grpc_server_add_http2_port(s->server, s->addr, sc) : 0;
    if (sc)
        grpc_server_credentials_release(sc);
    if (s->port <= 0) {
        s->port = 0;
        grpc_server_destroy(s->server);
        drain_queues(s, 0);
        destroy_queues(s);
        s->server = NULL;
        grpc_shutdown();
        qv_pool_destroy(s->pool);
        s->pool = NULL;
        if (rc != QV_OK)
            return qv_err_prefix(err, "rpc server on '%s'", s->addr);
        return qv_fail(err, QV_E_UNAVAILABLE,
                       "cannot listen on '%s': address in use or not "
                       "available",
                       s->addr);
    }
    (void)snprintf(s->addr, sizeof s->addr, v6 ? "[%s]:%d" : "%s:%d", s->host,
                   s->port);
    qsort(s->methods, s->n_methods, sizeof(*s->methods), cmp_method);
    /* The draining threads first (before any call can arrive): n_extra
     * decides the main thread's job. */
    start_extra_threads(s);
    if (s->opts.inline_unary && s->n_extra < s->n_cqs) {
        for (size_t i = 0; i < s->n_cqs; i++)
            grpc_completion_queue_shutdown(s->cqs[i]);
        for (size_t i = 0; i < s->n_extra; i++)
            pthread_join(s->extra_threads[i], NULL);
        s->n_extra = 0;
        grpc_server_destroy(s->server);
        drain_queues(s, 0);
        destroy_queues(s);
        s->server = NULL;
        grpc_shutdown();
        qv_pool_destroy(s->pool);
        s->pool = NULL;
        return qv_fail(err, QV_E_NOMEM,
                       "rpc server on '%s': cannot start its threads", s->addr);
    }
    grpc_server_start(s->server);
    s->started = true;
    /* inline: one pending request per queue (see on_new in rpc_call.c) */
    int pending = s->opts.inline_unary ? 1 : PENDING_ACCEPTS;
    for (size_t q = 0; q < s->n_cqs; q++)
        for (int i = 0; i < pending; i++)
            qv_rpc__call_request_new(s, s->cqs[q]);
    if (pthread_create(&s->cq_thread, NULL, cq_thread_main, s) != 0) {
        request_stop(s);
        /* Without the thread nothing drains the queue: cancel and drain
         * here. */
        cq_thread_main(s);
        for (size_t i = 0; i < s->n_extra; i++)
            pthread_join(s->extra_threads[i], NULL);
        drain_queues(s, s->n_extra);
        s->n_extra = 0;
        return qv_fail(err, QV_E_NOMEM,
                       "rpc server on '%s': cannot start "
                       "its thread",
                       s->addr);
    }
    s->thread_running = true;
    qv_rpc__local_add(s);
    QV_LOG(QV_LOG_INFO, "rpc", "serving %zu methods on %s", s->n_methods,
           s->addr);
    return QV_OK;
}

int qv_rpc_server_port(const qv_rpc_server *s)
{
    return s->port;
}

void qv_rpc_server_advertise(const qv_rpc_server *s, const char *advertise,
                             char *buf, size_t cap)
{
    if (advertise && advertise[0]) {
        snprintf(buf, cap, "%s", advertise);
        return;
    }
    const char *h = s->host;
    bool any = strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0 ||
               strcmp(h, "[::]") == 0;
    snprintf(buf, cap, "%s:%d", any ? "127.0.0.1" : h, s->port);
}

static int64_t mono_ms(void)
{
    gpr_timespec t = gpr_now(GPR_CLOCK_MONOTONIC);
    return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The completion-queue loop: advances calls, and once stop is requested
 * runs the shutdown sequence (stop accepting, grace, cancel, drain). */
static void *cq_thread_main(void *arg)
{
    qv_rpc_server *s = arg;
    bool shutting = false, cq_down = false;
    int64_t grace_end = 0;
    for (;;) {
        grpc_event ev = {.type = GRPC_QUEUE_TIMEOUT};
        if (s->n_extra == 0) {
            ev = grpc_completion_queue_next(
                s->cq, qv_rpc__deadline_in(CQ_POLL_MS), NULL);
        } else if (cq_down) {
            break; /* the draining threads see the queue's end */
        } else if (!shutting) {
            /* nothing to do until a stop is asked for */
            pthread_mutex_lock(&s->stop_mu);
            while (!atomic_load(&s->stop_requested))
                pthread_cond_wait(&s->stop_cv, &s->stop_mu);
            pthread_mutex_unlock(&s->stop_mu);
        } else {
            struct timespec ts = {0, 10L * 1000000};
            nanosleep(&ts, NULL);
        }
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type == GRPC_OP_COMPLETE) {
            if (ev.tag == &s->shutdown_tag)
                atomic_store(&s->notified, true);
            else
                qv_rpc__call_on_event(ev.tag, ev.success != 0);
        }
        if (!shutting && atomic_load(&s->stop_requested)) {
            shutting = true;
            grace_end = mono_ms() + s->opts.shutdown_grace_ms;
            grpc_server_shutdown_and_notify(s->server, s->cq, &s->shutdown_tag);
        }
        if (shutting && !atomic_load(&s->cancel_all) &&
            mono_ms() >= grace_end) {
            QV_LOG(QV_LOG_WARN, "rpc",
                   "%ld calls still running on %s after the grace "
                   "period; cancelling them",
                   atomic_load(&s->inflight), s->addr);
            atomic_store(&s->cancel_all, true);
            grpc_server_cancel_all_calls(s->server);
        }
        if (atomic_load(&s->notified) && !cq_down &&
            atomic_load(&s->inflight) == 0) {
            cq_down = true;
            for (size_t i = 0; i < s->n_cqs; i++)
                grpc_completion_queue_shutdown(s->cqs[i]);
        }
    }
    return NULL;
}

void qv_rpc_server_shutdown(qv_rpc_server *s)
{
    pthread_mutex_lock(&s->life_mu);
    if (s->started && !s->destroyed_grpc) {
        qv_rpc__local_remove(s);
        request_stop(s);
        if (s->thread_running) {
            pthread_join(s->cq_thread, NULL);
            for (size_t i = 0; i < s->n_extra; i++)
                pthread_join(s->extra_threads[i], NULL);
            s->n_extra = 0;
            s->thread_running = false;
        }
        grpc_server_destroy(s->server);
        destroy_queues(s);
        s->server = NULL;
        s->destroyed_grpc = true;
        qv_pool_destroy(s->pool);
        s->pool = NULL;
        grpc_shutdown();
        QV_LOG(QV_LOG_INFO, "rpc", "server on %s stopped", s->addr);
    }
    pthread_mutex_unlock(&s->life_mu);
}

void qv_rpc_server_destroy(qv_rpc_server *s)
{
    if (!s)
        return;
    qv_rpc_server_shutdown(s);
    for (size_t i = 0; i < s->n_methods; i++)
        free(s->methods[i].name);
    free(s->methods);
    free(s->extra_threads);
    free(s->drainers);
    free(s->host);
    free(s->tls_cert);
    free(s->tls_key);
    free(s->tls_ca);
    pthread_mutex_destroy(&s->life_mu);
    pthread_mutex_destroy(&s->stop_mu);
    pthread_cond_destroy(&s->stop_cv);
    free(s);
}
